import StrataCore

/// Folding an eval-mode BatchNorm into the layer before it, for inference.
///
/// With s = gamma / sqrt(running_var + eps), a BatchNorm in eval mode is
/// y = s * (z - running_mean) + beta per channel. If z = W x + b, then
///
///     y = (s[o] * W[o, ...]) x + (s[o] * (b[o] - running_mean[o]) + beta[o])
///
/// so the pair becomes one layer with weight W' = s * W (row o scaled by
/// s[o]) and bias b' = s * (b - running_mean) + beta. Valid only for eval
/// statistics: in train mode BatchNorm depends on the batch.

/// Folds eval-mode BatchNorm statistics into a weight [out, ...] and an
/// optional bias [out] (a missing bias counts as zeros). Works for Linear
/// ([out, in]) and Conv2d ([out, in/groups, kh, kw]) weights alike.
/// Returns new tensors (leaves with requiresGrad as the originals' weight).
public func foldBatchNorm(weight: Tensor, bias: Tensor?, into bn: BatchNormBase) -> (weight: Tensor, bias: Tensor) {
    let out = weight.shape.first ?? 0
    strataCheck(
        out == bn.numFeatures,
        "foldBatchNorm: weight \(weight.shape) has \(out) outputs but \(bn.typeName) has \(bn.numFeatures) channels")
    if let b = bias { strataCheck(b.count == out, "foldBatchNorm: bias \(b.shape) does not match \(out) outputs") }
    guard let rm = bn.runningMean, let rv = bn.runningVar else {
        strataFatal("foldBatchNorm: \(bn.typeName)(\(bn.numFeatures)) has no running statistics (trackRunningStats is false)")
    }
    let per = out == 0 ? 0 : weight.count / out
    let w2 = Tensor(uninitialized: weight.shape), b2 = Tensor(uninitialized: [out])
    for o in 0..<out {
        let s = Double(bn.weight?.data[o] ?? 1) / (Double(rv.data[o]) + Double(bn.eps)).squareRoot()
        for i in 0..<per { w2.data[o * per + i] = Float(Double(weight.data[o * per + i]) * s) }
        let b = Double(bias?.data[o] ?? 0)
        b2.data[o] = Float(s * (b - Double(rm.data[o])) + Double(bn.bias?.data[o] ?? 0))
    }
    w2.requiresGrad = weight.requiresGrad
    b2.requiresGrad = weight.requiresGrad
    return (w2, b2)
}

/// A new Linear equal, in eval mode, to `linear` followed by `bn`.
public func foldBatchNorm(_ linear: Linear, _ bn: BatchNormBase) -> Linear {
    let (w, b) = foldBatchNorm(weight: linear.weight, bias: linear.bias, into: bn)
    let folded = Linear(linear.inFeatures, linear.outFeatures, bias: true, generator: RandomGenerator(seed: 0))
    folded.weight.assign(w)
    folded.bias?.assign(b)
    folded.training = linear.training
    return folded
}

/// A new Conv2d (with bias) equal, in eval mode, to `conv` followed by `bn`.
public func foldBatchNorm(_ conv: Conv2d, _ bn: BatchNormBase) -> Conv2d {
    let (w, b) = foldBatchNorm(weight: conv.weight, bias: conv.bias, into: bn)
    let folded = Conv2d(
        inputChannels: conv.inputChannels, outputChannels: conv.outputChannels, kernelSize: conv.kernelSize,
        stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups,
        bias: true, generator: RandomGenerator(seed: 0))
    folded.weight.assign(w)
    folded.bias?.assign(b)
    folded.training = conv.training
    return folded
}

/// A copy of `model`'s layer list in which every Linear or Conv2d directly
/// followed by a BatchNorm with running statistics is replaced by one
/// folded layer; nested Sequentials are folded recursively. Other
/// layers are shared with `model`, not copied. The result is meant for
/// eval mode (it is returned in eval mode); its output equals `model`'s
/// eval output up to rounding.
public func foldBatchNorm(_ model: Sequential) -> Sequential {
    var layers: [any Module] = []
    var i = 0
    let source = model.layers
    while i < source.count {
        let layer = source[i]
        if let lin = layer as? Linear, i + 1 < source.count, let bn = source[i + 1] as? BatchNormBase,
            bn.trackRunningStats, bn.numFeatures == lin.outFeatures
        {
            layers.append(foldBatchNorm(lin, bn))
            i += 2
            continue
        }
        if let conv = layer as? Conv2d, i + 1 < source.count, let bn = source[i + 1] as? BatchNormBase,
            bn.trackRunningStats, bn.numFeatures == conv.outputChannels
        {
            layers.append(foldBatchNorm(conv, bn))
            i += 2
            continue
        }
        if let seq = layer as? Sequential {
            layers.append(foldBatchNorm(seq))
        } else {
            layers.append(layer)
        }
        i += 1
    }
    let folded = Sequential(layers)
    folded.eval()
    return folded
}
