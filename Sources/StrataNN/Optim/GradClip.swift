import Foundation
import StrataCore

/// Scales the gradients of `parameters` in place so that their combined
/// norm is at most `maxNorm` (PyTorch's `torch.nn.utils.clip_grad_norm_`):
///
///     total = || (||g_1||_p, ..., ||g_k||_p) ||_p
///     g_i  *= min(1, maxNorm / (total + 1e-6))
///
/// `normType` is p (2 by default; `.infinity` for the max norm). Parameters
/// without a gradient are skipped. Returns the total norm before clipping
/// (NaN or infinity when a gradient is non-finite; the gradients are then
/// scaled by NaN or 0 as in PyTorch with `error_if_nonfinite=False`).
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float, normType: Float = 2) -> Float {
    strataCheck(normType > 0, "clipGradNorm: normType must be positive, got \(normType)")
    let grads = parameters.compactMap(\.grad)
    if grads.isEmpty { return 0 }
    var total = 0.0
    if normType == .infinity {
        for g in grads {
            for i in 0..<g.count {
                let a = Double(abs(g.data[i]))
                if a > total || a.isNaN { total = a }
            }
        }
    } else {
        let p = Double(normType)
        for g in grads {
            var s = 0.0
            for i in 0..<g.count { let a = Double(abs(g.data[i])); s += p == 2 ? a * a : pow(a, p) }
            // sum over tensors of ||g||^p equals the p-th power of the stacked norm
            total += s
        }
        total = p == 2 ? total.squareRoot() : pow(total, 1 / p)
    }
    let norm = Float(total)
    let coef = min(maxNorm / (norm + 1e-6), 1)
    if coef < 1 || coef.isNaN {
        for g in grads { for i in 0..<g.count { g.data[i] *= coef } }
    }
    return norm
}

/// Clamps every gradient element of `parameters` to [-clipValue, clipValue]
/// in place (PyTorch's `clip_grad_value_`).
public func clipGradValue(_ parameters: [Tensor], clipValue: Float) {
    strataCheck(clipValue >= 0, "clipGradValue: clipValue must be >= 0, got \(clipValue)")
    for p in parameters {
        guard let g = p.grad else { continue }
        for i in 0..<g.count { g.data[i] = min(max(g.data[i], -clipValue), clipValue) }
    }
}
