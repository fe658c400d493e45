/// How a loss combines its per-element values (PyTorch's `reduction`).
///
/// * `.none`: no reduction; the loss has one value per sample (per element
///   for pointwise losses), in the shape PyTorch gives.
/// * `.sum`: the sum of those values, a scalar.
/// * `.mean`: their mean, a scalar. For class-weighted losses (cross-entropy,
///   NLL) the sum is divided by the total weight of the counted targets, as
///   in PyTorch. A mean over nothing is NaN (0 / 0), as in PyTorch.
public enum Reduction: Sendable, Equatable {
    case none, sum, mean
}

/// `klDiv`'s reduction: `Reduction`'s three plus `.batchMean`, the sum
/// divided by the batch size (the first dimension), which is the
/// mathematically correct KL divergence per sample. PyTorch's
/// `reduction='batchmean'`; only `kl_div` accepts it there too.
public enum KLDivReduction: Sendable, Equatable {
    case none, sum, mean, batchMean
}

/// A reduction applied: how a loss turns its per-element values into its
/// output, and each element's factor of the incoming gradient.
///
/// A loss computes per-element values `v_i` and returns either them
/// (`.none`, then d(out_i)/d(v_i) = 1 and the incoming gradient has one value
/// per element) or `scale * Σ v_i` (a scalar). `LossOutput` builds that
/// output and, in backward, gives each element's factor: `g[i]` for `.none`,
/// `g[0] * scale` otherwise.
struct LossOutput {
    /// Whether the output keeps one value per element.
    let elementwise: Bool
    /// The factor applied to the sum when reduced (1 for sum, 1/n for mean).
    let scale: Double

    /// `.none` keeps values; `.sum` has scale 1; `.mean` divides by `divisor`
    /// (a divisor of 0 gives a NaN loss, as in PyTorch).
    init(_ reduction: Reduction, divisor: Double) {
        switch reduction {
        case .none: elementwise = true; scale = 1
        case .sum: elementwise = false; scale = 1
        case .mean: elementwise = false; scale = 1 / divisor
        }
    }

    /// The output tensor: `values` itself (shape `shape`) when elementwise,
    /// else the scalar `scale * total` (`total` summed in Double by the caller).
    func make(values: Tensor?, total: Double, shape: [Int]) -> Tensor {
        if elementwise, let v = values { return v.shape == shape ? v : Tensor(shape: shape, storage: v.storage) }
        return Tensor.scalar(Float(total * scale))
    }

    /// Per-element factor reader for the incoming gradient `g`.
    @inline(__always)
    func factor(_ g: Tensor) -> (Int) -> Float {
        if elementwise {
            let p = g.data
            return { p[$0] }
        }
        let k = Float(Double(g.data[0]) * scale)
        return { _ in k }
    }
}
