import XCTest

@testable import StrataCore

/// The backward engine: freed graphs are refused, `retainGraph` keeps them,
/// gradient hooks, and user-defined ops (`Tensor.custom`).
final class AutogradEngineTests: XCTestCase {
    /// A trunk shared by two heads: (x * w).tanh(), then two different losses.
    private func twoLosses(_ x: Tensor, _ w: Tensor, _ v: Tensor) -> (Tensor, Tensor) {
        let trunk = (x * w).tanh()
        let l1 = (trunk * v).sum()
        let l2 = (trunk * trunk).mean()
        return (l1, l2)
    }

    private func parameters() -> (Tensor, Tensor, Tensor) {
        let g = RandomGenerator(seed: 21)
        return (
            Tensor.randn([3, 4], generator: g), Tensor.randn([4], generator: g, requiresGrad: true),
            Tensor.randn([3, 4], generator: g, requiresGrad: true)
        )
    }

    func testTwoLossesWithRetainGraphMatchSummedLoss() {
        let (x, w, v) = parameters()
        let (a1, a2) = twoLosses(x, w, v)
        (a1 + a2).backward()
        let (wSum, vSum) = (w.grad?.scalars ?? [], v.grad?.scalars ?? [])
        w.grad = nil; v.grad = nil

        let (l1, l2) = twoLosses(x, w, v)
        l1.backward(retainGraph: true)
        XCTAssertNoThrow(try l2.validateBackward())
        l2.backward()
        assertClose(w.grad?.scalars ?? [], wSum, rtol: 1e-5, atol: 1e-6)
        assertClose(v.grad?.scalars ?? [], vSum, rtol: 1e-5, atol: 1e-6)
        XCTAssertFalse(wSum.allSatisfy { $0 == 0 })
    }

    func testSecondBackwardThroughFreedGraphIsRefused() {
        let (x, w, v) = parameters()
        let (l1, l2) = twoLosses(x, w, v)
        l1.backward()
        // The trunk's tanh was freed by the first backward: the second loss is refused, naming it.
        XCTAssertThrowsError(try l2.validateBackward()) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("backward through the graph a second time"), message)
            XCTAssertTrue(message.contains("\"tanh\""), message)
            XCTAssertTrue(message.contains("retainGraph: true"), message)
        }
        // The same loss a second time is refused too.
        XCTAssertThrowsError(try l1.validateBackward()) { error in
            XCTAssertTrue("\(error)".contains("\"sum\""), "\(error)")
        }
    }

    func testRetainedGraphAccumulatesOnEachPassAndFreesOnTheLast() {
        let x = Tensor([1, 2, 3], requiresGrad: true)
        let y = x * x
        y.retainsGrad = true
        let loss = y.sum()
        loss.backward(retainGraph: true)
        XCTAssertEqual(x.grad?.scalars, [2, 4, 6])
        XCTAssertEqual(y.grad?.scalars, [1, 1, 1])
        loss.backward(retainGraph: true)
        XCTAssertEqual(x.grad?.scalars, [4, 8, 12])
        // The retained non-leaf's grad accumulates too, and this pass still
        // propagated only its own gradient (x got +2x, not +4x).
        XCTAssertEqual(y.grad?.scalars, [2, 2, 2])
        loss.backward()
        XCTAssertEqual(x.grad?.scalars, [6, 12, 18])
        XCTAssertThrowsError(try loss.validateBackward())
    }

    func testValidateBackwardNamesOtherMistakes() {
        let x = Tensor([1, 2], requiresGrad: true)
        XCTAssertThrowsError(try (x * 2).validateBackward()) { XCTAssertTrue("\($0)".contains("one-element"), "\($0)") }
        XCTAssertThrowsError(try (x * 2).validateBackward(Tensor([1, 2, 3]))) { XCTAssertTrue("\($0)".contains("[3]"), "\($0)") }
        XCTAssertThrowsError(try Tensor([1]).validateBackward()) { XCTAssertTrue("\($0)".contains("does not require grad"), "\($0)") }
    }

    func testHookOnIntermediateReplacesWhatFlowsBack() {
        let x = Tensor([1, -2, 3], requiresGrad: true)
        let y = x * 3
        var seen: [Float] = []
        y.registerHook { g in
            seen = g.scalars; return g * 2
        }
        (y * y).sum().backward()
        // d/dy = 2y = 6x; the hook doubles it, then dy/dx = 3.
        XCTAssertEqual(seen, [6, -12, 18])
        XCTAssertEqual(x.grad?.scalars, [36, -72, 108])
    }

    func testHooksOnLeafSeeThePassGradientChainAndCanBeRemoved() {
        let w = Tensor([1, 2], requiresGrad: true)
        var calls: [[Float]] = []
        let first = w.registerHook { g in
            calls.append(g.scalars); return g + 1
        }
        w.registerHook { g in
            calls.append(g.scalars); return nil
        }
        // w is used twice: the hook sees the sum of both uses, once.
        (w * 2 + w * 3).sum().backward()
        XCTAssertEqual(calls, [[5, 5], [6, 6]])
        XCTAssertEqual(w.grad?.scalars, [6, 6])
        // A second pass: the hooked gradient of that pass is added to grad.
        first.remove()
        first.remove()
        calls = []
        (w * 4).sum().backward()
        XCTAssertEqual(calls, [[4, 4]])
        XCTAssertEqual(w.grad?.scalars, [10, 10])
    }

    func testHookOnRetainedTensorStoresTheReplacedGradient() {
        let x = Tensor([1, 2], requiresGrad: true)
        let y = x * 1
        y.retainsGrad = true
        y.registerHook { g in g * 10 }
        y.sum().backward()
        XCTAssertEqual(y.grad?.scalars, [10, 10])
        XCTAssertEqual(x.grad?.scalars, [10, 10])
    }

    // MARK: Custom ops

    private func cube(_ x: Tensor) -> Tensor {
        Tensor.custom(name: "cube", inputs: [x]) { ctx, xs in
            ctx.saveForBackward(xs[0])
            return xs[0] * xs[0] * xs[0]
        } backward: { ctx, grad in
            let x = ctx.savedTensors[0]
            return [grad * x * x * 3]
        }
    }

    /// sqrt(a² + b²), whose backward reads the saved output: a/h, b/h.
    private func hypot(_ a: Tensor, _ b: Tensor) -> Tensor {
        Tensor.custom(name: "hypot", inputs: [a, b]) { _, xs in
            (xs[0] * xs[0] + xs[1] * xs[1]).sqrt()
        } backward: { ctx, grad in
            let h = ctx.output
            return [
                ctx.needsInputGrad[0] ? grad * ctx.inputs[0] / h : nil,
                ctx.needsInputGrad[1] ? grad * ctx.inputs[1] / h : nil,
            ]
        }
    }

    func testCustomOpsPassGradCheck() {
        let x = randomAwayFromZero([2, 3], seed: 31)
        x.requiresGrad = true
        XCTAssertEqual(cube(x).scalars, (x * x * x).scalars)
        assertGradCheck(gradCheck([x]) { self.cube($0[0]) }, "cube")
        let a = randomAwayFromZero([4], margin: 0.3, seed: 32), b = randomAwayFromZero([4], margin: 0.3, seed: 33)
        a.requiresGrad = true; b.requiresGrad = true
        assertGradCheck(gradCheck([a, b], step: 1e-3) { self.hypot($0[0], $0[1]).exp() }, "hypot")
        // Only one input tracked: the other gets nothing and no error.
        let c = Tensor([3, 4, 5, 6])
        hypot(a, c).sum().backward()
        XCTAssertNil(c.grad)
        XCTAssertNotNil(a.grad)
    }

    func testCustomOpGraphIsFreedAndUntrackedInputsRecordNothing() {
        weak var weakOut: Tensor?
        let x = Tensor([1, 2], requiresGrad: true)
        do {
            let y = cube(x)
            weakOut = y
            y.sum().backward()
        }
        XCTAssertNil(weakOut, "a custom op's output outlived its graph (cycle through the context?)")
        XCTAssertEqual(x.grad?.scalars, [3, 12])
        let plain = cube(Tensor([1, 2]))
        XCTAssertFalse(plain.requiresGrad)
        // A forward that returns its input gets a new tensor; the input stays a leaf.
        let same = Tensor.custom(name: "identity", inputs: [x]) { _, xs in
            xs[0]
        } backward: { _, g in
            [g]
        }
        XCTAssertFalse(same === x)
        XCTAssertTrue(x.isLeaf)
        same.sum().backward()
        XCTAssertEqual(x.grad?.scalars, [4, 13])
    }

    func testCustomOpTakesPartInRetainedAndFreedGraphs() {
        let x = Tensor([1, 2], requiresGrad: true)
        let loss = cube(x).sum()
        loss.backward(retainGraph: true)
        loss.backward()
        XCTAssertEqual(x.grad?.scalars, [6, 24])
        XCTAssertThrowsError(try loss.validateBackward()) { XCTAssertTrue("\($0)".contains("\"sum\""), "\($0)") }
        let other = cube(x)
        let head = other * 2
        head.sum().backward()
        XCTAssertThrowsError(try other.sum().validateBackward()) { XCTAssertTrue("\($0)".contains("\"cube\""), "\($0)") }
    }
}
