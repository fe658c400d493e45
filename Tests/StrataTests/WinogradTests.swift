import Foundation
import XCTest

@testable import StrataCore
@testable import StrataNN

/// conv2d's Winograd F(2x2, 3x3) and F(4x4, 3x3) paths against the plain Double convolution
/// of ConvTests (`NaiveConv`) and against finite differences.
final class WinogradTests: XCTestCase {
    override func tearDown() {
        ConvTuning.forcedWinograd = nil
        Winograd.forcedISA = nil
        Winograd.forcedTile = nil
        Threading.count = ProcessInfo.processInfo.activeProcessorCount
        super.tearDown()
    }

    /// Shape classes: odd and even planes (a last tile half outside), 1x1
    /// and 1xW planes, batch 1, channel counts off the kernel's blocks of 4,
    /// small planes whose samples share a chunk (batch not a multiple of
    /// the chunk), a plane whose tiles fill several blocks of 64, a batch
    /// whose weight gradient takes several chunks (in slots, summed in order),
    /// channel counts whose products take register blocks of 6 rows and
    /// of 4 (12, 16, 20 and 36 rows).
    /// Each runs with both tile sizes: the comments give F(2x2)'s view;
    /// F(4x4)'s rows are split 16 floats at a time (widths 16, 24, 32, 48)
    /// with a tail one float at a time, or read through a copy padded to a
    /// block of 16 (widths 13-15 past a multiple of 16: 14, 13, 30, 47),
    /// and a plane not a multiple of 4 leaves a last row or column of tiles
    /// partly outside.
    private static let cases: [ConvCase] = [
        ConvCase(n: 2, c: 3, h: 7, w: 9, o: 5, padding: 1),
        ConvCase(n: 1, c: 5, h: 8, w: 8, o: 7, padding: 1, bias: false),
        ConvCase(n: 3, c: 2, h: 1, w: 1, o: 3, padding: 1),
        ConvCase(n: 2, c: 4, h: 1, w: 6, o: 2, padding: 1, bias: false),
        ConvCase(n: 2, c: 1, h: 5, w: 2, o: 1, padding: 1),
        ConvCase(n: 5, c: 6, h: 8, w: 8, o: 9, padding: 1),  // 16 tiles a sample: chunks of 4 samples, one partial
        ConvCase(n: 5, c: 8, h: 6, w: 5, o: 8, padding: 1, bias: false),
        ConvCase(n: 2, c: 3, h: 18, w: 17, o: 4, padding: 1),  // 81 tiles a sample
        ConvCase(n: 9, c: 2, h: 16, w: 16, o: 3, padding: 1),  // weight gradient: chunks of 8 samples, one partial
        ConvCase(n: 2, c: 3, h: 5, w: 24, o: 4, padding: 1),  // width a multiple of 8: rows split 8 floats at a time
        ConvCase(n: 2, c: 3, h: 5, w: 14, o: 4, padding: 1),  // 7 pairs a row: 4 at a time, the last 4 overlapping
        ConvCase(n: 2, c: 2, h: 7, w: 11, o: 3, padding: 1),  // odd width, 5 pairs a row
        ConvCase(n: 1, c: 34, h: 4, w: 4, o: 33, padding: 1),  // kernel transforms split over two workers, zero rows past 33 and 34
        ConvCase(n: 2, c: 19, h: 6, w: 8, o: 14, padding: 1),  // products' row blocks: 16 rows as 6 + 6 + 4, 20 as 6 + 6 + 4 + 4
        ConvCase(n: 2, c: 2, h: 6, w: 6, o: 3, padding: .same),  // same as padding 1
        ConvCase(n: 5, c: 3, h: 32, w: 32, o: 5, padding: 1),  // F(4x4): 64 tiles a sample, weight gradient in 2 chunks
        ConvCase(n: 1, c: 2, h: 13, w: 48, o: 3, padding: 1, bias: false),  // F(4x4): 3 blocks of 16, 13 rows
        ConvCase(n: 9, c: 5, h: 12, w: 8, o: 6, padding: 1),  // F(4x4), 8 wide: groups of 4 samples, one of 1
        ConvCase(n: 3, c: 2, h: 5, w: 8, o: 3, padding: 1, bias: false),  // F(4x4), 8 wide: a group of 3, rows outside
        ConvCase(n: 3, c: 4, h: 14, w: 14, o: 5, padding: 1),  // F(4x4): rows read padded to 16, written by a masked store
        ConvCase(n: 2, c: 3, h: 9, w: 13, o: 2, padding: 1, bias: false),  // F(4x4): 13 of 16 floats
        ConvCase(n: 2, c: 2, h: 8, w: 30, o: 3, padding: 1),  // F(4x4): padded to 32, AVX-512's split 32 floats at a time
        ConvCase(n: 1, c: 2, h: 6, w: 47, o: 2, padding: 1, bias: false),  // F(4x4): two whole blocks, a third padded
        ConvCase(n: 2, c: 3, h: 13, w: 16, o: 2, padding: 1),  // F(4x4), AVX2: rows 16 wide in pairs 4 apart, some alone
        ConvCase(n: 1, c: 2, h: 6, w: 64, o: 3, padding: 1, bias: false),  // F(4x4), AVX2: rows in runs of 32, carried across
    ]

    private func layerAndInput(_ cs: ConvCase, seed: UInt64) -> (Conv2d, Tensor, RandomGenerator) {
        let gen = RandomGenerator(seed: seed)
        let layer = Conv2d(
            inputChannels: cs.c, outputChannels: cs.o, kernelSize: cs.kernel, stride: cs.stride,
            padding: cs.padding, dilation: cs.dilation, groups: cs.groups, bias: cs.bias, generator: gen)
        return (layer, Tensor.randn([cs.n, cs.c, cs.h, cs.w], generator: gen, requiresGrad: true), gen)
    }

    func testEveryShapeClassTakesWinogradAndMatchesTheNaiveConvolution() throws {
        // Every variant this CPU runs: AVX-512, AVX2 and the baseline's 4-wide vectors.
        let variants = [Int32(16), 8, 4].filter { $0 <= Winograd.isa }
        ConvTuning.forcedWinograd = true  // also below the automatic choice's 8 channels
        let runs = [2, 4].flatMap { tile in [1, 2].flatMap { t in variants.map { (tile, t, $0) } } }
        for (tile, threads, variant) in runs {
            Winograd.forcedTile = tile
            Threading.count = threads
            Winograd.forcedISA = variant
            for (i, cs) in Self.cases.enumerated() {
                let (layer, x, gen) = layerAndInput(cs, seed: UInt64(300 + i))
                let g = try convGeometry(
                    op: "test", inputShape: x.shape, weightShape: layer.weight.shape,
                    stride: cs.stride, padding: cs.padding, dilation: cs.dilation, groups: cs.groups)
                XCTAssertTrue(ConvTuning.winograd(ConvPlan(geometry: g, batch: cs.n, outChannels: cs.o, groups: 1)), "\(cs)")
                let naive = NaiveConv(cs)
                let y = layer(x)
                let label = "\(cs), F(\(tile)x\(tile)), \(threads) threads, vectors of \(variant)"
                // F(4x4) rounds about 20 times more than F(2x2): 3e-6 to 7e-6 of
                // the tensor's largest magnitude (measured on 32x32 and 16x16
                // planes, 3 to 64 channels), against F(2x2)'s 2e-7 to 4e-7.
                func check(_ actual: [Float], _ expected: [Float], _ what: String) {
                    let scale = expected.map { abs($0) }.max() ?? 0
                    let atol = tile == 4 ? max(1e-4, 2e-5 * scale) : 1e-4
                    assertClose(actual, expected, rtol: 1e-4, atol: atol, "\(what) \(label)")
                }
                check(y.scalars, naive.forward(x: x.scalars, w: layer.weight.scalars, b: layer.bias?.scalars), "forward")
                let gy = Tensor.randn(y.shape, generator: gen)
                y.backward(gy)
                let (dx, dw, db) = naive.backward(x: x.scalars, w: layer.weight.scalars, g: gy.scalars)
                check(x.grad?.scalars ?? [], dx, "dx")
                check(layer.weight.grad?.scalars ?? [], dw, "dweight")
                if let b = layer.bias { check(b.grad?.scalars ?? [], db, "dbias") }
            }
        }
    }

    func testWinogradAndIm2colAgreeAndGradientsAccumulate() {
        // The same call with Winograd on and off; then a second backward
        // adds to x.grad and weight.grad instead of overwriting them.
        // 14 wide: F(4x4) adds into x.grad through its masked store.
        for cs in [ConvCase(n: 3, c: 5, h: 10, w: 9, o: 6, padding: 1), ConvCase(n: 2, c: 4, h: 7, w: 14, o: 3, padding: 1)] {
            agreeAndAccumulate(cs)
        }
    }

    private func agreeAndAccumulate(_ cs: ConvCase) {
        var results: [[Float]] = []
        for (on, tile) in [(true, 2), (true, 4), (false, 2)] {
            ConvTuning.forcedWinograd = on
            Winograd.forcedTile = tile
            let (layer, x, gen) = layerAndInput(cs, seed: 41)
            let y = layer(x)
            let gy = Tensor.randn(y.shape, generator: gen)
            y.backward(gy)
            let (dx1, dw1) = (x.grad!.scalars, layer.weight.grad!.scalars)
            layer(x).backward(gy)
            assertClose(x.grad!.scalars, dx1.map { 2 * $0 }, rtol: 1e-5, atol: 1e-5, "winograd \(on): dx accumulates")
            assertClose(layer.weight.grad!.scalars, dw1.map { 2 * $0 }, rtol: 1e-5, atol: 1e-5, "winograd \(on): dW accumulates")
            results.append(y.scalars + dx1 + layer.weight.grad!.scalars.map { $0 / 2 })
        }
        assertClose(results[0], results[2], rtol: 1e-5, atol: 1e-5, "\(cs): F(2x2) against im2col")
        assertClose(results[1], results[2], rtol: 1e-4, atol: 1e-4, "\(cs): F(4x4) against im2col")
    }

    func testGradientsAreTheSameBitsForAnyThreadCount() {
        // The weight gradient sums over chunks of samples taken by whichever
        // worker is free; its order of summation must not depend on that.
        // 9 samples of 32x32: 3 chunks for F(4x4) (4 samples each), 5 for
        // F(2x2) (2 each), over 1, 2 and 3 workers, each run twice.
        ConvTuning.forcedWinograd = true
        let cs = ConvCase(n: 9, c: 3, h: 32, w: 32, o: 4, padding: 1)
        for tile in [2, 4] {
            Winograd.forcedTile = tile
            var first: [Float]?
            for threads in [1, 2, 3, 2, 1] {
                Threading.count = threads
                let (layer, x, gen) = layerAndInput(cs, seed: 77)
                let y = layer(x)
                y.backward(Tensor.randn(y.shape, generator: gen))
                let bits = (layer.weight.grad?.scalars ?? []) + (x.grad?.scalars ?? []) + y.scalars
                XCTAssertFalse(bits.isEmpty)
                if let f = first {
                    XCTAssertEqual(bits.map(\.bitPattern), f.map(\.bitPattern), "F(\(tile)x\(tile)), \(threads) threads")
                } else {
                    first = bits
                }
            }
        }
    }

    func testAutomaticChoice() throws {
        // On for 3x3 / stride 1 / padding 1 / one group from 8 channels on
        // each side; off below, and for any other geometry.
        func chosen(c: Int, o: Int, stride: Int = 1, padding: Int = 1, groups: Int = 1, dilation: Int = 1) throws -> Bool {
            let g = try convGeometry(
                op: "test", inputShape: [2, c, 9, 8], weightShape: [o, c / groups, 3, 3],
                stride: Size2(stride), padding: .explicit(Size2(padding)), dilation: Size2(dilation), groups: groups)
            return ConvTuning.winograd(ConvPlan(geometry: g, batch: 2, outChannels: o, groups: groups))
        }
        XCTAssertTrue(try chosen(c: 8, o: 8))
        XCTAssertTrue(try chosen(c: 64, o: 16))
        XCTAssertFalse(try chosen(c: 3, o: 16))
        XCTAssertFalse(try chosen(c: 16, o: 4))
        XCTAssertFalse(try chosen(c: 16, o: 16, stride: 2))
        XCTAssertFalse(try chosen(c: 16, o: 16, padding: 0))
        XCTAssertFalse(try chosen(c: 16, o: 16, padding: 2))
        XCTAssertFalse(try chosen(c: 16, o: 16, padding: 2, dilation: 2))
        XCTAssertFalse(try chosen(c: 16, o: 16, groups: 2))
        ConvTuning.forcedWinograd = false
        XCTAssertFalse(try chosen(c: 16, o: 16))
        ConvTuning.forcedWinograd = true
        XCTAssertTrue(try chosen(c: 1, o: 1))
        // F(4x4) from 8 rows (a multiple of 4) for widths a multiple of 16
        // or 8, and from 24 rows and columns for other multiples of 4; from
        // 8 rows of any height for widths 13-15 past a multiple of 16.
        XCTAssertEqual(Winograd.tile(height: 32, width: 32), 4)
        XCTAssertEqual(Winograd.tile(height: 20, width: 16), 4)
        XCTAssertEqual(Winograd.tile(height: 16, width: 20), 2)
        XCTAssertEqual(Winograd.tile(height: 8, width: 8), 4)
        XCTAssertEqual(Winograd.tile(height: 12, width: 8), 4)
        XCTAssertEqual(Winograd.tile(height: 4, width: 8), 2)
        XCTAssertEqual(Winograd.tile(height: 8, width: 16), 4)
        XCTAssertEqual(Winograd.tile(height: 4, width: 16), 2)
        XCTAssertEqual(Winograd.tile(height: 28, width: 28), 4)
        XCTAssertEqual(Winograd.tile(height: 24, width: 28), 4)
        XCTAssertEqual(Winograd.tile(height: 16, width: 28), 2)
        XCTAssertEqual(Winograd.tile(height: 28, width: 26), 2)
        XCTAssertEqual(Winograd.tile(height: 12, width: 12), 2)
        XCTAssertEqual(Winograd.tile(height: 14, width: 14), 4)
        XCTAssertEqual(Winograd.tile(height: 9, width: 30), 4)
        XCTAssertEqual(Winograd.tile(height: 8, width: 13), 4)
        XCTAssertEqual(Winograd.tile(height: 7, width: 14), 2)
        XCTAssertEqual(Winograd.tile(height: 14, width: 12), 2)
        XCTAssertEqual(Winograd.tile(height: 14, width: 270), 2)
        XCTAssertEqual(Winograd.tile(height: 18, width: 32), 2)
    }

    func testFiniteDifferences() {
        ConvTuning.forcedWinograd = true
        for tile in [2, 4] {
            Winograd.forcedTile = tile
            for (i, (c, o, shape)) in [(2, 3, [2, 2, 5, 4]), (3, 2, [1, 3, 4, 4])].enumerated() {
                let layer = Conv2d(c, o, kernelSize: 3, padding: 1, generator: RandomGenerator(seed: UInt64(50 + i)))
                assertGradCheck(
                    gradCheck(layer, input: randomAwayFromZero(shape, seed: UInt64(60 + i))), "F(\(tile)x\(tile)) \(shape)")
            }
        }
    }
}
