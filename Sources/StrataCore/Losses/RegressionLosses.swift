/// Regression losses on an input and a target of the same shape, with
/// d = input - target per element: PyTorch's `F.mse_loss`, `F.l1_loss`,
/// `F.smooth_l1_loss` and `F.huber_loss`. `.mean` averages over all
/// elements (NaN for an empty input, as in PyTorch); `.none` keeps the
/// input's shape. Gradients flow to the input and, when it requires them, to
/// the target (the negative of the input's).

/// Checks a regression loss's shapes and its parameter `name` (PyTorch's rules:
/// smooth L1's beta >= 0, Huber's delta > 0).
func validateRegression(
    _ input: Tensor, _ target: Tensor, op: String, parameter: (name: String, value: Float, allowsZero: Bool)? = nil
) throws {
    try validateSameShape(input, target, op: op)
    if let p = parameter, !(p.value > 0 || (p.allowsZero && p.value == 0)) {
        throw StrataError.invalidArgument("\(op): \(p.name) must be \(p.allowsZero ? ">= 0" : "> 0"), got \(p.value)")
    }
}

/// -1, 0 or 1 (PyTorch's `sign`, 0 at 0).
@inline(__always)
func signum(_ d: Float) -> Float { d > 0 ? 1 : (d < 0 ? -1 : 0) }

/// Mean squared error: d² per element. Backward: 2d.
public func mseLoss(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
    strataTry { try validateRegression(prediction, target, op: "mseLoss") }
    return pointwiseLoss(
        "mse_loss", prediction, target, output: LossOutput(reduction, divisor: Double(prediction.count)),
        value: { x, y, _ in
            let d = Double(x - y); return d * d
        },
        dInput: { x, y, _ in 2 * (x - y) },
        dTarget: { x, y, _ in -2 * (x - y) })
}

/// Mean absolute error: |d| per element. Backward: sign(d) (0 at d = 0).
/// PyTorch's `F.l1_loss`.
public func l1Loss(_ input: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
    strataTry { try validateRegression(input, target, op: "l1Loss") }
    return pointwiseLoss(
        "l1_loss", input, target, output: LossOutput(reduction, divisor: Double(input.count)),
        value: { x, y, _ in Double(abs(x - y)) },
        dInput: { x, y, _ in signum(x - y) },
        dTarget: { x, y, _ in -signum(x - y) })
}

/// Smooth L1 scaled by `scale`: scale · (0.5 d² / beta where |d| < beta,
/// else |d| - 0.5 beta), and its derivative scale · (d / beta or sign(d)).
/// Huber with delta is this with beta = scale = delta.
func scaledSmoothL1(
    _ op: String, _ input: Tensor, _ target: Tensor, beta: Float, scale: Float,
    reduction: Reduction
) -> Tensor {
    let (b, k) = (Double(beta), Double(scale))
    let slope = { (d: Float) -> Float in scale * (abs(d) < beta ? d / beta : signum(d)) }
    return pointwiseLoss(
        op, input, target, output: LossOutput(reduction, divisor: Double(input.count)),
        value: { x, y, _ in
            let d = Double(x - y), a = abs(d)
            return k * (a < b ? 0.5 * d * d / b : a - 0.5 * b)
        },
        dInput: { x, y, _ in slope(x - y) },
        dTarget: { x, y, _ in -slope(x - y) })
}

/// Smooth L1: 0.5 d² / beta where |d| < beta, else |d| - 0.5 beta.
/// `beta` = 0 is exactly `l1Loss`; negative beta is an error. Backward:
/// d / beta inside, sign(d) outside. PyTorch's `F.smooth_l1_loss(beta=)`.
public func smoothL1Loss(_ input: Tensor, _ target: Tensor, beta: Float = 1, reduction: Reduction = .mean) -> Tensor {
    strataTry { try validateRegression(input, target, op: "smoothL1Loss", parameter: ("beta", beta, true)) }
    return scaledSmoothL1("smooth_l1_loss", input, target, beta: beta, scale: 1, reduction: reduction)
}

/// Huber loss: 0.5 d² where |d| < delta, else delta (|d| - 0.5 delta);
/// delta must be positive. Equals delta · smoothL1Loss(beta: delta).
/// Backward: d clamped to [-delta, delta]. PyTorch's `F.huber_loss(delta=)`.
public func huberLoss(_ input: Tensor, _ target: Tensor, delta: Float = 1, reduction: Reduction = .mean) -> Tensor {
    strataTry { try validateRegression(input, target, op: "huberLoss", parameter: ("delta", delta, false)) }
    return scaledSmoothL1("huber_loss", input, target, beta: delta, scale: delta, reduction: reduction)
}
