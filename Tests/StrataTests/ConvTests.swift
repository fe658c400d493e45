import CKernels
import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// One convolution configuration for the naive-vs-fast comparison.
struct ConvCase: CustomStringConvertible {
    var n = 2, c = 3, h = 7, w = 6, o = 4
    var kernel: Size2 = 3, stride: Size2 = 1, padding: ConvPadding = 0, dilation: Size2 = 1
    var groups = 1, bias = true
    var description: String {
        "x [\(n), \(c), \(h), \(w)] -> \(o), k \(kernel) s \(stride) p \(padding) d \(dilation) g \(groups) bias \(bias)"
    }
}

/// Direct convolution in Double, written plainly (the oracle for the im2col path).
struct NaiveConv {
    let cs: ConvCase
    let top: Int, left: Int, outH: Int, outW: Int

    init(_ cs: ConvCase) {
        self.cs = cs
        let (kh, kw, dh, dw) = (cs.kernel.height, cs.kernel.width, cs.dilation.height, cs.dilation.width)
        var (t, l, b, r) = (0, 0, 0, 0)
        switch cs.padding {
        case .explicit(let p): (t, l, b, r) = (p.height, p.width, p.height, p.width)
        case .valid: break
        case .same:
            // PyTorch: total dilation*(k-1), the odd one out at the bottom/right.
            let th = dh * (kh - 1), tw = dw * (kw - 1)
            (t, l, b, r) = (th / 2, tw / 2, th - th / 2, tw - tw / 2)
        }
        top = t; left = l
        outH = (cs.h + t + b - dh * (kh - 1) - 1) / cs.stride.height + 1
        outW = (cs.w + l + r - dw * (kw - 1) - 1) / cs.stride.width + 1
    }

    /// Calls `body(n, o, oy, ox, c, ky, kx, iy, ix)` for every product term
    /// x[n, c, iy, ix] * w[o, c % (C/G), ky, kx] that lands inside the input.
    func forEachTerm(_ body: (Int, Int, Int, Int, Int, Int, Int, Int, Int) -> Void) {
        let cg = cs.c / cs.groups, og = cs.o / cs.groups
        for n in 0..<cs.n {
            for o in 0..<cs.o {
                for oy in 0..<outH {
                    for ox in 0..<outW {
                        for ci in 0..<cg {
                            for ky in 0..<cs.kernel.height {
                                for kx in 0..<cs.kernel.width {
                                    let iy = oy * cs.stride.height - top + ky * cs.dilation.height
                                    let ix = ox * cs.stride.width - left + kx * cs.dilation.width
                                    if iy < 0 || iy >= cs.h || ix < 0 || ix >= cs.w { continue }
                                    body(n, o, oy, ox, (o / og) * cg + ci, ky, kx, iy, ix)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func forward(x: [Float], w: [Float], b: [Float]?) -> [Float] {
        var y = [Double](repeating: 0, count: cs.n * cs.o * outH * outW)
        let cg = cs.c / cs.groups, (kh, kw) = (cs.kernel.height, cs.kernel.width)
        forEachTerm { n, o, oy, ox, c, ky, kx, iy, ix in
            let wi = ((o * cg + c % cg) * kh + ky) * kw + kx
            y[((n * cs.o + o) * outH + oy) * outW + ox] += Double(x[((n * cs.c + c) * cs.h + iy) * cs.w + ix]) * Double(w[wi])
        }
        if let b {
            for i in y.indices { y[i] += Double(b[(i / (outH * outW)) % cs.o]) }
        }
        return y.map { Float($0) }
    }

    func backward(x: [Float], w: [Float], g: [Float]) -> (dx: [Float], dw: [Float], db: [Float]) {
        var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
        var db = [Double](repeating: 0, count: cs.o)
        let cg = cs.c / cs.groups, (kh, kw) = (cs.kernel.height, cs.kernel.width)
        forEachTerm { n, o, oy, ox, c, ky, kx, iy, ix in
            let wi = ((o * cg + c % cg) * kh + ky) * kw + kx
            let xi = ((n * cs.c + c) * cs.h + iy) * cs.w + ix
            let gv = Double(g[((n * cs.o + o) * outH + oy) * outW + ox])
            dx[xi] += gv * Double(w[wi])
            dw[wi] += gv * Double(x[xi])
        }
        for (i, v) in g.enumerated() { db[(i / (outH * outW)) % cs.o] += Double(v) }
        return (dx.map { Float($0) }, dw.map { Float($0) }, db.map { Float($0) })
    }
}

final class ConvTests: XCTestCase {
    override func tearDown() {
        ConvTuning.forced = nil
        ConvTuning.forcedTransposedWeightGradient = nil
        Threading.count = ProcessInfo.processInfo.activeProcessorCount
        super.tearDown()
    }

    private static let cases: [ConvCase] = [
        ConvCase(),  // valid 3x3
        ConvCase(n: 1, c: 3, h: 9, w: 9, o: 5, padding: 1),  // batch 1, padding
        ConvCase(n: 3, c: 2, h: 11, w: 7, o: 4, stride: 2),  // odd sizes, stride 2
        ConvCase(n: 2, c: 3, h: 10, w: 9, o: 2, kernel: 3, stride: 2, padding: 1, bias: false),
        ConvCase(n: 2, c: 2, h: 12, w: 10, o: 3, padding: 2, dilation: 2),  // dilation 2
        ConvCase(n: 2, c: 4, h: 8, w: 8, o: 6, padding: 1, groups: 2),  // groups 2
        ConvCase(n: 2, c: 4, h: 9, w: 7, o: 4, stride: 2, padding: 1, groups: 4),  // depthwise
        ConvCase(n: 2, c: 3, h: 6, w: 9, o: 6, kernel: 3, padding: 1, groups: 3, bias: false),  // depthwise x2
        ConvCase(n: 2, c: 3, h: 8, w: 11, o: 4, kernel: [3, 5], stride: [2, 1], padding: [1, 2]),  // non-square
        ConvCase(n: 2, c: 3, h: 5, w: 13, o: 2, kernel: [1, 3], dilation: [1, 3]),
        ConvCase(n: 3, c: 5, h: 4, w: 6, o: 7, kernel: 1),  // 1x1 pointwise
        ConvCase(n: 2, c: 4, h: 5, w: 5, o: 2, kernel: 1, groups: 2, bias: false),  // 1x1 grouped
        ConvCase(n: 2, c: 3, h: 7, w: 7, o: 2, kernel: 1, stride: 2),  // 1x1 strided (im2col)
        // Stride 2 across rows long enough for the shuffled copies: 17
        // columns out (blocks of 4 and a shifted last block), 8 (whole blocks).
        ConvCase(n: 2, c: 2, h: 5, w: 33, o: 3, kernel: 3, stride: 2, padding: 1),
        ConvCase(n: 2, c: 3, h: 4, w: 16, o: 2, kernel: 1, stride: 2, bias: false),
        ConvCase(n: 2, c: 2, h: 7, w: 6, o: 3, kernel: 3, padding: .same),  // same, odd kernel
        ConvCase(n: 2, c: 2, h: 6, w: 7, o: 3, kernel: [4, 2], padding: .same),  // same, even kernel
        ConvCase(n: 1, c: 2, h: 6, w: 8, o: 2, kernel: 2, padding: .same, dilation: [2, 3]),
        ConvCase(n: 2, c: 2, h: 7, w: 5, o: 3, kernel: [3, 1]),  // full-width rows, fewer rows out
        ConvCase(n: 2, c: 1, h: 5, w: 5, o: 3, kernel: 5, padding: .valid),  // kernel = input
        ConvCase(n: 5, c: 1, h: 6, w: 6, o: 8, kernel: 3, padding: 1),  // conv1-like
        // Stride 1: ResNet-like (channels not a multiple of any block size),
        // batch 1, padding beyond the dilated kernel, asymmetric.
        ConvCase(n: 3, c: 5, h: 8, w: 8, o: 5, padding: 1, bias: false),
        ConvCase(n: 1, c: 7, h: 5, w: 6, o: 3, kernel: 3, padding: 2),
        ConvCase(n: 2, c: 2, h: 5, w: 5, o: 3, kernel: 3, padding: 3),
        ConvCase(n: 2, c: 3, h: 6, w: 7, o: 2, kernel: [3, 2], padding: [0, 1], dilation: [1, 2]),
    ]

    /// Runs one case through the library with the current strategy and thread count.
    private func check(_ cs: ConvCase, seed: UInt64, _ label: String) {
        let gen = RandomGenerator(seed: seed)
        let layer = Conv2d(
            inputChannels: cs.c, outputChannels: cs.o, kernelSize: cs.kernel, stride: cs.stride,
            padding: cs.padding, dilation: cs.dilation, groups: cs.groups, bias: cs.bias, generator: gen)
        let x = Tensor.randn([cs.n, cs.c, cs.h, cs.w], generator: gen, requiresGrad: true)
        let naive = NaiveConv(cs)
        let y = layer(x)
        XCTAssertEqual(y.shape, [cs.n, cs.o, naive.outH, naive.outW], "\(cs) \(label)")
        let expected = naive.forward(x: x.scalars, w: layer.weight.scalars, b: layer.bias?.scalars)
        assertClose(y.scalars, expected, rtol: 1e-4, atol: 1e-4, "forward \(cs) \(label)")
        let g = Tensor.randn(y.shape, generator: gen)
        y.backward(g)
        let (dx, dw, db) = naive.backward(x: x.scalars, w: layer.weight.scalars, g: g.scalars)
        assertClose(x.grad?.scalars ?? [], dx, rtol: 1e-4, atol: 1e-4, "dx \(cs) \(label)")
        assertClose(layer.weight.grad?.scalars ?? [], dw, rtol: 1e-4, atol: 1e-4, "dweight \(cs) \(label)")
        if let b = layer.bias { assertClose(b.grad?.scalars ?? [], db, rtol: 1e-4, atol: 1e-4, "dbias \(cs) \(label)") }
    }

    func testFastPathsMatchNaiveConvolutionOnManyShapes() {
        for threads in [1, 2] {
            Threading.count = threads
            for strategy in [ConvStrategy.perSample, .batched] {
                ConvTuning.forced = strategy
                // Per sample, the weight gradient in both orientations (G col^T and col G^T).
                for transposed in strategy == .perSample ? [false, true] : [false] {
                    ConvTuning.forcedTransposedWeightGradient = transposed
                    for (i, cs) in Self.cases.enumerated() {
                        check(cs, seed: UInt64(100 + i), "\(strategy), dW transposed \(transposed), \(threads) threads")
                    }
                }
            }
        }
        ConvTuning.forced = nil
        ConvTuning.forcedTransposedWeightGradient = nil
        for (i, cs) in Self.cases.enumerated() { check(cs, seed: UInt64(200 + i), "automatic strategy") }
    }

    func testEvenFloatCopiesMatchPlainLoops() {
        // strata_gather_even / strata_scatter_add_even against the strided
        // loops, on buffers exactly as long as the floats they may touch.
        for count in 0...21 {
            let span = max(0, 2 * count - 1)
            let src = (0..<span).map { Float($0) * 0.5 - 3 }
            var gathered = [Float](repeating: -9, count: count)
            src.withUnsafeBufferPointer { s in
                gathered.withUnsafeMutableBufferPointer { d in
                    if count > 0 { strata_gather_even(s.baseAddress!, 0, d.baseAddress!, 0, 1, Int64(count)) }
                }
            }
            XCTAssertEqual(gathered, (0..<count).map { src[2 * $0] }, "gather \(count)")
            let add = (0..<count).map { Float($0) + 0.25 }
            var dst = src, expected = src
            for j in 0..<count { expected[2 * j] += add[j] }
            add.withUnsafeBufferPointer { a in
                dst.withUnsafeMutableBufferPointer { d in
                    if count > 0 { strata_scatter_add_even(a.baseAddress!, 0, d.baseAddress!, 0, 1, Int64(count)) }
                }
            }
            XCTAssertEqual(dst, expected, "scatter-add \(count)")
        }
    }

    func testGradientsAccumulateAcrossCalls() {
        // Two backward passes add up, for the input and the parameters, on
        // the im2col path and the pointwise path, with both strategies.
        for (strategy, transposed) in [(ConvStrategy.perSample, false), (.perSample, true), (.batched, false)] {
            ConvTuning.forced = strategy
            ConvTuning.forcedTransposedWeightGradient = transposed
            for kernel in [Size2(3), Size2(1)] {
                let layer = Conv2d(2, 3, kernelSize: kernel, padding: kernel == 3 ? 1 : 0, generator: RandomGenerator(seed: 5))
                let x = Tensor.randn([2, 2, 5, 5], generator: RandomGenerator(seed: 6), requiresGrad: true)
                let g = Tensor.randn([2, 3, 5, 5], generator: RandomGenerator(seed: 7))
                layer(x).backward(g)
                let (dx1, dw1, db1) = (x.grad!.scalars, layer.weight.grad!.scalars, layer.bias!.grad!.scalars)
                layer(x).backward(g)
                let label = "\(strategy) dW transposed \(transposed) kernel \(kernel)"
                assertClose(x.grad!.scalars, dx1.map { 2 * $0 }, rtol: 1e-5, atol: 1e-5, label)
                assertClose(layer.weight.grad!.scalars, dw1.map { 2 * $0 }, rtol: 1e-5, atol: 1e-5, label)
                assertClose(layer.bias!.grad!.scalars, db1.map { 2 * $0 }, rtol: 1e-5, atol: 1e-5, label)
            }
        }
    }

    func testGradCheck() {
        let configs: [(Conv2d, [Int])] = [
            (Conv2d(2, 3, kernelSize: 3, stride: 2, padding: 1, generator: RandomGenerator(seed: 1)), [2, 2, 5, 6]),
            (
                Conv2d(4, 4, kernelSize: [2, 3], padding: .same, dilation: [2, 1], groups: 2, generator: RandomGenerator(seed: 2)),
                [1, 4, 4, 5]
            ),
            (Conv2d(3, 2, kernelSize: 1, bias: false, generator: RandomGenerator(seed: 3)), [2, 3, 3, 3]),
        ]
        for (i, (layer, shape)) in configs.enumerated() {
            assertGradCheck(gradCheck(layer, input: randomAwayFromZero(shape, seed: UInt64(30 + i))), "\(layer.name)")
        }
    }

    func testMatchesPyTorch() throws {
        let fixture = try loadFixture("conv")
        for name in ["basic", "strided_grouped", "same_even", "depthwise_nobias", "pointwise"] {
            let f = try XCTUnwrap(fixture["conv_" + name] as? [String: Any], name)
            let xs = ints(f["x_shape"]), k = ints(f["kernel"]), s = ints(f["stride"]), d = ints(f["dilation"])
            let padding: ConvPadding =
                (f["padding"] as? String) == "same" ? .same : .explicit(Size2(ints(f["padding"])[0], ints(f["padding"])[1]))
            let hasBias = f["bias"] != nil
            let layer = Conv2d(
                inputChannels: xs[1], outputChannels: f["out_channels"] as! Int, kernelSize: Size2(k[0], k[1]),
                stride: Size2(s[0], s[1]), padding: padding, dilation: Size2(d[0], d[1]),
                groups: f["groups"] as! Int, bias: hasBias)
            layer.weight.assign(Tensor(shape: layer.weight.shape, floats(f["weight"])))
            if let b = layer.bias { b.assign(Tensor(floats(f["bias"]))) }
            let x = Tensor(shape: xs, floats(f["x"]), requiresGrad: true)
            let y = layer(x)
            XCTAssertEqual(y.shape, ints(f["y_shape"]), name)
            assertClose(y.scalars, floats(f["y"]), rtol: 1e-4, atol: 1e-5, name)
            y.backward(Tensor(shape: y.shape, floats(f["g"])))
            assertClose(x.grad!.scalars, floats(f["dx"]), rtol: 1e-4, atol: 1e-5, "dx \(name)")
            assertClose(layer.weight.grad!.scalars, floats(f["dweight"]), rtol: 1e-4, atol: 1e-4, "dweight \(name)")
            if let b = layer.bias { assertClose(b.grad!.scalars, floats(f["dbias"]), rtol: 1e-4, atol: 1e-4, "dbias \(name)") }
        }
    }

    func testParametersKeysAndDefaultInitBound() {
        let conv = Conv2d(inputChannels: 8, outputChannels: 40, kernelSize: [3, 5], groups: 2, generator: RandomGenerator(seed: 9))
        XCTAssertEqual(conv.namedParameters().map(\.0), ["weight", "bias"])
        XCTAssertEqual(conv.weight.shape, [40, 4, 3, 5])
        XCTAssertEqual(conv.bias?.shape, [40])
        // fanIn = 8/2 * 3 * 5 = 60, bound 1/sqrt(60) for weight and bias.
        let bound = 1 / Float(60).squareRoot()
        let w = conv.weight.scalars.map(abs)
        XCTAssertLessThanOrEqual(w.max()!, bound)
        XCTAssertGreaterThan(w.max()!, bound * 0.99)
        XCTAssertLessThanOrEqual(conv.bias!.scalars.map(abs).max()!, bound)
        XCTAssertNil(Conv2d(1, 2, kernelSize: 3, bias: false).bias)
        XCTAssertEqual(Conv2d(1, 2, kernelSize: 3, bias: false).namedParameters().map(\.0), ["weight"])
    }

    func testValidateMessages() {
        let conv = Conv2d(3, 8, kernelSize: 5, padding: 1)
        XCTAssertThrowsError(try conv.validate(inputShape: [3, 10, 10])) { error in
            XCTAssertEqual(
                "\(error)",
                "Conv2d(3, 8, kernelSize: 5x5, stride: 1x1, padding: 1x1): expected input of shape [N, 3, H, W], got [3, 10, 10]")
        }
        XCTAssertThrowsError(try conv.validate(inputShape: [2, 4, 10, 10])) { error in
            XCTAssertEqual(
                "\(error)",
                "Conv2d(3, 8, kernelSize: 5x5, stride: 1x1, padding: 1x1): expected input of shape [N, 3, H, W], got [2, 4, 10, 10]")
        }
        XCTAssertThrowsError(try conv.validate(inputShape: [2, 3, 2, 10])) { error in
            XCTAssertEqual(
                "\(error)",
                "Conv2d(3, 8, kernelSize: 5x5, stride: 1x1, padding: 1x1): kernel 5x5 (dilated extent 5x5) is larger than the padded input 4x12 (input [2, 3, 2, 10])"
            )
        }
        let dilated = Conv2d(2, 2, kernelSize: 3, dilation: 3, groups: 2)
        XCTAssertThrowsError(try dilated.validate(inputShape: [1, 2, 6, 9])) { error in
            XCTAssertTrue("\(error)".contains("dilated extent 7x7"), "\(error)")
        }
        XCTAssertNoThrow(try conv.validate(inputShape: [2, 3, 3, 3]))
    }

    func testSamePaddingKeepsSizeAndPointwiseShape() {
        let same = Conv2d(2, 3, kernelSize: [4, 3], padding: .same, dilation: 2)
        XCTAssertEqual(same(Tensor.randn([1, 2, 9, 10])).shape, [1, 3, 9, 10])
        let strided = Conv2d(2, 3, kernelSize: 3, stride: 2, padding: 1)
        XCTAssertEqual(strided(Tensor.randn([1, 2, 28, 28])).shape, [1, 3, 14, 14])
    }

    func testConcurrentCallsOnOneLayerAgree() {
        // Workspaces are borrowed per call, so one layer can run on several threads at once.
        let conv = Conv2d(3, 4, kernelSize: 3, padding: 1, generator: RandomGenerator(seed: 4))
        let x = Tensor.randn([4, 3, 12, 12], generator: RandomGenerator(seed: 8))
        let reference = withNoGrad { conv(x) }.scalars
        let results = UnsafeMutableBufferPointer<[Float]>.allocate(capacity: 6)
        results.initialize(repeating: [])
        defer { _ = results.deinitialize(); results.deallocate() }
        let shared = UncheckedSendable((conv, x, results))
        DispatchQueue.concurrentPerform(iterations: 6) { i in
            let (conv, x, results) = shared.value
            results[i] = withNoGrad { conv(x) }.scalars
        }
        for r in results { XCTAssertEqual(r, reference) }
    }
}
