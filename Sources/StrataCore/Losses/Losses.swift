import Foundation

/// How a loss combines per-sample values (PyTorch's `reduction`).
public enum Reduction: Sendable {
    case mean, sum
}

/// Checks a [N, C] score tensor against N integer labels in 0..<C.
func validateClassification(_ scores: Tensor, _ labels: [Int], op: String) throws {
    guard scores.rank == 2 else {
        throw StrataError.shapeMismatch(op: op, expected: "[N, C]", actual: scores.shape)
    }
    guard labels.count == scores.shape[0] else {
        throw StrataError.invalidArgument("\(op): \(labels.count) labels for a batch of \(scores.shape[0])")
    }
    let c = scores.shape[1]
    if let bad = labels.first(where: { $0 < 0 || $0 >= c }) {
        throw StrataError.invalidArgument("\(op): label \(bad) out of range 0..<\(c)")
    }
}

/// Softmax cross-entropy of `logits` [N, C] against class indices `labels`
/// (N values in 0..<C), fused and stable (log-sum-exp). PyTorch's
/// `F.cross_entropy`. Backward: (softmax(logits) - onehot(labels)) / N for
/// the mean reduction.
public func crossEntropy(_ logits: Tensor, labels: [Int], reduction: Reduction = .mean) -> Tensor {
    strataTry { try validateClassification(logits, labels, op: "crossEntropy") }
    let (n, c) = (logits.shape[0], logits.shape[1])
    let probs = Tensor(uninitialized: [n, c])
    var total: Double = 0
    let px = logits.data, pp = probs.data
    for r in 0..<n {
        let row = px + r * c, prow = pp + r * c
        let lse = laneLogSumExp(px, base: r * c, extent: c, stride: 1)
        for j in 0..<c { prow[j] = Foundation.exp(row[j] - lse) }
        total += Double(lse) - Double(row[labels[r]])
    }
    let scale: Float = reduction == .mean ? 1 / Float(max(n, 1)) : 1
    let out = Tensor.scalar(Float(total) * scale)
    return out.recordOp("cross_entropy", inputs: [logits]) { g in
        let k = g.data[0] * scale
        for r in 0..<n { pp[r * c + labels[r]] -= 1 }
        for i in 0..<(n * c) { pp[i] *= k }
        logits.accumulateGrad(probs, owned: true)
    }
}

/// Negative log-likelihood of log-probabilities `logProbs` [N, C] at `labels`.
public func nllLoss(_ logProbs: Tensor, labels: [Int], reduction: Reduction = .mean) -> Tensor {
    strataTry { try validateClassification(logProbs, labels, op: "nllLoss") }
    let (n, c) = (logProbs.shape[0], logProbs.shape[1])
    var total: Double = 0
    for r in 0..<n { total -= Double(logProbs.data[r * c + labels[r]]) }
    let scale: Float = reduction == .mean ? 1 / Float(max(n, 1)) : 1
    let out = Tensor.scalar(Float(total) * scale)
    return out.recordOp("nll_loss", inputs: [logProbs]) { g in
        let d = Tensor(zeros: [n, c])
        for r in 0..<n { d.data[r * c + labels[r]] = -g.data[0] * scale }
        logProbs.accumulateGrad(d, owned: true)
    }
}

/// Mean squared error between `prediction` and `target` of the same shape.
public func mseLoss(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
    strataCheck(prediction.shape == target.shape,
                "mseLoss: prediction shape \(prediction.shape) differs from target shape \(target.shape)")
    let n = prediction.count
    var total: Double = 0
    for i in 0..<n { let d = Double(prediction.data[i] - target.data[i]); total += d * d }
    let scale: Float = reduction == .mean ? 1 / Float(max(n, 1)) : 1
    let out = Tensor.scalar(Float(total) * scale)
    return out.recordOp("mse_loss", inputs: [prediction, target]) { g in
        let k = 2 * g.data[0] * scale
        let d = Tensor(uninitialized: prediction.shape)
        for i in 0..<n { d.data[i] = k * (prediction.data[i] - target.data[i]) }
        if prediction.requiresGrad { prediction.accumulateGrad(d) }
        if target.requiresGrad { target.accumulateGrad(unaryMap(d) { -$0 }, owned: true) }
    }
}
