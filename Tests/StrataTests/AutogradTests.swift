import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// Autograd mechanics and finite-difference checks of every core op.
final class AutogradTests: XCTestCase {
    func testBroadcastArithmeticGradients() {
        let shapes: [([Int], [Int])] = [([3, 4], [3, 4]), ([3, 4], [4]), ([2, 3, 4], [3, 1]), ([3, 1], [1, 4]), ([2, 3], [])]
        for (sa, sb) in shapes {
            let a = randomAwayFromZero(sa, seed: 1), b = randomAwayFromZero(sb, margin: 0.5, seed: 2)
            a.requiresGrad = true; b.requiresGrad = true
            assertGradCheck(gradCheck([a, b]) { $0[0] + $0[1] }, "add \(sa) \(sb)")
            assertGradCheck(gradCheck([a, b]) { $0[0] - $0[1] }, "sub \(sa) \(sb)")
            assertGradCheck(gradCheck([a, b]) { $0[0] * $0[1] }, "mul \(sa) \(sb)")
            assertGradCheck(gradCheck([a, b], step: 1e-3) { $0[0] / $0[1] }, "div \(sa) \(sb)")
        }
    }

    func testBroadcastValues() {
        let a = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
        let b = Tensor([10, 20, 30])
        XCTAssertEqual((a + b).scalars, [11, 22, 33, 14, 25, 36])
        let c = Tensor(shape: [2, 1], [2, 3])
        XCTAssertEqual((a * c).scalars, [2, 4, 6, 12, 15, 18])
        XCTAssertEqual(Broadcast.shape([2, 1, 4], [3, 1]), [2, 3, 4])
        XCTAssertNil(Broadcast.shape([2, 3], [4]))
    }

    func testScalarAndUnaryGradients() {
        let x = randomAwayFromZero([2, 5], seed: 3)
        let pos = Tensor.rand([2, 5], low: 0.5, high: 2, generator: RandomGenerator(seed: 4))
        x.requiresGrad = true; pos.requiresGrad = true
        assertGradCheck(gradCheck([x]) { $0[0] * 3 + 1 }, "affine")
        assertGradCheck(gradCheck([x]) { 2 - $0[0] / 4 }, "scalar sub/div")
        assertGradCheck(gradCheck([x]) { $0[0].exp() }, "exp")
        assertGradCheck(gradCheck([pos], step: 1e-3) { $0[0].log() }, "log")
        assertGradCheck(gradCheck([pos], step: 1e-3) { $0[0].sqrt() }, "sqrt")
        assertGradCheck(gradCheck([pos], step: 1e-3) { $0[0].pow(3) }, "pow")
    }

    /// ReLU's backward passes the gradient where the output is NaN and
    /// blocks it at -0, 0 and below (PyTorch's threshold_backward: output
    /// <= 0 gets 0), in the 16-wide body and in the scalar tail alike.
    func testReLUBackwardAtNaNAndZero() {
        let pattern: [Float] = [.nan, 0, -0.0, -1, 2]
        let values = (0..<21).map { pattern[$0 % 5] }  // 16 in the vector body, 5 in the tail
        let x = Tensor(shape: [21], values, requiresGrad: true)
        let g = Tensor(shape: [21], (0..<21).map { Float($0 + 1) })
        x.relu().backward(g)
        let expected = (0..<21).map { i -> Float in values[i].isNaN || values[i] > 0 ? Float(i + 1) : 0 }
        XCTAssertEqual(x.grad?.scalars ?? [], expected)
    }

    func testActivationGradients() {
        let x = randomAwayFromZero([3, 7], margin: 0.05, seed: 5)
        x.requiresGrad = true
        assertGradCheck(gradCheck([x], step: 1e-2) { $0[0].relu() }, "relu")
        assertGradCheck(gradCheck([x], step: 1e-2) { $0[0].leakyRelu(negativeSlope: 0.2) }, "leaky")
        assertGradCheck(gradCheck([x]) { $0[0].sigmoid() }, "sigmoid")
        assertGradCheck(gradCheck([x]) { $0[0].tanh() }, "tanh")
        assertGradCheck(gradCheck([x]) { $0[0].gelu() }, "gelu")
        assertGradCheck(gradCheck([x]) { $0[0].softmax() }, "softmax")
        assertGradCheck(gradCheck([x]) { $0[0].logSoftmax() }, "logSoftmax")
        let y = randomAwayFromZero([2, 3, 4], seed: 6)
        y.requiresGrad = true
        assertGradCheck(gradCheck([y]) { $0[0].softmax(axis: 1) }, "softmax axis 1")
        assertGradCheck(gradCheck([y]) { $0[0].logSoftmax(axis: 0) }, "logSoftmax axis 0")
    }

    func testReductionAndShapeGradients() {
        let x = randomAwayFromZero([2, 3, 4], seed: 8)
        x.requiresGrad = true
        assertGradCheck(gradCheck([x]) { $0[0].sum() }, "sum")
        assertGradCheck(gradCheck([x]) { $0[0].mean() }, "mean")
        for axis in [0, 1, 2, -1] {
            assertGradCheck(gradCheck([x]) { $0[0].sum(axis: axis) }, "sum axis \(axis)")
            assertGradCheck(gradCheck([x]) { $0[0].mean(axis: axis, keepingDims: true) }, "mean axis \(axis)")
        }
        assertGradCheck(gradCheck([x]) { $0[0].reshaped([6, -1]) }, "reshape")
        assertGradCheck(gradCheck([x]) { $0[0].flattened() }, "flatten")
        assertGradCheck(gradCheck([x]) { $0[0].rows([1, 0, 1]) }, "rows with repeat")
        let m = randomAwayFromZero([3, 5], seed: 9)
        m.requiresGrad = true
        assertGradCheck(gradCheck([m]) { $0[0].transposed() }, "transpose")
    }

    func testReductionValues() {
        let x = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(x.sum(axis: 0).scalars, [5, 7, 9])
        XCTAssertEqual(x.sum(axis: 1).scalars, [6, 15])
        XCTAssertEqual(x.mean(axis: 1, keepingDims: true).shape, [2, 1])
        XCTAssertEqual(x.mean().item, 3.5)
        XCTAssertEqual(Tensor(shape: [2, 3], [1, 9, 9, 4, 2, 0]).argmax(axis: 1), [1, 0])
        XCTAssertEqual(x.argmax(axis: 0), [1, 1, 1])
    }

    func testGradientsAccumulateAcrossUsesAndCalls() {
        // y = x * x + x uses x three times: dy/dx = 2x + 1.
        let x = Tensor([1, -2, 3], requiresGrad: true)
        (x * x + x).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [3, -3, 7])
        // A second backward accumulates.
        (x * 2).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [5, -1, 9])
    }

    func testNoGradRecordsNothing() {
        let x = Tensor([1, 2], requiresGrad: true)
        let y = withNoGrad { x * 2 }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertNil(y.gradNode)
        XCTAssertTrue(GradMode.isEnabled)
    }

    func testDeepChainDoesNotOverflowTheStack() {
        let x = Tensor([1], requiresGrad: true)
        var y = x
        for _ in 0..<20_000 { y = y + 0.0 }
        y.sum().backward()
        XCTAssertEqual(x.grad?.scalars, [1])
    }

    func testGraphIsFreedAfterBackwardAndWhenDropped() {
        weak var weakHidden: Tensor?
        weak var weakNode: GradNode?
        let model = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
        do {
            let x = Tensor.randn([5, 4])
            let hidden = model.layers[0](x)
            weakHidden = hidden
            weakNode = hidden.gradNode
            let loss = crossEntropy(model.layers[2](model.layers[1](hidden)), labels: [0, 1, 2, 0, 1])
            loss.backward()
        }
        XCTAssertNil(weakHidden, "intermediate activation outlived its graph")
        XCTAssertNil(weakNode, "graph node outlived backward")

        // A graph that is dropped without backward is freed too.
        weak var weakOut: Tensor?
        do {
            let out = model(Tensor.randn([2, 4]))
            weakOut = out
            _ = out.sum()
        }
        XCTAssertNil(weakOut, "a graph without backward leaked")
        XCTAssertNotNil(model.parameters()[0].grad)
    }

    func testBackwardWithExplicitGradientLeavesItUntouched() {
        let x = Tensor([1, 2, 3], requiresGrad: true)
        let y = x * 2
        y.retainsGrad = true
        let g = Tensor([1, 1, 1])
        y.backward(g)
        XCTAssertEqual(g.scalars, [1, 1, 1])
        XCTAssertEqual(y.grad?.scalars, [1, 1, 1])
        XCTAssertEqual(x.grad?.scalars, [2, 2, 2])
        // A leaf's explicit gradient is copied into grad, not aliased.
        let leaf = Tensor([5], requiresGrad: true)
        let seed = Tensor([3])
        leaf.backward(seed)
        leaf.backward(seed)
        XCTAssertEqual(leaf.grad?.scalars, [6])
        XCTAssertEqual(seed.scalars, [3])
    }
}
