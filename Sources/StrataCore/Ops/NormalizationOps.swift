/// Differentiable per-channel normalisation ops (BatchNorm, BatchRenorm,
/// InstanceNorm), forward and backward side by side. The arithmetic lives
/// in `Kernels/BatchNormKernels.swift`; this file wires it into autograd.

/// Batch Renormalization's correction (Ioffe 2017): r and d per channel are
/// computed from the batch statistics and the running ones, clipped, and
/// treated as constants (no gradient flows through them).
package struct RenormCorrection {
    package var runningMean: [Float]
    package var runningVar: [Float]
    package var rmax: Float
    var dmax: Float

    package init(runningMean: [Float], runningVar: [Float], rmax: Float, dmax: Float) {
        self.runningMean = runningMean
        self.runningVar = runningVar
        self.rmax = rmax
        self.dmax = dmax
    }
}

/// Normalises `x` with its own batch statistics per geometry channel.
///
/// - Geometry channel k uses affine index k % affineChannels (BatchNorm:
///   affineChannels == channels; InstanceNorm: channels = N*C, affine per C).
/// - y = gEff * xhat + bEff with gEff = gamma (times r for renorm) and
///   bEff = beta (plus gamma*d for renorm).
/// - Returns the output and each geometry channel's mean and biased variance.
package func batchStatisticsNorm(
    _ x: Tensor, geometry g: ChannelGeometry, affineChannels: Int, weight: Tensor?, bias: Tensor?,
    eps: Float, renorm: RenormCorrection?, op: String
) -> (output: Tensor, mean: FloatBuffer, variance: FloatBuffer) {
    let C = g.channels
    let out = Tensor(uninitialized: x.shape)
    let mean = FloatBuffer(C), variance = FloatBuffer(C), invStd = FloatBuffer(C), gEff = FloatBuffer(C)
    let rBuf = FloatBuffer(renorm == nil ? 0 : C), dBuf = FloatBuffer(renorm == nil ? 0 : C)
    let w = weight?.data, b = bias?.data
    BatchNormKernels.trainForward(
        x: x.data, y: out.data, geometry: g, eps: eps,
        mean: mean.pointer, variance: variance.pointer, invStd: invStd.pointer
    ) { c, mu, v, s in
        let k = c % affineChannels
        var scale = w?[k] ?? 1, shift = b?[k] ?? 0
        if let rn = renorm {
            let sigmaRun = (rn.runningVar[k] + eps).squareRoot()
            let r = min(max((v + eps).squareRoot() / sigmaRun, 1 / rn.rmax), rn.rmax)
            let d = min(max((mu - rn.runningMean[k]) / sigmaRun, -rn.dmax), rn.dmax)
            rBuf[c] = r; dBuf[c] = d
            shift += scale * d
            scale *= r
        }
        gEff[c] = scale
        return (scale * s, shift)
    }
    let inputs = [x] + [weight, bias].compactMap { $0 }
    out.recordOp(op, inputs: inputs) { gy in
        let (sumDy, sumDyXhat) = channelNormBackward(
            x, gy, geometry: g, mean: mean, invStd: invStd, gEff: gEff, batchStatistics: true)
        accumulateChannelSums(into: weight, channels: C, affineChannels: affineChannels) { c in
            renorm == nil ? sumDyXhat[c] : rBuf[c] * sumDyXhat[c] + dBuf[c] * sumDy[c]
        }
        accumulateChannelSums(into: bias, channels: C, affineChannels: affineChannels) { sumDy[$0] }
    }
    return (out, mean, variance)
}

/// Normalises `x` with fixed statistics (eval-mode BatchNorm): one pass of
/// y = x * scale + shift with scale = gamma / sqrt(var + eps) and
/// shift = beta - mean * scale. `mean` and `variance` have `channels` entries.
package func fixedStatisticsNorm(
    _ x: Tensor, geometry g: ChannelGeometry, weight: Tensor?, bias: Tensor?,
    mean: UnsafePointer<Float>, variance: UnsafePointer<Float>, eps: Float, op: String
) -> Tensor {
    let C = g.channels
    let out = Tensor(uninitialized: x.shape)
    let meanCopy = FloatBuffer(C), invStd = FloatBuffer(C), scale = FloatBuffer(C), shift = FloatBuffer(C)
    let gamma = FloatBuffer(C, repeating: 1)
    for c in 0..<C {
        meanCopy[c] = mean[c]
        invStd[c] = Float(1 / (Double(variance[c]) + Double(eps)).squareRoot())
        if let w = weight { gamma[c] = w.data[c] }
        scale[c] = gamma[c] * invStd[c]
        shift[c] = (bias?.data[c] ?? 0) - mean[c] * scale[c]
    }
    BatchNormKernels.affine(x: x.data, y: out.data, geometry: g, scale: scale.pointer, shift: shift.pointer)
    let inputs = [x] + [weight, bias].compactMap { $0 }
    out.recordOp(op, inputs: inputs) { gy in
        let (sumDy, sumDyXhat) = channelNormBackward(
            x, gy, geometry: g, mean: meanCopy, invStd: invStd, gEff: gamma, batchStatistics: false)
        accumulateChannelSums(into: weight, channels: C, affineChannels: C) { sumDyXhat[$0] }
        accumulateChannelSums(into: bias, channels: C, affineChannels: C) { sumDy[$0] }
    }
    return out
}

/// Runs the fused per-channel backward: writes (or adds) d(loss)/dx into
/// `x.grad` when x needs it, and returns each geometry channel's sum(dy) and
/// sum(dy * xhat) for the affine gradients.
func channelNormBackward(
    _ x: Tensor, _ gy: Tensor, geometry g: ChannelGeometry, mean: FloatBuffer, invStd: FloatBuffer,
    gEff: FloatBuffer, batchStatistics: Bool
) -> (sumDy: FloatBuffer, sumDyXhat: FloatBuffer) {
    let sumDy = FloatBuffer(g.channels), sumDyXhat = FloatBuffer(g.channels)
    let (dx, accumulate, fresh) = gradientTarget(x)
    BatchNormKernels.backward(
        x: x.data, dy: gy.data, dx: dx, accumulate: accumulate, geometry: g,
        mean: mean.pointer, invStd: invStd.pointer, gEff: gEff.pointer, batchStatistics: batchStatistics,
        sumDy: sumDy.pointer, sumDyXhat: sumDyXhat.pointer)
    if let t = fresh { x.grad = t }
    return (sumDy, sumDyXhat)
}

/// Adds `value(c)` for each geometry channel c into the gradient of an
/// affine parameter of `affineChannels` entries (entry c % affineChannels),
/// when the parameter exists and requires gradients.
func accumulateChannelSums(into parameter: Tensor?, channels: Int, affineChannels: Int, _ value: (Int) -> Float) {
    guard let p = parameter, p.requiresGrad else { return }
    let d = p.gradBuffer().data
    for c in 0..<channels { d[c % affineChannels] += value(c) }
}

/// Where a fused backward writes d(loss)/dx: into the existing gradient
/// (accumulating), or into a fresh tensor that becomes `x.grad` afterwards.
/// Returns nil when x does not need a gradient.
func gradientTarget(_ x: Tensor) -> (UnsafeMutablePointer<Float>?, Bool, Tensor?) {
    guard x.requiresGrad else { return (nil, false, nil) }
    if let existing = x.grad { return (existing.data, true, nil) }
    let t = Tensor(uninitialized: x.shape)
    return (t.data, false, t)
}

/// Updates running statistics in place with PyTorch's rule:
/// num_batches_tracked += 1; f = momentum ?? 1/num_batches_tracked;
/// running = (1 - f) * running + f * batch. `variance` is the biased batch
/// variance over `count` values; it is stored unbiased (times
/// count/(count-1)) unless `unbiased` is false.
package func updateRunningStatistics(
    runningMean: Tensor, runningVar: Tensor, numBatchesTracked: Tensor?, momentum: Float?,
    mean: [Double], variance: [Double], count: Int, unbiased: Bool
) {
    var tracked: Float = 1
    if let nbt = numBatchesTracked {
        nbt.data[0] += 1
        tracked = nbt.data[0]
    }
    let f = Double(momentum ?? 1 / tracked)
    let correction = unbiased && count > 1 ? Double(count) / Double(count - 1) : 1
    for c in 0..<mean.count {
        runningMean.data[c] = Float((1 - f) * Double(runningMean.data[c]) + f * mean[c])
        runningVar.data[c] = Float((1 - f) * Double(runningVar.data[c]) + f * variance[c] * correction)
    }
}

/// Differentiable row normalisation (LayerNorm, GroupNorm): statistics per
/// row of `layout`, affine parameters indexed as `RowLayout` describes.
package func rowNorm(_ x: Tensor, layout l: RowLayout, weight: Tensor?, bias: Tensor?, eps: Float, op: String) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let mean = FloatBuffer(l.rows), invStd = FloatBuffer(l.rows)
    RowNormKernels.forward(
        x: x.data, y: out.data, layout: l, eps: eps, gamma: weight?.data, beta: bias?.data,
        mean: mean.pointer, invStd: invStd.pointer)
    let inputs = [x] + [weight, bias].compactMap { $0 }
    return out.recordOp(op, inputs: inputs) { gy in
        let (dx, accumulate, fresh) = gradientTarget(x)
        let dw = weight.flatMap { $0.requiresGrad ? $0.gradBuffer().data : nil }
        let db = bias.flatMap { $0.requiresGrad ? $0.gradBuffer().data : nil }
        RowNormKernels.backward(
            x: x.data, dy: gy.data, dx: dx, accumulate: accumulate, layout: l,
            gamma: weight?.data, mean: mean.pointer, invStd: invStd.pointer, dgamma: dw, dbeta: db)
        if let t = fresh { x.grad = t }
    }
}
