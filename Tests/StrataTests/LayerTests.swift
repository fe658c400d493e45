import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// Module mechanics, Linear, activation layers, losses.
final class LayerTests: XCTestCase {
    func testSequentialKeysMatchPyTorch() {
        let net = Sequential(Linear(4, 3), ReLU(), Sequential(Linear(3, 2, bias: false), Tanh()))
        XCTAssertEqual(net.namedParameters().map(\.0), ["0.weight", "0.bias", "2.0.weight"])
        XCTAssertEqual(net.parameterCount, 4 * 3 + 3 + 3 * 2)
        net.eval()
        XCTAssertTrue(net.namedModules().allSatisfy { !$0.1.training })
        net.train()
        XCTAssertTrue(net.namedModules().allSatisfy { $0.1.training })
    }

    func testLinearMatchesPyTorch() throws {
        let f = try loadFixture("core")["linear"] as! [String: Any]
        let lin = Linear(5, 3)
        lin.weight.assign(Tensor(shape: [3, 5], floats(f["weight"])))
        lin.bias!.assign(Tensor(floats(f["bias"])))
        let x = Tensor(shape: [4, 5], floats(f["x"]), requiresGrad: true)
        let y = lin(x)
        assertClose(y.scalars, floats(f["y"]), rtol: 1e-5, atol: 1e-5)
        y.backward(Tensor(shape: [4, 3], floats(f["g"])))
        assertClose(x.grad!.scalars, floats(f["dx"]), rtol: 1e-5, atol: 1e-5)
        assertClose(lin.weight.grad!.scalars, floats(f["dweight"]), rtol: 1e-5, atol: 1e-5)
        assertClose(lin.bias!.grad!.scalars, floats(f["dbias"]), rtol: 1e-5, atol: 1e-5)
    }

    func testLinearGradCheckAndDefaultInitBound() {
        let lin = Linear(6, 4, generator: RandomGenerator(seed: 11))
        assertGradCheck(gradCheck(lin, input: randomAwayFromZero([3, 6], seed: 12)))
        let noBias = Linear(6, 4, bias: false)
        assertGradCheck(gradCheck(noBias, input: randomAwayFromZero([2, 6], seed: 13)))
        // PyTorch's default bound 1/sqrt(fanIn); with 2400 draws the extremes come close.
        let big = Linear(100, 24, generator: RandomGenerator(seed: 1))
        let w = big.weight.scalars
        XCTAssertLessThanOrEqual(w.map(abs).max()!, 0.1)
        XCTAssertGreaterThan(w.map(abs).max()!, 0.099)
        XCTAssertEqual(Double(w.reduce(0, +)) / Double(w.count), 0, accuracy: 0.005)
    }

    func testLinearRejectsWrongShapeWithMessage() {
        let lin = Linear(5, 3)
        XCTAssertThrowsError(try lin.validate(inputShape: [2, 4])) { error in
            XCTAssertEqual("\(error)", "Linear(5, 3): expected input of shape [N, 5], got [2, 4]")
        }
        XCTAssertNoThrow(try lin.validate(inputShape: [2, 5]))
    }

    func testActivationValuesMatchPyTorch() throws {
        let f = try loadFixture("core")["activations"] as! [String: Any]
        let x = Tensor(floats(f["x"]))
        assertClose(x.gelu().scalars, floats(f["gelu"]), rtol: 1e-5, atol: 1e-6)
        assertClose(x.sigmoid().scalars, floats(f["sigmoid"]), rtol: 1e-5, atol: 1e-6)
        assertClose(x.tanh().scalars, floats(f["tanh"]), rtol: 1e-5, atol: 1e-6)
        assertClose(x.leakyRelu().scalars, floats(f["leaky_relu"]), rtol: 1e-5, atol: 1e-6)
    }

    func testDropoutScalesInTrainAndIsIdentityInEval() {
        let d = Dropout(p: 0.25, generator: RandomGenerator(seed: 2))
        let x = Tensor.ones([10_000])
        let y = d(x).scalars
        XCTAssertTrue(y.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        let kept = Double(y.filter { $0 != 0 }.count) / 10_000
        XCTAssertEqual(kept, 0.75, accuracy: 0.02)
        d.eval()
        XCTAssertEqual(d(x).scalars, x.scalars)
    }

    func testCrossEntropyMatchesPyTorch() throws {
        let fx = try loadFixture("core")
        for key in ["cross_entropy_mean", "cross_entropy_sum", "cross_entropy_extreme"] {
            let f = fx[key] as! [String: Any]
            let labels = ints(f["labels"])
            let logits = Tensor(shape: [labels.count, floats(f["logits"]).count / labels.count], floats(f["logits"]), requiresGrad: true)
            let loss = crossEntropy(logits, labels: labels, reduction: key.hasSuffix("sum") ? .sum : .mean)
            XCTAssertTrue(loss.item.isFinite, key)
            assertClose([loss.item], [floats([f["loss"]!])[0]], rtol: 1e-5, atol: 1e-5, key)
            loss.backward()
            assertClose(logits.grad!.scalars, floats(f["dlogits"]), rtol: 1e-4, atol: 1e-6, key)
        }
    }

    func testNLLAndMSEMatchPyTorch() throws {
        let fx = try loadFixture("core")
        let n = fx["nll"] as! [String: Any]
        let lp = Tensor(shape: [3, 5], floats(n["logp"]), requiresGrad: true)
        let l1 = nllLoss(lp, labels: ints(n["labels"]))
        assertClose([l1.item], floats([n["loss"]!]), rtol: 1e-5)
        l1.backward()
        assertClose(lp.grad!.scalars, floats(n["dlogp"]))
        let m = fx["mse"] as! [String: Any]
        let p = Tensor(shape: [2, 3], floats(m["pred"]), requiresGrad: true)
        let l2 = mseLoss(p, Tensor(shape: [2, 3], floats(m["target"])))
        assertClose([l2.item], floats([m["loss"]!]), rtol: 1e-5)
        l2.backward()
        assertClose(p.grad!.scalars, floats(m["dpred"]), rtol: 1e-5)
    }

    func testLossGradChecks() {
        let logits = randomAwayFromZero([4, 5], seed: 21)
        logits.requiresGrad = true
        assertGradCheck(gradCheck([logits]) { crossEntropy($0[0], labels: [0, 4, 2, 2]) })
        assertGradCheck(gradCheck([logits]) { nllLoss($0[0].logSoftmax(), labels: [1, 1, 3, 0], reduction: .sum) })
        let t = randomAwayFromZero([4, 5], seed: 22)
        t.requiresGrad = true
        assertGradCheck(gradCheck([logits, t]) { mseLoss($0[0], $0[1]) })
    }

    func testClassificationLabelErrorsAreNamed() {
        XCTAssertThrowsError(try validateClassification(Tensor(zeros: [2, 3]), [0, 3], op: "crossEntropy")) {
            XCTAssertEqual("\($0)", "crossEntropy: label 3 out of range 0..<3")
        }
        XCTAssertThrowsError(try validateClassification(Tensor(zeros: [2, 3]), [0], op: "crossEntropy")) {
            XCTAssertEqual("\($0)", "crossEntropy: 1 labels for a batch of 2")
        }
    }
}
