import Foundation
import XCTest

@testable import StrataCore

/// Losses: PyTorch fixtures (losses.json, made by make_loss_fixtures.py),
/// finite differences, naive references written plainly here, and the
/// argument errors.
final class LossTests: XCTestCase {
    // MARK: PyTorch fixtures

    /// A fixture number list; non-finite values are stored as strings.
    private func values(_ any: Any?) -> [Float] {
        ((any as? [Any]) ?? []).map { v in
            if let n = v as? NSNumber { return n.floatValue }
            switch v as? String {
            case "inf": return .infinity
            case "-inf": return -.infinity
            default: return .nan
            }
        }
    }

    /// Like `assertClose`, but a NaN expected value needs a NaN.
    private func assertMatches(
        _ actual: [Float], _ expected: [Float], _ message: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            let ok = e.isNaN ? a.isNaN : (a == e || abs(a - e) <= 2e-5 + 2e-4 * abs(e))
            if !ok { XCTFail("\(message) element \(i): \(a) vs PyTorch \(e)", file: file, line: line); return }
        }
    }

    private func reduction(_ name: Any?) -> Reduction {
        switch name as? String ?? "mean" {
        case "none": return .none
        case "sum": return .sum
        default: return .mean
        }
    }

    private func optionalTensor(_ c: [String: Any], _ key: String) -> Tensor? {
        guard c[key] != nil else { return nil }
        return Tensor(shape: ints(c[key + "_shape"]), values(c[key]))
    }

    /// Calls the Strata loss a fixture case names.
    private func strataLoss(_ c: [String: Any], _ x: Tensor, _ t: Tensor?) -> Tensor? {
        let red = reduction(c["reduction"])
        let weight = optionalTensor(c, "weight")
        let labels = ints(c["labels"])
        let float = { (key: String, fallback: Float) in (c[key] as? NSNumber)?.floatValue ?? fallback }
        switch c["loss"] as? String {
        case "cross_entropy":
            return crossEntropy(
                x, labels: labels, weight: weight, ignoreIndex: (c["ignore_index"] as? Int) ?? -100,
                labelSmoothing: float("label_smoothing", 0), reduction: red)
        case "nll_loss":
            return nllLoss(x, labels: labels, weight: weight, reduction: red)
        default: break
        }
        guard let t else { return nil }
        switch c["loss"] as? String {
        case "cross_entropy_prob":
            return crossEntropy(x, probabilities: t, weight: weight, labelSmoothing: float("label_smoothing", 0), reduction: red)
        case "bce": return binaryCrossEntropy(x, t, weight: weight, reduction: red)
        case "bce_logits":
            return binaryCrossEntropyWithLogits(x, t, weight: weight, posWeight: optionalTensor(c, "pos_weight"), reduction: red)
        case "l1": return l1Loss(x, t, reduction: red)
        case "mse": return mseLoss(x, t, reduction: red)
        case "smooth_l1": return smoothL1Loss(x, t, beta: float("beta", 1), reduction: red)
        case "huber": return huberLoss(x, t, delta: float("delta", 1), reduction: red)
        case "kl_div":
            let kl: KLDivReduction =
                switch c["reduction"] as? String ?? "mean" {
                case "none": .none
                case "sum": .sum
                case "batchmean": .batchMean
                default: .mean
                }
            return klDiv(x, t, reduction: kl, logTarget: (c["log_target"] as? Bool) ?? false)
        default: return nil
        }
    }

    func testEveryLossMatchesPyTorch() throws {
        let fx = try loadFixture("losses")
        let cases = try XCTUnwrap(fx["cases"] as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 70)
        var seen = Set<String>()
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let x = Tensor(shape: ints(c["shape"]), values(c["input"]), requiresGrad: true)
            let t =
                c["target"] == nil
                ? nil
                : Tensor(
                    shape: ints(c["shape"]), values(c["target"]),
                    requiresGrad: c["grad_target"] != nil)
            guard let loss = strataLoss(c, x, t) else { XCTFail("\(name): unknown loss \(c["loss"] ?? "")"); continue }
            seen.insert(c["loss"] as? String ?? "")
            XCTAssertEqual(loss.shape, ints(c["out_shape"]), name)
            assertMatches(loss.scalars, values(c["out"]), "\(name) loss")
            loss.backward(Tensor(shape: loss.shape, values(c["upstream"])))
            assertMatches(x.grad?.scalars ?? [], values(c["grad_input"]), "\(name) input gradient")
            if c["grad_target"] != nil {
                assertMatches(t?.grad?.scalars ?? [], values(c["grad_target"]), "\(name) target gradient")
            }
        }
        XCTAssertEqual(
            seen, ["cross_entropy", "cross_entropy_prob", "nll_loss", "bce", "bce_logits", "l1", "mse", "smooth_l1", "huber", "kl_div"])
    }

    // MARK: Finite differences

    private func input(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        let t = Tensor.randn(shape, std: scale, generator: RandomGenerator(seed: seed))
        t.requiresGrad = true
        return t
    }

    func testCrossEntropyGradCheck() {
        let x = input([5, 4], seed: 1, scale: 2)
        let w = Tensor([0.5, 2, 1, 0.25])
        let labels = [0, 3, -100, 1, 1]
        for red in [Reduction.mean, .sum, .none] {
            assertGradCheck(gradCheck([x]) { crossEntropy($0[0], labels: labels, reduction: red) }, "plain \(red)")
            assertGradCheck(
                gradCheck([x]) {
                    crossEntropy($0[0], labels: labels, weight: w, labelSmoothing: 0.2, reduction: red)
                }, "weight+smoothing+ignore \(red)")
        }
        let seg = input([2, 3, 2, 2], seed: 2)
        assertGradCheck(
            gradCheck([seg]) {
                crossEntropy($0[0], labels: [0, 2, -100, 1, 1, 1, 2, 0], weight: Tensor([1, 0.3, 2]), labelSmoothing: 0.1)
            }, "spatial")
        assertGradCheck(gradCheck([x]) { nllLoss($0[0].logSoftmax(), labels: labels, weight: w, reduction: .mean) }, "nll")
        let soft = Tensor.rand([5, 4], generator: RandomGenerator(seed: 14))
        soft.requiresGrad = true
        for red in [Reduction.mean, .sum, .none] {
            assertGradCheck(
                gradCheck([x, soft]) {
                    crossEntropy($0[0], probabilities: $0[1], weight: w, labelSmoothing: 0.1, reduction: red)
                }, "probabilities \(red)")
        }
    }

    func testBinaryCrossEntropyGradCheck() {
        let p = Tensor.rand([3, 4], low: 0.1, high: 0.9, generator: RandomGenerator(seed: 3))
        let t = Tensor.rand([3, 4], generator: RandomGenerator(seed: 4))
        p.requiresGrad = true
        t.requiresGrad = true
        let w = Tensor([0.5, 1.5, 2, 1])
        for red in [Reduction.mean, .sum, .none] {
            assertGradCheck(gradCheck([p, t], step: 1e-3) { binaryCrossEntropy($0[0], $0[1], weight: w, reduction: red) }, "bce \(red)")
            assertGradCheck(
                gradCheck([input([3, 4], seed: 5, scale: 3), t]) {
                    binaryCrossEntropyWithLogits($0[0], $0[1], weight: w, posWeight: Tensor([3, 0.5, 1, 2]), reduction: red)
                }, "bce with logits \(red)")
        }
    }

    func testRegressionAndDivergenceGradCheck() {
        // Differences kept away from 0 and from beta/delta (the kinks).
        let a = input([3, 4], seed: 6)
        let b = Tensor(shape: [3, 4], (0..<12).map { i in a.data[i] + [0.25, -0.7, 1.8, -2.3][i % 4] }, requiresGrad: true)
        for red in [Reduction.mean, .sum, .none] {
            assertGradCheck(gradCheck([a, b]) { l1Loss($0[0], $0[1], reduction: red) }, "l1 \(red)")
            assertGradCheck(gradCheck([a, b]) { smoothL1Loss($0[0], $0[1], beta: 0.5, reduction: red) }, "smoothL1 \(red)")
            assertGradCheck(gradCheck([a, b]) { smoothL1Loss($0[0], $0[1], beta: 0, reduction: red) }, "smoothL1 beta 0 \(red)")
            assertGradCheck(gradCheck([a, b]) { huberLoss($0[0], $0[1], delta: 1, reduction: red) }, "huber \(red)")
        }
        let lq = input([3, 4], seed: 7)
        let tp = Tensor.rand([3, 4], low: 0.05, high: 1, generator: RandomGenerator(seed: 8))
        tp.requiresGrad = true
        for red in [KLDivReduction.mean, .sum, .none, .batchMean] {
            assertGradCheck(gradCheck([lq, tp], step: 1e-3) { klDiv($0[0], $0[1], reduction: red) }, "kl \(red)")
            assertGradCheck(
                gradCheck(
                    [lq, lq.detached().copy()].map {
                        $0.requiresGrad = true; return $0
                    }
                ) {
                    klDiv($0[0], $0[1], reduction: red, logTarget: true)
                }, "kl logTarget \(red)")
        }
    }

    // MARK: Naive references

    /// PyTorch's documented formula, written out in Double over one row at a time.
    private func naiveCrossEntropy(
        _ x: [Float], c: Int, labels: [Int], weight: [Double], ignore: Int,
        smoothing: Double
    ) -> (perRow: [Double], mean: Double) {
        var perRow: [Double] = [], num = 0.0, den = 0.0
        for (r, y) in labels.enumerated() {
            let row = x[(r * c)..<(r * c + c)].map(Double.init)
            let lse = log(row.map { exp($0) }.reduce(0, +))
            guard y != ignore else { perRow.append(0); continue }
            var l = (1 - smoothing) * weight[y] * (lse - row[y])
            for j in 0..<c { l += smoothing / Double(c) * weight[j] * (lse - row[j]) }
            perRow.append(l)
            num += l
            den += weight[y]
        }
        return (perRow, num / den)
    }

    func testCrossEntropyMatchesNaiveFormula() {
        let x = Tensor.randn([7, 4], std: 3, generator: RandomGenerator(seed: 9))
        let labels = [3, 0, -1, 2, 2, -1, 1]
        let w: [Double] = [0.2, 1.7, 1, 3]
        let ref = naiveCrossEntropy(x.scalars, c: 4, labels: labels, weight: w, ignore: -1, smoothing: 0.3)
        let wt = Tensor(w.map(Float.init))
        let none = crossEntropy(x, labels: labels, weight: wt, ignoreIndex: -1, labelSmoothing: 0.3, reduction: .none)
        XCTAssertEqual(none.shape, [7])
        assertClose(none.scalars, ref.perRow.map(Float.init), rtol: 1e-5, atol: 1e-5)
        let mean = crossEntropy(x, labels: labels, weight: wt, ignoreIndex: -1, labelSmoothing: 0.3)
        assertClose([mean.item], [Float(ref.mean)], rtol: 1e-5)
        // One-hot probabilities give the class-index loss (no weights: the means then agree).
        let onehot = Tensor(zeros: [7, 4])
        for (r, y) in [3, 0, 1, 2, 2, 0, 1].enumerated() { onehot[r, y] = 1 }
        assertClose(
            [crossEntropy(x, probabilities: onehot, labelSmoothing: 0.3).item],
            [crossEntropy(x, labels: [3, 0, 1, 2, 2, 0, 1], labelSmoothing: 0.3).item], rtol: 1e-5)
        let plain = naiveCrossEntropy(x.scalars, c: 4, labels: [3, 0, 1, 2, 2, 0, 1], weight: [1, 1, 1, 1], ignore: -100, smoothing: 0)
        assertClose([crossEntropy(x, labels: [3, 0, 1, 2, 2, 0, 1]).item], [Float(plain.mean)], rtol: 1e-5)
    }

    func testBinaryLossesMatchNaiveFormulas() {
        let z = Tensor.randn([10], std: 3, generator: RandomGenerator(seed: 10))
        let t = Tensor.rand([10], generator: RandomGenerator(seed: 11))
        let (w, pw): (Float, Float) = (1.5, 2.5)
        var naive: [Float] = []
        for i in 0..<10 {
            let (x, y) = (Double(z.data[i]), Double(t.data[i]))
            let s = 1 / (1 + exp(-x))
            naive.append(Float(-Double(w) * (Double(pw) * y * log(s) + (1 - y) * log(1 - s))))
        }
        let got = binaryCrossEntropyWithLogits(z, t, weight: Tensor([w]), posWeight: Tensor([pw]), reduction: .none)
        assertClose(got.scalars, naive, rtol: 1e-5, atol: 1e-6)
        // On probabilities, BCE of sigmoid(z) is the same loss without posWeight.
        let p = Tensor(z.scalars.map { 1 / (1 + exp(-$0)) })
        let viaLogits = binaryCrossEntropyWithLogits(z, t, reduction: .sum).item
        XCTAssertEqual(binaryCrossEntropy(p, t, reduction: .sum).item, viaLogits, accuracy: 1e-4 * abs(viaLogits))
        // Logits of +-1000 stay finite and exact: the wrong-side loss is |x|.
        let big = binaryCrossEntropyWithLogits(Tensor([1000, -1000, 1000]), Tensor([0, 1, 1]), reduction: .none)
        XCTAssertEqual(big.scalars, [1000, 1000, 0])
    }

    func testRegressionAndKLMatchNaiveFormulas() {
        let d: [Float] = [-3, -1, -0.4, 0, 0.2, 0.9, 2.5]
        let x = Tensor(d), zero = Tensor(zeros: [7])
        assertClose(
            huberLoss(x, zero, delta: 0.5, reduction: .none).scalars,
            d.map { abs($0) < 0.5 ? 0.5 * $0 * $0 : 0.5 * (abs($0) - 0.25) })
        assertClose(
            smoothL1Loss(x, zero, beta: 2, reduction: .none).scalars,
            d.map { abs($0) < 2 ? 0.5 * $0 * $0 / 2 : abs($0) - 1 })
        XCTAssertEqual(smoothL1Loss(x, zero, beta: 0, reduction: .none).scalars, l1Loss(x, zero, reduction: .none).scalars)
        // Huber(delta) = delta * SmoothL1(beta = delta).
        assertClose([huberLoss(x, zero, delta: 0.7).item], [0.7 * smoothL1Loss(x, zero, beta: 0.7).item])
        // KL of two distributions over 3 classes, batch of 2.
        let q: [[Double]] = [[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]], p: [[Double]] = [[0.1, 0.1, 0.8], [0.4, 0.4, 0.2]]
        var kl = 0.0
        for r in 0..<2 { for j in 0..<3 { kl += p[r][j] * log(p[r][j] / q[r][j]) } }
        let logQ = Tensor(shape: [2, 3], q.flatMap { $0.map { Float(log($0)) } })
        let target = Tensor(shape: [2, 3], p.flatMap { $0.map(Float.init) })
        assertClose([klDiv(logQ, target, reduction: .batchMean).item], [Float(kl / 2)], rtol: 1e-5)
        assertClose([klDiv(logQ, target, reduction: .mean).item], [Float(kl / 6)], rtol: 1e-5)
        let logP = Tensor(target.scalars.map { log($0) })
        assertClose([klDiv(logQ, Tensor(shape: [2, 3], logP.scalars), reduction: .sum, logTarget: true).item], [Float(kl)], rtol: 1e-5)
    }

    // MARK: Semantics PyTorch has

    func testAllIgnoredMeanIsNaNAndGivesZeroGradient() {
        let x = Tensor.randn([3, 4], generator: RandomGenerator(seed: 12))
        x.requiresGrad = true
        let loss = crossEntropy(x, labels: [-100, -100, -100], weight: Tensor([1, 2, 3, 4]), labelSmoothing: 0.1)
        XCTAssertTrue(loss.item.isNaN)
        loss.backward()
        XCTAssertEqual(x.grad?.scalars, [Float](repeating: 0, count: 12))
        XCTAssertEqual(crossEntropy(x, labels: [-100, -100, -100], reduction: .sum).item, 0)
    }

    func testIgnoredRowsDoNotChangeTheLoss() {
        let x = Tensor.randn([4, 3], generator: RandomGenerator(seed: 13))
        let w = Tensor([0.5, 1, 2])
        let withIgnored = crossEntropy(x, labels: [2, 7, 0, 1], weight: w, ignoreIndex: 7, labelSmoothing: 0.2)
        let rows = Tensor(shape: [3, 3], [0, 2, 3].flatMap { r in (0..<3).map { x.data[r * 3 + $0] } })
        let without = crossEntropy(rows, labels: [2, 0, 1], weight: w, labelSmoothing: 0.2)
        XCTAssertEqual(withIgnored.item, without.item, accuracy: 1e-6)
    }

    // MARK: Bad arguments

    private func assertMessage<R>(
        _ body: @autoclosure () throws -> R, _ expected: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) {
            XCTAssertEqual("\($0)", expected, file: file, line: line)
        }
    }

    func testBadArgumentsAreNamed() {
        let x = Tensor(zeros: [2, 3])
        assertMessage(
            try validateCrossEntropy(x, [0, 3], weight: nil, ignoreIndex: -100, labelSmoothing: 0),
            "crossEntropy: label 3 at position 1 out of range 0..<3 and not ignoreIndex -100")
        assertMessage(
            try validateCrossEntropy(x, [0, 1], weight: Tensor([1, 2]), ignoreIndex: -100, labelSmoothing: 0),
            "crossEntropy: weight of shape [2] for 3 classes; needs shape [3]")
        assertMessage(
            try validateCrossEntropy(x, [0, 1], weight: nil, ignoreIndex: -100, labelSmoothing: -0.1),
            "crossEntropy: labelSmoothing must be in [0, 1], got -0.1")
        assertMessage(
            try validateCrossEntropy(x, [0, 1], weight: nil, ignoreIndex: -100, labelSmoothing: 1.5),
            "crossEntropy: labelSmoothing must be in [0, 1], got 1.5")
        assertMessage(
            try validateCrossEntropy(Tensor(zeros: [2, 3, 2]), [0, 1, 2], weight: nil, ignoreIndex: -100, labelSmoothing: 0),
            "crossEntropy: 3 labels for input [2, 3, 2]; needs one per sample and position, 4 for [2, 2]")
        assertMessage(
            try validateClassification(Tensor(zeros: [3]), [0], op: "nllLoss"),
            "nllLoss: expected input of shape [N, C] or [N, C, d1, ...], got [3]")
        assertMessage(
            try validateClassification(x, [-100, -5], ignoreIndex: -100, op: "nllLoss"),
            "nllLoss: label -5 at position 1 out of range 0..<3 and not ignoreIndex -100")
        assertMessage(
            try validateBinaryCrossEntropy(Tensor([0.5, 1.2]), Tensor([0, 1]), weight: nil),
            "binaryCrossEntropy: input element 1 is 1.2; inputs must be probabilities in [0, 1] (use binaryCrossEntropyWithLogits on logits)"
        )
        assertMessage(
            try validateBinaryCrossEntropy(x, x, weight: Tensor([1, 2])),
            "binaryCrossEntropy: weight of shape [2] does not broadcast to the input shape [2, 3]")
        assertMessage(
            try validateBroadcast(Tensor([1, 2]), to: [2, 3], op: "binaryCrossEntropyWithLogits", what: "posWeight"),
            "binaryCrossEntropyWithLogits: posWeight of shape [2] does not broadcast to the input shape [2, 3]")
        assertMessage(
            try validateSameShape(x, Tensor(zeros: [3, 2]), op: "binaryCrossEntropyWithLogits"),
            "binaryCrossEntropyWithLogits: input shape [2, 3] differs from target shape [3, 2]")
        assertMessage(
            try validateRegression(x, Tensor(zeros: [6]), op: "l1Loss"),
            "l1Loss: input shape [2, 3] differs from target shape [6]")
        assertMessage(
            try validateRegression(x, x, op: "smoothL1Loss", parameter: ("beta", -1, true)),
            "smoothL1Loss: beta must be >= 0, got -1.0")
        assertMessage(
            try validateRegression(x, x, op: "huberLoss", parameter: ("delta", 0, false)),
            "huberLoss: delta must be > 0, got 0.0")
        assertMessage(
            try validateKLDiv(Tensor.scalar(0), Tensor.scalar(1), reduction: .batchMean),
            "klDiv: batchMean needs a batch dimension; input is a scalar")
        assertMessage(
            try validateSoftCrossEntropy(x, Tensor(zeros: [2, 4]), weight: nil, labelSmoothing: 0),
            "crossEntropy(probabilities:): input shape [2, 3] differs from target shape [2, 4]")
        assertMessage(
            try validateSoftCrossEntropy(x, x, weight: Tensor([1, 1, 1, 1]), labelSmoothing: 0),
            "crossEntropy(probabilities:): weight of shape [4] for 3 classes; needs shape [3]")
        XCTAssertNoThrow(try validateClassification(x, [2, -100], ignoreIndex: -100, op: "nllLoss"))
        XCTAssertNoThrow(try validateBinaryCrossEntropy(Tensor([0, 1]), Tensor([1, 0]), weight: Tensor([2])))
    }
}
