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

/// BatchNorm, ReLU and MaxPool2d(2) in one op (a VGG-style block's tail):
///
///     fusedBatchNorm(bn, x, relu: relu, maxPool: pool)  ==  pool(relu(bn(x)))
///
/// The pooling forms each plane's activation in a scratch plane and pools
/// it from there, so the full-size activation is neither written nor read
/// back; the backward routes the gradient to each window's maximum and
/// hands it to BatchNorm's fused backward (Docs/Normalization.md). The
/// result, the running statistics and every gradient are those of the
/// three modules bit for bit. Only a `MaxPool2d(kernelSize: 2)` (stride 2,
/// no padding or dilation, floor mode) on [N, C, H, W] input with H, W >= 2
/// fuses; any other pool, or a watched module (as above), runs unfused.
public func fusedBatchNorm(_ bn: BatchNormBase, _ x: Tensor, relu: ReLU, maxPool: MaxPool2d) -> Tensor {
    guard
        maxPool.halves && canFuse(maxPool) && canFuse(relu) && canFuse(bn) && x.rank == 4 && x.shape[2] >= 2
            && x.shape[3] >= 2
    else { return maxPool(fusedBatchNorm(bn, x, relu: relu)) }
    return bn.forward(x, epilogue: NormEpilogue(relu: true, maxPool: true))
}

/// Whether `module`'s call may be folded into a fused op: nothing watches it.
func canFuse(_ module: any Module) -> Bool {
    ForwardObservation.current == nil && ModuleHookRegistry.shared.hooks(of: module).isEmpty
}
