import Foundation
import XCTest

@testable import StrataCore
@testable import StrataNN

/// Conv2d padding modes, Conv1d and InstanceNorm1d: plain references,
/// finite differences, PyTorch fixtures.
final class ConvModeTests: XCTestCase {
    /// Index of padded position i (may be outside 0..<n) in the input, by mode.
    private func source(_ i: Int, _ n: Int, _ mode: ConvPaddingMode) -> Int? {
        if i >= 0 && i < n { return i }
        switch mode {
        case .zeros: return nil
        case .reflect: return i < 0 ? -i : 2 * (n - 1) - i
        case .replicate: return min(max(i, 0), n - 1)
        case .circular: return (i + n) % n
        }
    }

    /// Direct convolution of x [N, C, H, W] (groups 1, dilation 1) whose
    /// out-of-range reads go through `source`.
    private func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Size2, padding: Size2, mode: ConvPaddingMode) -> (
        shape: [Int], y: [Float]
    ) {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let oh = (h + 2 * padding.height - kh) / stride.height + 1, ow = (wd + 2 * padding.width - kw) / stride.width + 1
        var y: [Float] = []
        for s in 0..<n {
            for oc in 0..<o {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var acc = Double(b?[oc] ?? 0)
                        for ci in 0..<c {
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    guard let iy = source(oy * stride.height - padding.height + ky, h, mode),
                                        let ix = source(ox * stride.width - padding.width + kx, wd, mode)
                                    else { continue }
                                    acc += Double(x[s, ci, iy, ix]) * Double(w[oc, ci, ky, kx])
                                }
                            }
                        }
                        y.append(Float(acc))
                    }
                }
            }
        }
        return ([n, o, oh, ow], y)
    }

    func testPaddingModesMatchPlainReference() {
        let x = Tensor.randn([2, 2, 5, 6], generator: RandomGenerator(seed: 1))
        for mode in [ConvPaddingMode.zeros, .reflect, .replicate, .circular] {
            for (k, s, p) in [
                (Size2(3), Size2(1), Size2(1)), (Size2(3, 2), Size2(2, 1), Size2(2, 1)), (Size2(2, 5), Size2(1, 2), Size2(4, 5)),
            ] {
                if mode == .reflect && (p.height >= 5 || p.width >= 6) { continue }
                let conv = Conv2d(
                    2, 3, kernelSize: k, stride: s, padding: .explicit(p), paddingMode: mode, generator: RandomGenerator(seed: 2))
                let y = conv(x)
                let ref = naiveConv(x, conv.weight, conv.bias, stride: s, padding: p, mode: mode)
                XCTAssertEqual(y.shape, ref.shape, "\(mode) k \(k) s \(s) p \(p)")
                assertClose(y.scalars, ref.y, rtol: 1e-4, atol: 1e-5, "\(mode) k \(k) s \(s) p \(p)")
            }
        }
        // Padding mode with "same": reflect keeps the size.
        let same = Conv2d(2, 2, kernelSize: [4, 3], padding: .same, paddingMode: .reflect)
        XCTAssertEqual(same(x).shape, [2, 2, 5, 6])
    }

    func testPaddingModesGradCheck() {
        for mode in [ConvPaddingMode.reflect, .replicate, .circular] {
            let conv = Conv2d(
                2, 2, kernelSize: 3, stride: [2, 1], padding: [1, 2], paddingMode: mode, generator: RandomGenerator(seed: 3))
            assertGradCheck(gradCheck(conv, input: randomAwayFromZero([1, 2, 4, 5], seed: 4)), "\(mode)")
        }
    }

    func testPaddingModeValidation() {
        let conv = Conv2d(1, 1, kernelSize: 3, padding: 3, paddingMode: .reflect)
        XCTAssertThrowsError(try conv.validate(inputShape: [1, 1, 3, 8])) { error in
            XCTAssertTrue("\(error)".contains("too large for padding mode reflect"), "\(error)")
        }
        XCTAssertNoThrow(try conv.validate(inputShape: [1, 1, 4, 8]))
        XCTAssertNoThrow(try Conv2d(1, 1, kernelSize: 3, padding: 3, paddingMode: .circular).validate(inputShape: [1, 1, 3, 3]))
    }

    func testConv2dPaddingModesMatchPyTorch() throws {
        for name in ["reflect", "replicate", "circular", "reflect_wide"] {
            let f = try layerFixture("conv2d_" + name)
            let xs = ints(f["x_shape"]), k = ints(f["kernel"]), s = ints(f["stride"]), p = ints(f["padding"])
            let mode = try XCTUnwrap(ConvPaddingMode(rawValue: f["padding_mode"] as? String ?? ""))
            let conv = Conv2d(
                inputChannels: xs[1], outputChannels: f["out_channels"] as? Int ?? 0, kernelSize: Size2(k[0], k[1]),
                stride: Size2(s[0], s[1]), padding: .explicit(Size2(p[0], p[1])), paddingMode: mode)
            checkAgainstLayerFixture(conv, f, name)
        }
    }

    // MARK: Conv1d

    func testConv1dMatchesPlainReference() {
        let gen = RandomGenerator(seed: 5)
        for (k, s, p, d, g) in [(3, 1, 0, 1, 1), (3, 2, 1, 1, 1), (2, 1, 2, 3, 2), (1, 1, 0, 1, 2), (5, 3, 2, 1, 1)] {
            let conv = Conv1d(4, 6, kernelSize: k, stride: s, padding: .explicit(Size2(p)), dilation: d, groups: g, generator: gen)
            XCTAssertEqual(conv.weight.shape, [6, 4 / g, k])
            let x = Tensor.randn([2, 4, 11], generator: gen, requiresGrad: true)
            let y = conv(x)
            let ol = (11 + 2 * p - d * (k - 1) - 1) / s + 1
            XCTAssertEqual(y.shape, [2, 6, ol])
            var ref: [Float] = []
            let (cg, og) = (4 / g, 6 / g)
            for n in 0..<2 {
                for o in 0..<6 {
                    for t in 0..<ol {
                        var acc = Double(conv.bias?[o] ?? 0)
                        for ci in 0..<cg {
                            for kk in 0..<k {
                                let i = t * s - p + kk * d
                                if i < 0 || i >= 11 { continue }
                                acc += Double(x[n, (o / og) * cg + ci, i]) * Double(conv.weight[o, ci, kk])
                            }
                        }
                        ref.append(Float(acc))
                    }
                }
            }
            assertClose(y.scalars, ref, rtol: 1e-4, atol: 1e-5, "k \(k) s \(s) p \(p) d \(d) g \(g)")
        }
    }

    func testConv1dGradCheckAndKeys() {
        let conv = Conv1d(2, 4, kernelSize: 3, stride: 2, padding: 1, dilation: 1, groups: 2, generator: RandomGenerator(seed: 6))
        assertGradCheck(gradCheck(conv, input: randomAwayFromZero([2, 2, 7], seed: 7)))
        let reflect = Conv1d(2, 2, kernelSize: 3, padding: 2, paddingMode: .reflect, generator: RandomGenerator(seed: 8))
        assertGradCheck(gradCheck(reflect, input: randomAwayFromZero([1, 2, 5], seed: 9)), "reflect")
        XCTAssertEqual(conv.namedParameters().map(\.0), ["weight", "bias"])
        XCTAssertThrowsError(try conv.validate(inputShape: [2, 2, 3, 3])) { error in
            XCTAssertEqual(
                "\(error)",
                "Conv1d(2, 4, kernelSize: 3, stride: 2, padding: 1, groups: 2): expected input of shape [N, 2, L], got [2, 2, 3, 3]")
        }
    }

    func testConv1dMatchesPyTorch() throws {
        for name in ["basic", "grouped_dilated", "reflect", "circular", "same"] {
            let f = try layerFixture("conv1d_" + name)
            let xs = ints(f["x_shape"])
            let padding: ConvPadding = (f["padding"] as? String) == "same" ? .same : .explicit(Size2(f["padding"] as? Int ?? -1))
            let mode = try XCTUnwrap(ConvPaddingMode(rawValue: f["padding_mode"] as? String ?? ""))
            let conv = Conv1d(
                inputChannels: xs[1], outputChannels: f["out_channels"] as? Int ?? 0, kernelSize: f["kernel"] as? Int ?? 0,
                stride: f["stride"] as? Int ?? 0, padding: padding, dilation: f["dilation"] as? Int ?? 0,
                groups: f["groups"] as? Int ?? 0, bias: f["bias"] != nil, paddingMode: mode)
            checkAgainstLayerFixture(conv, f, name)
        }
    }

    // MARK: InstanceNorm1d

    func testInstanceNorm1dMatchesPlainReferenceAndGradCheck() {
        let x = Tensor.randn([2, 3, 6], generator: RandomGenerator(seed: 10))
        let y = InstanceNorm1d(3)(x)
        var ref: [Float] = []
        for lane in 0..<6 {
            let v = (0..<6).map { Double(x.data[lane * 6 + $0]) }
            let mean = v.reduce(0, +) / 6, variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6
            ref += v.map { Float(($0 - mean) / (variance + 1e-5).squareRoot()) }
        }
        assertClose(y.scalars, ref, rtol: 1e-4, atol: 1e-5)
        let affine = InstanceNorm1d(3, affine: true)
        affine.weight?.assign(Tensor([0.5, -1, 2]))
        affine.bias?.assign(Tensor([0.1, 0.2, -0.3]))
        assertGradCheck(gradCheck(affine, input: randomAwayFromZero([2, 3, 5], seed: 11)))
        XCTAssertThrowsError(try affine.validate(inputShape: [2, 3, 1])) { error in
            XCTAssertTrue("\(error)".contains("more than 1 spatial element"), "\(error)")
        }
    }

    func testInstanceNorm1dMatchesPyTorch() throws {
        for name in ["plain", "affine", "tracked"] {
            let f = try layerFixture("in1d_" + name)
            let layer = InstanceNorm1d(3, affine: name != "plain", trackRunningStats: name == "tracked")
            checkAgainstLayerFixture(layer, f, name)
            if name == "tracked" {
                assertClose(layer.runningMean?.scalars ?? [], floats(f["running_mean"]), rtol: 1e-4, atol: 1e-5, "running_mean")
                assertClose(layer.runningVar?.scalars ?? [], floats(f["running_var"]), rtol: 1e-4, atol: 1e-5, "running_var")
                XCTAssertEqual(layer.stateDict().map(\.0), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
                layer.eval()
                let ye = layer(Tensor(shape: [2, 3, 5], floats(f["eval_x"])))
                assertClose(ye.scalars, floats(f["eval_y"]), rtol: 1e-4, atol: 1e-5, "eval")
            }
        }
    }
}
