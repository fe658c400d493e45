import Foundation

/// Classification losses over class indices: cross-entropy and negative
/// log-likelihood, PyTorch's `F.cross_entropy` and `F.nll_loss`.
///
/// Layout (as in PyTorch): scores are [N, C] or [N, C, d1, d2, ...] with the
/// classes on axis 1 (for example [N, C, H, W] for segmentation). `labels`
/// holds one class index per sample and position, N × d1 × d2 × ... values
/// in row-major order of [N, d1, d2, ...]; a label equal to `ignoreIndex`
/// (PyTorch's default -100) contributes nothing to the loss, its gradient or
/// the mean's denominator. With `.none` the loss has shape [N, d1, ...].
///
/// Class weights `weight` ([C]) scale each target's term by the weight of its
/// class, and `.mean` divides by the summed weights of the counted targets
/// (not by their number), as PyTorch does.

/// Where the classes and positions of a classification input are.
struct ClassLayout {
    /// Samples, classes, positions per sample (product of the dims after the class axis).
    let n: Int, c: Int, s: Int
    /// Shape of the unreduced loss: [N, d1, d2, ...].
    var lossShape: [Int]
}

/// Checks that scores are [N, C, d...] and an optional class weight is [C];
/// errors name `op`.
func validateClassScores(_ scores: Tensor, weight: Tensor?, op: String) throws -> ClassLayout {
    guard scores.rank >= 2 else {
        throw StrataError.shapeMismatch(op: op, expected: "[N, C] or [N, C, d1, ...]", actual: scores.shape)
    }
    let n = scores.shape[0], c = scores.shape[1]
    let positions = Array(scores.shape.dropFirst(2))
    if let w = weight, w.shape != [c] {
        throw StrataError.invalidArgument("\(op): weight of shape \(w.shape) for \(c) classes; needs shape [\(c)]")
    }
    return ClassLayout(n: n, c: c, s: positions.reduce(1, *), lossShape: [n] + positions)
}

/// Checks scores [N, C, d...] against their labels (one per sample and
/// position, each in 0..<C or equal to `ignoreIndex`) and an optional class
/// weight [C]. Errors name `op` and the offending values.
@discardableResult
func validateClassification(
    _ scores: Tensor, _ labels: [Int], weight: Tensor? = nil, ignoreIndex: Int? = nil, op: String
) throws -> ClassLayout {
    let lay = try validateClassScores(scores, weight: weight, op: op)
    let (c, targets) = (lay.c, lay.n * lay.s)
    guard labels.count == targets else {
        if scores.rank == 2 {
            throw StrataError.invalidArgument("\(op): \(labels.count) labels for a batch of \(lay.n)")
        }
        throw StrataError.invalidArgument(
            "\(op): \(labels.count) labels for input \(scores.shape); needs one per sample and position, \(targets) for \(lay.lossShape)")
    }
    if let at = labels.firstIndex(where: { ($0 < 0 || $0 >= c) && $0 != ignoreIndex }) {
        let bad = labels[at]
        if let ignore = ignoreIndex {
            throw StrataError.invalidArgument(
                "\(op): label \(bad) at position \(at) out of range 0..<\(c) and not ignoreIndex \(ignore)")
        }
        throw StrataError.invalidArgument("\(op): label \(bad) out of range 0..<\(c)")
    }
    return lay
}

/// Visits every target of `lay`: `body(r, base, y)` gets the target's index
/// r (row-major over [N, d1, ...]), the offset `base` of its class-0 score
/// (class j is at base + j · s) and its label y, and returns its loss. Ignored
/// targets are skipped and get 0 in `perTarget` (the `.none` output, when
/// given). Returns the summed loss and the summed weights w[y] of the
/// counted targets (the `.mean` denominator).
@inline(__always)
func sumCountedTargets(
    _ lay: ClassLayout, _ labels: [Int], ignoreIndex: Int, weight w: [Float]?, perTarget: Tensor?,
    _ body: (_ r: Int, _ base: Int, _ y: Int) -> Double
) -> (total: Double, counted: Double) {
    var total: Double = 0, counted: Double = 0
    for sample in 0..<lay.n {
        for q in 0..<lay.s {
            let r = sample * lay.s + q, y = labels[r]
            if y == ignoreIndex { perTarget?.data[r] = 0; continue }
            let l = body(r, sample * lay.c * lay.s + q, y)
            perTarget?.data[r] = Float(l)
            total += l
            counted += Double(w?[y] ?? 1)
        }
    }
    return (total, counted)
}

/// Calls `body(r, base)` for every sample and position of `lay`: r is the
/// target index (row-major over [N, d1, ...]), base the offset of its
/// class-0 score. Ignored targets are visited too; backward passes decide
/// what they write.
@inline(__always)
func forEachTarget(_ lay: ClassLayout, _ body: (_ r: Int, _ base: Int) -> Void) {
    for sample in 0..<lay.n {
        for q in 0..<lay.s { body(sample * lay.s + q, sample * lay.c * lay.s + q) }
    }
}

/// `crossEntropy`'s argument checks: `validateClassification` and a
/// `labelSmoothing` in [0, 1] (PyTorch's range).
@discardableResult
func validateCrossEntropy(
    _ logits: Tensor, _ labels: [Int], weight: Tensor?, ignoreIndex: Int, labelSmoothing: Float
) throws -> ClassLayout {
    guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
        throw StrataError.invalidArgument("crossEntropy: labelSmoothing must be in [0, 1], got \(labelSmoothing)")
    }
    return try validateClassification(logits, labels, weight: weight, ignoreIndex: ignoreIndex, op: "crossEntropy")
}

/// Softmax cross-entropy of `logits` [N, C] (or [N, C, d1, ...]) against
/// class indices `labels`, fused and stable (log-sum-exp). PyTorch's
/// `F.cross_entropy(logits, labels, weight, ignore_index=ignoreIndex,
/// reduction, label_smoothing=labelSmoothing)`.
///
/// With log-probabilities lp = logSoftmax(logits), class weights w (1 when
/// `weight` is nil), smoothing ε and C classes, a counted target y has
///
///     loss = (1 - ε) · w[y] · (-lp[y]) + (ε / C) · Σ_c w[c] · (-lp[c])
///
/// and an ignored one 0. `.mean` divides the sum by Σ w[y] over the counted
/// targets (their number without weights); NaN when every target is ignored,
/// as in PyTorch. Backward, fused: for a counted row with factor k (the
/// incoming gradient, divided by the mean's denominator),
///
///     dlogits[j] = k · ((1 - ε) w[y] + (ε / C) Σ_c w[c]) · softmax[j] - k · (1 - ε) w[y] · [j == y] - k · (ε / C) w[j]
///
/// which is k · (softmax - onehot(y)) in the default case.
public func crossEntropy(
    _ logits: Tensor, labels: [Int], weight: Tensor? = nil, ignoreIndex: Int = -100,
    labelSmoothing: Float = 0, reduction: Reduction = .mean
) -> Tensor {
    let lay = strataTry {
        try validateCrossEntropy(logits, labels, weight: weight, ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing)
    }
    let (c, s) = (lay.c, lay.s)
    let w: [Float]? = weight?.scalars
    let eps = Double(labelSmoothing)
    let smoothing = labelSmoothing > 0
    let weightTotal = w.map { $0.reduce(0) { $0 + Double($1) } } ?? Double(c)
    let probs = Tensor(uninitialized: logits.shape)
    let perTarget = reduction == .none ? Tensor(uninitialized: lay.lossShape) : nil
    let px = logits.data, pp = probs.data
    let (total, counted) = sumCountedTargets(lay, labels, ignoreIndex: ignoreIndex, weight: w, perTarget: perTarget) { _, base, y in
        let lse = laneLogSumExp(px, base: base, extent: c, stride: s)
        for j in 0..<c { pp[base + j * s] = Foundation.exp(px[base + j * s] - lse) }
        var l = (1 - eps) * Double(w?[y] ?? 1) * (Double(lse) - Double(px[base + y * s]))
        if smoothing {
            var smooth: Double = 0
            for j in 0..<c { smooth += Double(w?[j] ?? 1) * (Double(lse) - Double(px[base + j * s])) }
            l += eps / Double(c) * smooth
        }
        return l
    }
    let output = LossOutput(reduction, divisor: counted)
    let out = output.make(values: perTarget, total: total, shape: lay.lossShape)
    return out.recordOp("cross_entropy", inputs: [logits]) { g in
        let factor = output.factor(g)
        let d = Tensor(uninitialized: probs.shape)
        let pd = d.data, pp = probs.data
        let keep = Float(1 - eps), share = Float(eps / Double(c))
        forEachTarget(lay) { r, base in
            let y = labels[r]
            if y == ignoreIndex {
                for j in 0..<c { pd[base + j * s] = 0 }
                return
            }
            let k = factor(r)
            let wy = w?[y] ?? 1
            if smoothing {
                let a = k * (keep * wy + share * Float(weightTotal))
                for j in 0..<c { pd[base + j * s] = a * pp[base + j * s] - k * share * (w?[j] ?? 1) }
            } else {
                let a = k * wy
                for j in 0..<c { pd[base + j * s] = a * pp[base + j * s] }
            }
            pd[base + y * s] -= k * keep * wy
        }
        logits.accumulateGrad(d, owned: true)
    }
}

/// Negative log-likelihood of log-probabilities `logProbs` [N, C] (or
/// [N, C, d1, ...]) at `labels`: -w[y] · logProbs[y] per counted target, 0
/// for an ignored one. PyTorch's `F.nll_loss(logProbs, labels, weight,
/// ignore_index=ignoreIndex, reduction)`; `.mean` divides by Σ w[y] over the
/// counted targets (NaN when all are ignored). Backward: -k · w[y] at the
/// target, 0 elsewhere.
public func nllLoss(
    _ logProbs: Tensor, labels: [Int], weight: Tensor? = nil, ignoreIndex: Int = -100,
    reduction: Reduction = .mean
) -> Tensor {
    let lay = strataTry {
        try validateClassification(logProbs, labels, weight: weight, ignoreIndex: ignoreIndex, op: "nllLoss")
    }
    let s = lay.s
    let w: [Float]? = weight?.scalars
    let perTarget = reduction == .none ? Tensor(uninitialized: lay.lossShape) : nil
    let px = logProbs.data
    let (total, counted) = sumCountedTargets(lay, labels, ignoreIndex: ignoreIndex, weight: w, perTarget: perTarget) { _, base, y in
        -Double(w?[y] ?? 1) * Double(px[base + y * s])
    }
    let output = LossOutput(reduction, divisor: counted)
    let out = output.make(values: perTarget, total: total, shape: lay.lossShape)
    return out.recordOp("nll_loss", inputs: [logProbs]) { g in
        let factor = output.factor(g)
        let d = Tensor(zeros: logProbs.shape)
        forEachTarget(lay) { r, base in
            let y = labels[r]
            if y != ignoreIndex { d.data[base + y * s] = -factor(r) * (w?[y] ?? 1) }
        }
        logProbs.accumulateGrad(d, owned: true)
    }
}
