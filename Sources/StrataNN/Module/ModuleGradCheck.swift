import StrataCore

/// Checks a module's gradients with respect to its input and all its
/// parameters. The module should be in a mode whose forward is
/// deterministic (dropout off).
public func gradCheck(
    _ module: any Module, input: Tensor, step h: Float = 1e-2, rtol: Double = 1e-2, atol: Double = 1e-3
) -> GradCheckResult {
    input.requiresGrad = true
    let params = module.parameters()
    return gradCheck([input] + params, step: h, rtol: rtol, atol: atol) { xs in module(xs[0]) }
}
