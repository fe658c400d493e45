import StrataCore

/// BatchNorm with the residual add and the ReLU that follow it, in one op.
///
///     fusedBatchNorm(bn, x, adding: shortcut, relu: relu)  ==  relu(bn(x) + shortcut)
///
/// The result, the running statistics and every gradient (x, weight, bias,
/// shortcut) are those of the separate modules; only the memory traffic
/// differs: the output pass adds the shortcut and clamps as it writes, and
/// the backward masks the gradient inside BatchNorm's two passes instead of
/// a ReLU pass and an add pass of their own (Docs/Normalization.md has the
/// measurement). `adding` and `relu` are each optional.
///
/// The modules are still called as modules whenever someone watches them:
/// a forward hook on `bn` or `relu`, or a forward observer (NaN guard,
/// `summary`), gets the unfused calls, so hooks and printed summaries see
/// every module as before. `relu` is the model's own `ReLU` child, passed so
/// that its hooks are honoured; it holds no state.
public func fusedBatchNorm(_ bn: BatchNormBase, _ x: Tensor, adding residual: Tensor? = nil, relu: ReLU?) -> Tensor {
    guard canFuse(bn) && (relu.map(canFuse) ?? true) else {
        // The fused op checks the residual's shape itself; `+` would broadcast.
        if let r = residual {
            strataCheck(
                r.shape == x.shape, "\(bn.layerName): residual of shape \(r.shape) does not match the input's \(x.shape)")
        }
        var y = bn(x)
        if let r = residual { y = y + r }
        return relu.map { $0(y) } ?? y
    }
    return bn.forward(x, epilogue: NormEpilogue(residual: residual, relu: relu != nil))
}

/// Whether `module`'s call may be folded into a fused op: nothing watches it.
func canFuse(_ module: any Module) -> Bool {
    ForwardObservation.current == nil && ModuleHookRegistry.shared.hooks(of: module).isEmpty
}
