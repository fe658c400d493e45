import Foundation
import XCTest

@testable import StrataCore
@testable import StrataNN

/// SiLU, ELU, PReLU, ReLU6, Hardtanh, Hardswish, Hardsigmoid, Mish,
/// Softplus, Identity and Dropout2d: formulas written plainly, finite
/// differences, and PyTorch fixtures.
final class MoreActivationTests: XCTestCase {
    /// (layer, plain formula in Double) pairs.
    private var cases: [(String, any Module, (Double) -> Double)] {
        func sig(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
        func sp(_ x: Double) -> Double { Foundation.log(1 + Foundation.exp(x)) }
        return [
            ("silu", SiLU(), { $0 * sig($0) }),
            ("elu", ELU(), { $0 > 0 ? $0 : Foundation.exp($0) - 1 }),
            ("elu_alpha", ELU(alpha: 0.7), { $0 > 0 ? $0 : 0.7 * (Foundation.exp($0) - 1) }),
            ("relu6", ReLU6(), { min(max($0, 0), 6) }),
            ("hardtanh", Hardtanh(), { min(max($0, -1), 1) }),
            ("hardtanh_range", Hardtanh(minValue: -0.5, maxValue: 1.5), { min(max($0, -0.5), 1.5) }),
            ("hardswish", Hardswish(), { $0 * min(max($0 + 3, 0), 6) / 6 }),
            ("hardsigmoid", Hardsigmoid(), { min(max($0 + 3, 0), 6) / 6 }),
            ("mish", Mish(), { $0 * Foundation.tanh(sp($0)) }),
            ("softplus", Softplus(), { $0 > 20 ? $0 : sp($0) }),
            ("softplus_beta", Softplus(beta: 2, threshold: 5), { 2 * $0 > 5 ? $0 : sp(2 * $0) / 2 }),
        ]
    }

    func testForwardMatchesPlainFormulas() {
        let x = Tensor(shape: [2, 20], (0..<40).map { Float($0) * 0.43 - 8.3 })
        for (name, layer, formula) in cases {
            let y = layer(x)
            assertClose(y.scalars, x.scalars.map { Float(formula(Double($0))) }, rtol: 1e-5, atol: 1e-6, name)
        }
    }

    func testGradCheckAwayFromKinks() {
        // Values kept off the kinks at -3, -1, -0.5, 0, 1, 1.5, 3, 6 and the softplus thresholds.
        let values: [Float] = [-7.3, -4.1, -2.6, -1.7, -0.8, -0.3, -0.15, 0.2, 0.7, 1.2, 2.1, 2.7, 3.6, 4.4, 6.8, 9.5]
        for (name, layer, _) in cases {
            let x = Tensor(shape: [2, 8], values)
            assertGradCheck(gradCheck(layer, input: x, step: 1e-2), name)
        }
        let prelu = PReLU(numParameters: 2, initialValue: 0.3)
        assertGradCheck(gradCheck(prelu, input: Tensor(shape: [2, 2, 4], values)), "prelu")
    }

    func testLargeInputsStayFinite() {
        let x = Tensor([-200, -90, 90, 200])
        for layer in [SiLU(), Mish(), Softplus(), ELU()] as [any Module] {
            let y = layer(x)
            XCTAssertTrue(y.scalars.allSatisfy(\.isFinite), "\(type(of: layer)): \(y.scalars)")
        }
        assertClose(Softplus()(x).scalars, [0, 0, 90, 200], atol: 1e-6)
        assertClose(Mish()(x).scalars, [0, 0, 90, 200], atol: 1e-6)
    }

    func testMatchesPyTorch() throws {
        for (name, layer, _) in cases {
            checkAgainstLayerFixture(layer, try layerFixture("act_" + name), name)
        }
        checkAgainstLayerFixture(PReLU(), try layerFixture("act_prelu_shared"), "prelu shared")
        checkAgainstLayerFixture(PReLU(numParameters: 3, initialValue: 0.1), try layerFixture("act_prelu_channels"), "prelu channels")
    }

    func testPReLUParametersAndPlainReference() {
        let prelu = PReLU(numParameters: 3)
        XCTAssertEqual(prelu.namedParameters().map(\.0), ["weight"])
        XCTAssertEqual(prelu.weight.scalars, [0.25, 0.25, 0.25])
        prelu.weight.assign(Tensor([0.1, -0.2, 0.5]))
        let x = Tensor.randn([2, 3, 2, 2], generator: RandomGenerator(seed: 3), requiresGrad: true)
        let y = prelu(x)
        var expected = [Float](), dw = [Double](repeating: 0, count: 3)
        let g = Tensor.randn(y.shape, generator: RandomGenerator(seed: 4))
        for i in 0..<x.count {
            let c = (i / 4) % 3, v = x.scalars[i]
            expected.append(v > 0 ? v : prelu.weight.scalars[c] * v)
            if v <= 0 { dw[c] += Double(g.scalars[i] * v) }
        }
        assertClose(y.scalars, expected)
        y.backward(g)
        assertClose(prelu.weight.grad!.scalars, dw.map { Float($0) }, rtol: 1e-5, atol: 1e-5)
        XCTAssertThrowsError(try prelu.validate(inputShape: [2, 4, 3])) { error in
            XCTAssertEqual("\(error)", "PReLU(numParameters: 3): expected input of shape [N, 3, ...], got [2, 4, 3]")
        }
    }

    func testIdentityPassesInputAndGradient() {
        let x = Tensor.randn([2, 3], generator: RandomGenerator(seed: 1), requiresGrad: true)
        let id = Identity()
        XCTAssertTrue(id(x) === x)
        XCTAssertTrue(id.stateDict().isEmpty)
        (id(x) * 2).sum().backward()
        XCTAssertEqual(x.grad!.scalars, [Float](repeating: 2, count: 6))
    }

    func testDropout2dZeroesWholeChannelsAndScales() {
        let drop = Dropout2d(p: 0.4, generator: RandomGenerator(seed: 11))
        let x = Tensor.full([8, 16, 3, 3], 1, requiresGrad: true)
        let y = drop(x)
        var zeroPlanes = 0
        for plane in 0..<(8 * 16) {
            let values = Set(y.scalars[(plane * 9)..<(plane * 9 + 9)])
            XCTAssertEqual(values.count, 1, "plane \(plane) is not uniform: \(values)")
            let v = values.first ?? -1
            XCTAssertTrue(v == 0 || abs(v - 1 / 0.6) < 1e-6, "plane \(plane) value \(v)")
            if v == 0 { zeroPlanes += 1 }
        }
        // 128 planes at p 0.4: 51 expected; a binomial sd of 5.5 leaves ample room.
        XCTAssertGreaterThan(zeroPlanes, 25)
        XCTAssertLessThan(zeroPlanes, 80)
        // The gradient is the same mask.
        y.sum().backward()
        XCTAssertEqual(x.grad!.scalars, y.scalars)
        // Same seed, same mask; eval mode is the identity.
        let again = Dropout2d(p: 0.4, generator: RandomGenerator(seed: 11))(x)
        XCTAssertEqual(again.scalars, y.scalars)
        drop.eval()
        XCTAssertTrue(drop(x) === x)
        XCTAssertEqual(Dropout2d(p: 1)(x).scalars, [Float](repeating: 0, count: x.count))
        XCTAssertThrowsError(try drop.validate(inputShape: [2, 3])) { error in
            XCTAssertEqual("\(error)", "Dropout2d(p: 0.4): expected input of shape [N, C, H, W], got [2, 3]")
        }
    }
}
