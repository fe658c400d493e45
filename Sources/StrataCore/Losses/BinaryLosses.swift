import Foundation

/// Binary cross-entropy on probabilities and on logits, PyTorch's
/// `F.binary_cross_entropy` and `F.binary_cross_entropy_with_logits`.
/// Input and target have the same shape (targets may be soft, in [0, 1]);
/// `weight` (and `posWeight`) broadcast to that shape, for example [C]
/// against [N, C]. `.mean` averages over all elements. Both backward passes
/// are fused, one pass per input, and also give the target's gradient when
/// it requires one (as PyTorch does).

/// Checks BCE's arguments: same shapes, probabilities in [0, 1] (PyTorch
/// refuses others; NaN fails too), `weight` broadcasting to the input.
func validateBinaryCrossEntropy(_ input: Tensor, _ target: Tensor, weight: Tensor?) throws {
    let op = "binaryCrossEntropy"
    try validateSameShape(input, target, op: op)
    if let w = weight { try validateBroadcast(w, to: input.shape, op: op, what: "weight") }
    let px = input.data
    for i in 0..<input.count where !(px[i] >= 0 && px[i] <= 1) {
        throw StrataError.invalidArgument(
            "\(op): input element \(i) is \(px[i]); inputs must be probabilities in [0, 1] (use binaryCrossEntropyWithLogits on logits)")
    }
}

/// Binary cross-entropy of probabilities `input` against `target`:
///
///     loss = -w · (y · max(log x, -100) + (1 - y) · max(log(1 - x), -100))
///
/// The logs are clamped at -100 as in PyTorch, so x = 0 or 1 gives a finite
/// loss. Backward: dx = w (x - y) / max(x (1 - x), 1e-12) (PyTorch's guard),
/// dy = -w · logit(x).
public func binaryCrossEntropy(
    _ input: Tensor, _ target: Tensor, weight: Tensor? = nil, reduction: Reduction = .mean
) -> Tensor {
    strataTry { try validateBinaryCrossEntropy(input, target, weight: weight) }
    let w = weight.map { expandedValues($0, to: input.shape, op: "binaryCrossEntropy", what: "weight") }
    return pointwiseLoss(
        "binary_cross_entropy", input, target, output: LossOutput(reduction, divisor: Double(input.count)),
        value: { x, y, i in
            let logX = max(Foundation.log(Double(x)), -100), log1mX = max(Foundation.log1p(-Double(x)), -100)
            return -Double(w?[i] ?? 1) * (Double(y) * logX + (1 - Double(y)) * log1mX)
        },
        dInput: { x, y, i in (w?[i] ?? 1) * (x - y) / max(x * (1 - x), 1e-12) },
        dTarget: { x, _, i in -(w?[i] ?? 1) * (Foundation.log(x) - Foundation.log1p(-x)) })
}

/// softplus(-x) = log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|)), stable for any x.
@inline(__always)
func softplusOfNegated(_ x: Double) -> Double { max(-x, 0) + Foundation.log1p(Foundation.exp(-abs(x))) }

/// The logistic function, without overflow for large |x|.
@inline(__always)
func stableSigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
}

/// Binary cross-entropy of `logits` against `target`, with the sigmoid
/// fused in so large logits (±1000) stay exact. With positive-class weight
/// p (`posWeight`, 1 when nil) and l = 1 + (p - 1) y:
///
///     loss = w · ((1 - y) x + l · softplus(-x))
///          = w · (max(x, 0) - x y + log1p(exp(-|x|)))      when p = 1
///
/// Backward: dx = w (l · sigmoid(x) - p y), dy = w (p · softplus(-x) - softplus(x)).
/// PyTorch's `F.binary_cross_entropy_with_logits(weight=, pos_weight=)`;
/// `posWeight` is typically [C] for [N, C] logits (one per class).
public func binaryCrossEntropyWithLogits(
    _ logits: Tensor, _ target: Tensor, weight: Tensor? = nil, posWeight: Tensor? = nil,
    reduction: Reduction = .mean
) -> Tensor {
    let op = "binaryCrossEntropyWithLogits"
    strataTry { try validateSameShape(logits, target, op: op) }
    let w = weight.map { expandedValues($0, to: logits.shape, op: op, what: "weight") }
    let pw = posWeight.map { expandedValues($0, to: logits.shape, op: op, what: "posWeight") }
    return pointwiseLoss(
        "binary_cross_entropy_with_logits", logits, target,
        output: LossOutput(reduction, divisor: Double(logits.count)),
        value: { x, y, i in
            let (x, y) = (Double(x), Double(y))
            let l = 1 + (Double(pw?[i] ?? 1) - 1) * y
            return Double(w?[i] ?? 1) * ((1 - y) * x + l * softplusOfNegated(x))
        },
        dInput: { x, y, i in
            let p = pw?[i] ?? 1
            return (w?[i] ?? 1) * ((1 + (p - 1) * y) * stableSigmoid(x) - p * y)
        },
        dTarget: { x, _, i in
            let p = Double(pw?[i] ?? 1), x = Double(x)
            return Float(Double(w?[i] ?? 1) * (p * softplusOfNegated(x) - softplusOfNegated(-x)))
        })
}
