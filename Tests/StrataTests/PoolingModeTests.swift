import Foundation
import XCTest

@testable import StrataCore
@testable import StrataNN

/// Ceil mode, dilation and count_include_pad for MaxPool2d/AvgPool2d, and
/// AdaptiveMaxPool2d: plain references, finite differences, PyTorch fixtures.
final class PoolingModeTests: XCTestCase {
    /// Pooling written from PyTorch's definition, in Double: output size by
    /// the ceil/floor rule, window taps start + k*dilation, max ignoring
    /// taps outside the input, average divided by the window clipped to the
    /// padded input (or to the input without count_include_pad).
    private func naivePool(
        _ x: Tensor, max isMax: Bool, kernel: Size2, stride: Size2, padding: Size2, dilation: Size2 = 1,
        ceil: Bool, includePad: Bool = true
    ) -> (shape: [Int], y: [Float]) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        func outSize(_ size: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int {
            let span = d * (k - 1) + 1
            let exact = Double(size + 2 * p - span) / Double(s)
            var o = Int(ceil ? exact.rounded(.up) : exact.rounded(.down)) + 1
            if ceil && (o - 1) * s >= size + p { o -= 1 }
            return o
        }
        let oh = outSize(h, kernel.height, stride.height, padding.height, dilation.height)
        let ow = outSize(w, kernel.width, stride.width, padding.width, dilation.width)
        var y: [Float] = []
        for plane in 0..<(n * c) {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let y0 = oy * stride.height - padding.height, x0 = ox * stride.width - padding.width
                    var best = -Double.infinity, sum = 0.0, inside = 0
                    for ky in 0..<kernel.height {
                        for kx in 0..<kernel.width {
                            let iy = y0 + ky * dilation.height, ix = x0 + kx * dilation.width
                            if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                            let v = Double(x.data[(plane * h + iy) * w + ix])
                            best = max(best, v); sum += v; inside += 1
                        }
                    }
                    let windowH = min(y0 + kernel.height, h + padding.height) - y0
                    let windowW = min(x0 + kernel.width, w + padding.width) - x0
                    y.append(Float(isMax ? best : sum / Double(includePad ? windowH * windowW : inside)))
                }
            }
        }
        return ([n, c, oh, ow], y)
    }

    func testMaxPoolMatchesPlainReference() {
        let x = Tensor.randn([2, 2, 7, 8], generator: RandomGenerator(seed: 1))
        let configs: [(Size2, Size2, Size2, Size2, Bool)] = [
            (3, 2, 0, 1, true), (3, 2, 1, 1, true), (2, 2, 0, 1, true), (3, 1, 1, 2, false),
            ([2, 3], [3, 2], [1, 0], [2, 1], true), (2, 3, 0, [2, 3], true), (2, 2, 1, 1, false),
        ]
        for (k, s, p, d, ceil) in configs {
            let layer = MaxPool2d(kernelSize: k, stride: s, padding: p, dilation: d, ceilMode: ceil)
            let y = layer(x)
            let ref = naivePool(x, max: true, kernel: k, stride: s, padding: p, dilation: d, ceil: ceil)
            XCTAssertEqual(y.shape, ref.shape, "k \(k) s \(s) p \(p) d \(d) ceil \(ceil)")
            assertClose(y.scalars, ref.y, "k \(k) s \(s) p \(p) d \(d) ceil \(ceil)")
        }
    }

    /// Windows that do not overlap write a first input gradient directly
    /// (no zeroed buffer); with a gradient already there they add to it.
    /// Both against a plain scatter to each window's argmax, including
    /// rows and columns no window covers.
    func testMaxPoolGradientThroughDisjointWindows() {
        let gen = RandomGenerator(seed: 5)
        let configs: [(Size2, Size2, Size2, Bool, [Int])] = [
            (2, 2, 0, false, [2, 3, 6, 8]), (2, 2, 0, false, [1, 2, 7, 9]), (2, 2, 1, false, [1, 2, 7, 6]),
            (3, 3, 1, true, [2, 1, 8, 7]), ([2, 3], [3, 3], 0, true, [1, 2, 8, 10]), (2, 3, 0, false, [1, 1, 9, 8]),
        ]
        for (k, s, p, ceil, shape) in configs {
            let label = "k \(k) s \(s) p \(p) ceil \(ceil) x \(shape)"
            let (h, w) = (shape[2], shape[3])
            let values = Tensor.randn(shape, generator: gen).scalars
            let layer = MaxPool2d(kernelSize: k, stride: s, padding: p, ceilMode: ceil)
            let ref = naivePool(Tensor(shape: shape, values), max: true, kernel: k, stride: s, padding: p, ceil: ceil)
            let (oh, ow) = (ref.shape[2], ref.shape[3])
            let r = Tensor.randn(ref.shape, generator: gen)
            var expected = [Float](repeating: 0, count: values.count)
            for plane in 0..<(shape[0] * shape[1]) {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var best = -Float.infinity, arg = -1
                        for dy in 0..<k.height {
                            for dx in 0..<k.width {
                                let (y, x) = (oy * s.height - p.height + dy, ox * s.width - p.width + dx)
                                guard y >= 0, y < h, x >= 0, x < w else { continue }
                                let i = plane * h * w + y * w + x
                                if arg < 0 || values[i] > best { (best, arg) = (values[i], i) }
                            }
                        }
                        expected[arg] += r.scalars[(plane * oh + oy) * ow + ox]
                    }
                }
            }
            let x = Tensor(shape: shape, values, requiresGrad: true)
            layer(x).backward(r)
            XCTAssertEqual(x.grad?.scalars ?? [], expected, "fresh gradient, \(label)")
            layer(x).backward(r)
            XCTAssertEqual(x.grad?.scalars ?? [], expected.map { 2 * $0 }, "accumulated gradient, \(label)")
        }
    }

    func testAvgPoolMatchesPlainReference() {
        let x = Tensor.randn([2, 2, 6, 7], generator: RandomGenerator(seed: 2))
        let configs: [(Size2, Size2, Size2)] = [(3, 2, 0), (3, 2, 1), (2, 2, 1), ([3, 2], [2, 3], [1, 1]), (2, 1, 0)]
        for (k, s, p) in configs {
            for ceil in [false, true] {
                for include in [false, true] {
                    let y = AvgPool2d(kernelSize: k, stride: s, padding: p, ceilMode: ceil, countIncludePad: include)(x)
                    let ref = naivePool(x, max: false, kernel: k, stride: s, padding: p, ceil: ceil, includePad: include)
                    let label = "k \(k) s \(s) p \(p) ceil \(ceil) includePad \(include)"
                    XCTAssertEqual(y.shape, ref.shape, label)
                    assertClose(y.scalars, ref.y, rtol: 1e-5, atol: 1e-6, label)
                }
            }
        }
    }

    func testCeilModeSizes() {
        // 6 rows, kernel 3, stride 2: floor gives 2, ceil 3 (the last window covers rows 4-5 only).
        XCTAssertEqual(MaxPool2d(kernelSize: 3, stride: 2)(Tensor.zeros([1, 1, 6, 6])).shape, [1, 1, 2, 2])
        XCTAssertEqual(MaxPool2d(kernelSize: 3, stride: 2, ceilMode: true)(Tensor.zeros([1, 1, 6, 6])).shape, [1, 1, 3, 3])
        // A window may not start in the bottom padding: 5 rows, k 2, s 2, p 1 gives 3, not 4.
        XCTAssertEqual(AvgPool2d(kernelSize: 2, stride: 2, padding: 1, ceilMode: true)(Tensor.zeros([1, 1, 5, 5])).shape, [1, 1, 3, 3])
    }

    func testGradCheck() {
        let layers: [any Module] = [
            MaxPool2d(kernelSize: 3, stride: 2, ceilMode: true), MaxPool2d(kernelSize: 2, stride: 1, padding: 1, dilation: 2),
            AvgPool2d(kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false),
            AvgPool2d(kernelSize: 3, stride: 2, padding: 1, ceilMode: true),
            AdaptiveMaxPool2d(outputSize: [3, 4]), AdaptiveMaxPool2d(outputSize: [4, 2]),
        ]
        for (i, layer) in layers.enumerated() {
            // Distinct, well separated values: no max ties under the finite-difference step.
            let x = Tensor(shape: [1, 2, 5, 6], RandomGenerator(seed: 7).permutation(60).map { Float($0) * 0.1 })
            assertGradCheck(gradCheck(layer, input: x, step: 1e-2), "layer \(i) \(type(of: layer))")
        }
    }

    func testAdaptiveMaxPoolMatchesPlainReference() {
        let x = Tensor.randn([2, 3, 5, 7], generator: RandomGenerator(seed: 3), requiresGrad: true)
        for (oh, ow) in [(3, 4), (1, 1), (5, 7), (2, 3), (7, 9)] {
            let y = AdaptiveMaxPool2d(outputSize: Size2(oh, ow))(x)
            var ref: [Float] = []
            for plane in 0..<6 {
                for i in 0..<oh {
                    for j in 0..<ow {
                        // Bins floor(i*H/OH) ..< ceil((i+1)*H/OH).
                        let r0 = i * 5 / oh, r1 = Int((Double((i + 1) * 5) / Double(oh)).rounded(.up))
                        let c0 = j * 7 / ow, c1 = Int((Double((j + 1) * 7) / Double(ow)).rounded(.up))
                        var best = -Float.infinity
                        for r in r0..<r1 { for q in c0..<c1 { best = max(best, x.data[(plane * 5 + r) * 7 + q]) } }
                        ref.append(best)
                    }
                }
            }
            XCTAssertEqual(y.shape, [2, 3, oh, ow])
            XCTAssertEqual(y.scalars, ref, "\(oh)x\(ow)")
        }
    }

    func testMatchesPyTorch() throws {
        for name in [
            "max_ceil", "max_ceil_pad", "max_dilated", "max_dilated_ceil", "avg_ceil", "avg_ceil_pad",
            "avg_exclude_pad", "avg_ceil_exclude", "adaptive_max_3x4", "adaptive_max_2", "adaptive_max_1", "adaptive_max_up",
        ] {
            let f = try layerFixture("pool_" + name)
            let kw = try XCTUnwrap(f["kwargs"] as? [String: Any], name)
            func size2(_ key: String, _ fallback: Size2?) -> Size2? {
                if let v = kw[key] as? Int { return Size2(v) }
                if let v = kw[key] as? [Int] { return Size2(v[0], v[1]) }
                return fallback
            }
            let ceil = kw["ceil_mode"] as? Bool ?? false
            let layer: any Module
            if name.hasPrefix("adaptive") {
                layer = AdaptiveMaxPool2d(outputSize: size2("output_size", nil) ?? 1)
            } else if name.hasPrefix("max") {
                layer = MaxPool2d(
                    kernelSize: size2("kernel_size", nil) ?? 1, stride: size2("stride", nil),
                    padding: size2("padding", 0) ?? 0, dilation: size2("dilation", 1) ?? 1, ceilMode: ceil)
            } else {
                layer = AvgPool2d(
                    kernelSize: size2("kernel_size", nil) ?? 1, stride: size2("stride", nil),
                    padding: size2("padding", 0) ?? 0, ceilMode: ceil,
                    countIncludePad: kw["count_include_pad"] as? Bool ?? true)
            }
            checkAgainstLayerFixture(layer, f, name)
        }
    }
}
