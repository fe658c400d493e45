import Foundation

/// Kullback-Leibler divergence, PyTorch's `F.kl_div`.

/// Checks `klDiv`'s shapes (same shape; `.batchMean` needs a batch dimension).
func validateKLDiv(_ input: Tensor, _ target: Tensor, reduction: KLDivReduction) throws {
    try validateSameShape(input, target, op: "klDiv")
    if reduction == .batchMean && input.rank == 0 {
        throw StrataError.invalidArgument("klDiv: batchMean needs a batch dimension; input is a scalar")
    }
}

/// KL divergence KL(target ‖ model) per element, where `input` holds the
/// model's *log*-probabilities (for example `logSoftmax()` of logits) and
/// `target` probabilities, or log-probabilities when `logTarget` is true:
///
///     loss = t · (log t - x)          (0 where t = 0)
///     loss = exp(t) · (t - x)         with logTarget
///
/// Reductions: `.mean` averages over all elements (PyTorch's default, which
/// it warns is not the KL divergence); `.batchMean` divides the sum by the
/// batch size `input.shape[0]` and is the true KL divergence per sample;
/// `.sum`; `.none` keeps the input's shape. Backward: dx = -t (or -exp(t));
/// dt = log t + 1 - x (NaN at t = 0, as PyTorch's xlogy gives), or
/// exp(t) (t - x + 1) with logTarget.
public func klDiv(
    _ input: Tensor, _ target: Tensor, reduction: KLDivReduction = .mean, logTarget: Bool = false
) -> Tensor {
    strataTry { try validateKLDiv(input, target, reduction: reduction) }
    let output: LossOutput
    switch reduction {
    case .none: output = LossOutput(.none, divisor: 1)
    case .sum: output = LossOutput(.sum, divisor: 1)
    case .mean: output = LossOutput(.mean, divisor: Double(input.count))
    case .batchMean: output = LossOutput(.mean, divisor: Double(input.shape[0]))
    }
    if logTarget {
        return pointwiseLoss(
            "kl_div", input, target, output: output,
            value: { x, t, _ in Foundation.exp(Double(t)) * (Double(t) - Double(x)) },
            dInput: { _, t, _ in -Foundation.exp(t) },
            dTarget: { x, t, _ in Foundation.exp(t) * (t - x + 1) })
    }
    return pointwiseLoss(
        "kl_div", input, target, output: output,
        value: { x, t, _ in
            let (x, t) = (Double(x), Double(t))
            return (t == 0 ? 0 : t * Foundation.log(t)) - t * x
        },
        dInput: { _, t, _ in -t },
        dTarget: { x, t, _ in t == 0 ? .nan : Foundation.log(t) + 1 - x })
}
