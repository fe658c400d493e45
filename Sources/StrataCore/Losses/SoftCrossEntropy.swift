import Foundation

/// Cross-entropy against class probabilities (soft labels: mixup,
/// distillation), PyTorch's `F.cross_entropy` with a floating-point target.

/// Checks soft cross-entropy's arguments: logits [N, C, d...], a target of
/// the same shape, weight [C], labelSmoothing in [0, 1].
@discardableResult
func validateSoftCrossEntropy(_ logits: Tensor, _ target: Tensor, weight: Tensor?, labelSmoothing: Float) throws -> ClassLayout {
    let op = "crossEntropy(probabilities:)"
    guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
        throw StrataError.invalidArgument("\(op): labelSmoothing must be in [0, 1], got \(labelSmoothing)")
    }
    let lay = try validateClassScores(logits, weight: weight, op: op)
    try validateSameShape(logits, target, op: op)
    return lay
}

/// Softmax cross-entropy of `logits` [N, C] (or [N, C, d1, ...]) against
/// class probabilities `target` of the same shape, fused and stable. With
/// t' = (1 - ε) t + ε / C (label smoothing ε) and class weights w:
///
///     loss = -Σ_c w[c] · t'[c] · logSoftmax(logits)[c]
///
/// per sample and position. Unlike class indices, `.mean` divides by the
/// number of samples and positions (N · d1 · ...), not by the weights, as
/// PyTorch does. Backward: dlogits[j] = k (Σ_c w[c] t'[c] · softmax[j] -
/// w[j] t'[j]); dtarget[c] = -k (1 - ε) w[c] logSoftmax[c].
public func crossEntropy(
    _ logits: Tensor, probabilities target: Tensor, weight: Tensor? = nil, labelSmoothing: Float = 0,
    reduction: Reduction = .mean
) -> Tensor {
    let lay = strataTry { try validateSoftCrossEntropy(logits, target, weight: weight, labelSmoothing: labelSmoothing) }
    let (c, s) = (lay.c, lay.s)
    let w: [Float]? = weight?.scalars
    let keep = 1 - labelSmoothing, share = labelSmoothing / Float(c)
    let probs = Tensor(uninitialized: logits.shape)
    let lses = Tensor(uninitialized: [lay.n * s])
    let perTarget = reduction == .none ? Tensor(uninitialized: lay.lossShape) : nil
    let px = logits.data, pt = target.data, pp = probs.data
    var total: Double = 0
    forEachTarget(lay) { r, base in
        let lse = laneLogSumExp(px, base: base, extent: c, stride: s)
        lses.data[r] = lse
        var l: Double = 0
        for j in 0..<c {
            let i = base + j * s
            pp[i] = Foundation.exp(px[i] - lse)
            l -= Double((w?[j] ?? 1) * (keep * pt[i] + share)) * (Double(px[i]) - Double(lse))
        }
        perTarget?.data[r] = Float(l)
        total += l
    }
    let output = LossOutput(reduction, divisor: Double(lay.n * s))
    let out = output.make(values: perTarget, total: total, shape: lay.lossShape)
    return out.recordOp("cross_entropy_probabilities", inputs: [logits, target]) { g in
        let factor = output.factor(g)
        let dx = logits.requiresGrad ? Tensor(uninitialized: logits.shape) : nil
        let dt = target.requiresGrad ? Tensor(uninitialized: target.shape) : nil
        let px = logits.data, pt = target.data, pp = probs.data
        forEachTarget(lay) { r, base in
            let k = factor(r)
            if let d = dx?.data {
                var mass: Float = 0
                for j in 0..<c { mass += (w?[j] ?? 1) * (keep * pt[base + j * s] + share) }
                for j in 0..<c {
                    let i = base + j * s
                    d[i] = k * (mass * pp[i] - (w?[j] ?? 1) * (keep * pt[i] + share))
                }
            }
            if let d = dt?.data {
                let lse = lses.data[r]
                for j in 0..<c { let i = base + j * s; d[i] = -k * keep * (w?[j] ?? 1) * (px[i] - lse) }
            }
        }
        if let dx { logits.accumulateGrad(dx, owned: true) }
        if let dt { target.accumulateGrad(dt, owned: true) }
    }
}
