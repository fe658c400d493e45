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

/// What follows a normalisation's affine map inside the same op:
/// out = relu(norm(x) + residual), each part optional (see
/// `NormEpiloguePointers`), or maxPool2d(relu(norm(x)), 2). `relu(bn(x) +
/// shortcut)` then reads and writes the activation once; its backward masks
/// the gradient with the saved output (zero where out <= 0, PyTorch's ReLU
/// rule) and hands the residual the masked gradient.
package struct NormEpilogue {
    /// Added after the affine map; the shape of the input.
    package var residual: Tensor?
    /// max(., 0) last (NaN stays NaN).
    package var relu: Bool
    /// MaxPool2d(2) (2x2 windows, stride 2, no padding, floor mode) after
    /// the ReLU, on [N, C, H, W] input with H, W >= 2 and no residual: the
    /// op returns [N, C, H/2, W/2] (`pooledNormOutput`).
    package var maxPool: Bool

    package init(residual: Tensor? = nil, relu: Bool = false, maxPool: Bool = false) {
        self.residual = residual
        self.relu = relu
        self.maxPool = maxPool
    }

    /// The plain normalisation.
    package static var none: NormEpilogue { NormEpilogue() }
    var isActive: Bool { residual != nil || relu }
    var pointers: NormEpiloguePointers { NormEpiloguePointers(residual: residual.map { UnsafePointer($0.data) }, relu: relu) }

    /// Stops with a message naming `op` when the residual's shape is not
    /// the input's, or the pooling lacks what it needs.
    func check(input shape: [Int], op: String) {
        if maxPool {
            strataCheck(
                relu && residual == nil && shape.count == 4 && shape[2] >= 2 && shape[3] >= 2,
                "\(op): a fused MaxPool2d(2) needs a ReLU, no residual and [N, C, H, W] input with H, W >= 2, got \(shape)")
        }
        guard let r = residual else { return }
        strataCheck(r.shape == shape, "\(op): residual of shape \(r.shape) does not match the input's \(shape)")
    }

    /// Whether the backward recomputes the ReLU's mask from x instead of
    /// reading the saved output: a ReLU without residual on NCHW input (the
    /// (N, C) path masks dy with the saved output before its kernels).
    func recomputesReLU(_ g: ChannelGeometry) -> Bool { relu && residual == nil && g.inner > 1 }

    /// The op's inputs besides x and the affine parameters.
    var inputs: [Tensor] { residual.map { [$0] } ?? [] }

    /// The epilogue as separate ops on a finished output `y` of the input's
    /// shape (for the paths that do not fuse it); `op` names the layer in a
    /// shape error.
    package func applied(to y: Tensor, op: String) -> Tensor {
        check(input: y.shape, op: op)
        var z = y
        if let r = residual { z = z + r }
        if relu { z = z.relu() }
        return maxPool ? maxPool2d(z, kernelSize: 2) : z
    }
}

/// Normalises `x` with its own batch statistics per geometry channel.
///
/// - Geometry channel k uses affine index k % affineChannels (BatchNorm:
///   affineChannels == channels; InstanceNorm: channels = N*C, affine per C).
/// - y = gEff * xhat + bEff with gEff = gamma (times r for renorm) and
///   bEff = beta (plus gamma*d for renorm).
/// - `epilogue` (residual add, ReLU) is fused into the output pass.
/// - Returns the output and each geometry channel's mean and biased variance.
package func batchStatisticsNorm(
    _ x: Tensor, geometry g: ChannelGeometry, affineChannels: Int, weight: Tensor?, bias: Tensor?,
    eps: Float, renorm: RenormCorrection?, epilogue: NormEpilogue = .none, op: String
) -> (output: Tensor, mean: FloatBuffer, variance: FloatBuffer) {
    epilogue.check(input: x.shape, op: op)
    let C = g.channels
    let mean = FloatBuffer(C), variance = FloatBuffer(C), invStd = FloatBuffer(C), gEff = FloatBuffer(C)
    let rBuf = FloatBuffer(renorm == nil ? 0 : C), dBuf = FloatBuffer(renorm == nil ? 0 : C)
    let reluAffine = epilogue.recomputesReLU(g) ? FloatBuffer(3 * C) : nil
    // Pooled: statistics and coefficients only, then the pooling pass forms the activation.
    let full = epilogue.maxPool ? nil : Tensor(uninitialized: x.shape)
    let w = weight?.data, b = bias?.data
    BatchNormKernels.trainForward(
        x: x.data, y: full?.data, geometry: g, eps: eps,
        mean: mean.pointer, variance: variance.pointer, invStd: invStd.pointer, epilogue: epilogue.pointers
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
        reluAffine?.setPreActivation(c, mean: mu, a: scale * s, b: shift)
        return (scale * s, shift)
    }
    let pooled = reluAffine.flatMap { epilogue.maxPool ? pooledNormOutput(x, reluAffine: $0) : nil }
    guard let out = full ?? pooled?.output else { strataFatal("\(op): a fused MaxPool2d needs the recomputed ReLU") }
    let routing = pooled?.routing
    let inputs = [x] + [weight, bias].compactMap { $0 } + epilogue.inputs
    let mask = epilogue.relu && reluAffine == nil ? out.detached() : nil, residual = epilogue.residual
    out.recordOp(op, inputs: inputs) { gy in
        let (sumDy, sumDyXhat) = channelNormBackward(
            x, gy, geometry: g, mean: mean, invStd: invStd, gEff: gEff, batchStatistics: true,
            mask: mask, reluAffine: reluAffine, residual: residual, pooled: routing)
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
/// `epilogue` (residual add, ReLU) is fused into the pass.
package func fixedStatisticsNorm(
    _ x: Tensor, geometry g: ChannelGeometry, weight: Tensor?, bias: Tensor?,
    mean: UnsafePointer<Float>, variance: UnsafePointer<Float>, eps: Float, epilogue: NormEpilogue = .none, op: String
) -> Tensor {
    epilogue.check(input: x.shape, op: op)
    let C = g.channels
    let meanCopy = FloatBuffer(C), invStd = FloatBuffer(C), scale = FloatBuffer(C), shift = FloatBuffer(C)
    let gamma = FloatBuffer(C, repeating: 1)
    let reluAffine = epilogue.recomputesReLU(g) ? FloatBuffer(3 * C) : nil
    for c in 0..<C {
        meanCopy[c] = mean[c]
        invStd[c] = Float(1 / (Double(variance[c]) + Double(eps)).squareRoot())
        if let w = weight { gamma[c] = w.data[c] }
        scale[c] = gamma[c] * invStd[c]
        shift[c] = (bias?.data[c] ?? 0) - mean[c] * scale[c]
        // The fused pass computes (x - 0) * scale + shift.
        reluAffine?.setPreActivation(c, mean: 0, a: scale[c], b: shift[c])
    }
    let pooled = reluAffine.flatMap { epilogue.maxPool ? pooledNormOutput(x, reluAffine: $0) : nil }
    let out: Tensor, routing = pooled?.routing
    if let p = pooled {
        out = p.output
    } else {
        out = Tensor(uninitialized: x.shape)
        BatchNormKernels.affine(
            x: x.data, y: out.data, geometry: g, scale: scale.pointer, shift: shift.pointer, epilogue: epilogue.pointers)
    }
    let inputs = [x] + [weight, bias].compactMap { $0 } + epilogue.inputs
    let mask = epilogue.relu && reluAffine == nil ? out.detached() : nil, residual = epilogue.residual
    out.recordOp(op, inputs: inputs) { gy in
        let (sumDy, sumDyXhat) = channelNormBackward(
            x, gy, geometry: g, mean: meanCopy, invStd: invStd, gEff: gamma, batchStatistics: false,
            mask: mask, reluAffine: reluAffine, residual: residual, pooled: routing)
        accumulateChannelSums(into: weight, channels: C, affineChannels: C) { sumDyXhat[$0] }
        accumulateChannelSums(into: bias, channels: C, affineChannels: C) { sumDy[$0] }
    }
    return out
}

/// Runs the fused per-channel backward: writes (or adds) d(loss)/dx into
/// `x.grad` when x needs it, and returns each geometry channel's sum(dy) and
/// sum(dy * xhat) for the affine gradients.
///
/// With a fused epilogue, `mask` is the op's saved output (ReLU: the
/// gradient passes where it is positive), or `reluAffine` the per-channel
/// (mean, a, b) to recompute it from x (a ReLU without residual, NCHW; see
/// `NormEpilogue.recomputesReLU`), and `residual` receives the masked
/// gradient. With `pooled` (a fused MaxPool2d), `gy` is the pooled output's
/// gradient, routed to each window's argmax plane by plane inside the
/// kernel's runs. The residual's gradient buffer is settled before x's, so
/// `relu(bn(x) + x)` accumulates both terms into the one buffer.
func channelNormBackward(
    _ x: Tensor, _ gy: Tensor, geometry g: ChannelGeometry, mean: FloatBuffer, invStd: FloatBuffer,
    gEff: FloatBuffer, batchStatistics: Bool, mask: Tensor? = nil, reluAffine: FloatBuffer? = nil, residual: Tensor? = nil,
    pooled: PoolRouting? = nil
) -> (sumDy: FloatBuffer, sumDyXhat: FloatBuffer) {
    let sumDy = FloatBuffer(g.channels), sumDyXhat = FloatBuffer(g.channels)
    var dy = gy
    var maskPointer = mask.map { UnsafePointer($0.data) }
    var dResidual: UnsafeMutablePointer<Float>?, accumulateResidual = false
    if g.inner == 1 && (mask != nil || residual != nil) {
        // The (N, C) kernels take a plain dy: mask it here, hand it to the residual.
        if let m = mask {
            let dz = Tensor(uninitialized: gy.shape)
            let pm = m.data, pg = gy.data, pd = dz.data
            Threading.parallelFor(gy.count, minChunk: 1 << 16) { r in reluBackwardKernel(pm, pg, pd, r) }
            dy = dz
        }
        residual?.accumulateGrad(dy)
        maskPointer = nil
    } else if let r = residual, r.requiresGrad {
        let (d, acc, fresh) = gradientTarget(r)
        dResidual = d
        accumulateResidual = acc
        if let t = fresh { r.grad = t }
    }
    let (dx, accumulate, fresh) = gradientTarget(x)
    withExtendedLifetime((dy, mask, reluAffine, pooled)) {
        BatchNormKernels.backward(
            x: x.data, dy: dy.data, dx: dx, accumulate: accumulate, geometry: g,
            mean: mean.pointer, invStd: invStd.pointer, gEff: gEff.pointer, batchStatistics: batchStatistics,
            sumDy: sumDy.pointer, sumDyXhat: sumDyXhat.pointer,
            mask: maskPointer, reluAffine: reluAffine.map { UnsafePointer($0.pointer) },
            dResidual: dResidual, accumulateResidual: accumulateResidual,
            pooled: pooled.map { PooledGradient(gradOut: dy.data, argmax: $0.argmax.pointer, geometry: $0.geometry) })
    }
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
