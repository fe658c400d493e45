import Foundation
import XCTest

@testable import StrataCore
@testable import StrataNN

/// Upsample: plain references in Double, finite differences, PyTorch fixtures.
final class UpsampleTests: XCTestCase {
    /// Bilinear resampling written from its definition: output pixel
    /// (oy, ox) samples the input at the continuous position
    /// (sy, sx), interpolating between the four surrounding pixels.
    private func naiveBilinear(_ x: Tensor, outH: Int, outW: Int, alignCorners: Bool) -> [Float] {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        func source(_ o: Int, _ out: Int, _ inp: Int) -> Double {
            if alignCorners { return out == 1 ? 0 : Double(o) * Double(inp - 1) / Double(out - 1) }
            return max((Double(o) + 0.5) * Double(inp) / Double(out) - 0.5, 0)
        }
        var y: [Float] = []
        for plane in 0..<(n * c) {
            for oy in 0..<outH {
                let sy = source(oy, outH, h)
                let y0 = Int(sy), y1 = min(y0 + 1, h - 1), fy = sy - Double(y0)
                for ox in 0..<outW {
                    let sx = source(ox, outW, w)
                    let x0 = Int(sx), x1 = min(x0 + 1, w - 1), fx = sx - Double(x0)
                    func at(_ r: Int, _ q: Int) -> Double { Double(x.data[(plane * h + r) * w + q]) }
                    let top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
                    let bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
                    y.append(Float(top * (1 - fy) + bottom * fy))
                }
            }
        }
        return y
    }

    func testBilinearMatchesPlainReference() {
        let x = Tensor.randn([2, 2, 3, 4], generator: RandomGenerator(seed: 1))
        for (oh, ow) in [(6, 8), (5, 7), (2, 3), (1, 1), (3, 9)] {
            for ac in [false, true] {
                let y = Upsample(size: Size2(oh, ow), mode: .bilinear, alignCorners: ac)(x)
                XCTAssertEqual(y.shape, [2, 2, oh, ow])
                assertClose(
                    y.scalars, naiveBilinear(x, outH: oh, outW: ow, alignCorners: ac), rtol: 1e-5, atol: 1e-5,
                    "size \(oh)x\(ow) alignCorners \(ac)")
            }
        }
        // alignCorners true keeps the corner pixels exactly.
        let y = Upsample(size: [5, 7], mode: .bilinear, alignCorners: true)(x)
        XCTAssertEqual(y[1, 1, 4, 6], x[1, 1, 2, 3])
        XCTAssertEqual(y[0, 1, 0, 6], x[0, 1, 0, 3])
    }

    func testNearestCopiesBlocks() {
        let x = Tensor(shape: [1, 1, 2, 3], [1, 2, 3, 4, 5, 6])
        let y = Upsample(scaleFactor: 2)(x)
        XCTAssertEqual(y.shape, [1, 1, 4, 6])
        XCTAssertEqual(y.scalars, [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6])
        let yw = Upsample(scaleFactor: [1, 3])(x)
        XCTAssertEqual(yw.scalars, [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6])
        // Backward of nearest 2x sums each 2x2 block.
        let xg = Tensor.randn([1, 2, 2, 2], generator: RandomGenerator(seed: 2), requiresGrad: true)
        let g = Tensor.randn([1, 2, 4, 4], generator: RandomGenerator(seed: 3))
        Upsample(scaleFactor: 2)(xg).backward(g)
        for c in 0..<2 {
            for i in 0..<2 {
                for j in 0..<2 {
                    let s = g[0, c, 2 * i, 2 * j] + g[0, c, 2 * i, 2 * j + 1] + g[0, c, 2 * i + 1, 2 * j] + g[0, c, 2 * i + 1, 2 * j + 1]
                    XCTAssertEqual(xg.grad![0, c, i, j], s, accuracy: 1e-5)
                }
            }
        }
    }

    func testGradCheck() {
        let layers: [Upsample] = [
            Upsample(size: [5, 7], mode: .bilinear), Upsample(size: [5, 7], mode: .bilinear, alignCorners: true),
            Upsample(scaleFactor: [1.5, 2.5], mode: .bilinear), Upsample(size: [2, 3], mode: .bilinear),
            Upsample(size: [5, 7]), Upsample(scaleFactor: 2),
        ]
        for layer in layers {
            assertGradCheck(gradCheck(layer, input: randomAwayFromZero([1, 2, 3, 4], seed: 5)), layer.name)
        }
    }

    func testMatchesPyTorch() throws {
        let names = [
            "nearest_scale2", "nearest_size", "nearest_down", "nearest_scale_frac", "bilinear_scale2",
            "bilinear_size_ac", "bilinear_scale2_ac", "bilinear_down", "bilinear_scale_frac",
        ]
        for name in names {
            let f = try layerFixture("up_" + name)
            let mode = UpsampleMode(rawValue: f["mode"] as? String ?? "") ?? .nearest
            let ac = f["align_corners"] as? Bool ?? false
            let layer: Upsample
            if let s = f["size"] as? [Int] {
                layer = Upsample(size: Size2(s[0], s[1]), mode: mode, alignCorners: ac)
            } else {
                let sf = floats(f["scale_factor"])
                layer = Upsample(scaleFactor: ScaleFactor2(Double(sf[0]), Double(sf[1])), mode: mode, alignCorners: ac)
            }
            checkAgainstLayerFixture(layer, f, name)
        }
    }

    func testValidation() {
        XCTAssertThrowsError(try Upsample(scaleFactor: 2).validate(inputShape: [2, 3, 4])) { error in
            XCTAssertEqual("\(error)", "Upsample(scaleFactor: 2.0x2.0, mode: nearest): expected input of shape [N, C, H, W], got [2, 3, 4]")
        }
        XCTAssertThrowsError(try Upsample(scaleFactor: 0.2).validate(inputShape: [1, 1, 3, 3])) { error in
            XCTAssertTrue("\(error)".contains("empty output"), "\(error)")
        }
    }
}
