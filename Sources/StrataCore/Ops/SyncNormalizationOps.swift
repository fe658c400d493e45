/// Batch normalisation whose statistics are reduced across processes
/// (SyncBatchNorm), forward and backward side by side. The per-process
/// arithmetic reuses `Kernels/BatchNormKernels.swift`; the reduction itself
/// is a `ChannelStatisticsReducer` (StrataDistributed's process group), so
/// this target knows nothing of MPI.
///
/// Forward, per channel c, with every process p holding n_p values:
///
///     local:  n_p, mean_p, M2_p = n_p * var_p   (the shifted Double kernel)
///     send:   [n_p, n_p (mean_p - K), M2_p + n_p (mean_p - K)^2]   summed over p
///     global: N = sum n_p, mean = K + S1 / N, var = (S2 - S1^2 / N) / N
///
/// K is a shift every process knows (the running mean when the layer tracks
/// one, else 0), so the sums stay small and the one allreduce of 1 + 2C
/// Doubles gives the exact pooled mean and biased variance.
///
/// Backward (see Docs/Distributed.md for the derivation): with the global
/// statistics, dx_i = (g s / N) (N dy_i - Sdy - xhat_i Sdyxhat), where Sdy
/// and Sdyxhat are sums over ALL processes' values; one allreduce of 2C
/// Doubles gives them. The affine gradients stay local sums: data
/// parallelism averages parameter gradients afterwards.

/// Sums per-channel statistics over the processes of a data-parallel group.
/// Every process calls `sumAcrossProcesses` the same number of times with
/// the same count, in the same order (a collective).
public protocol ChannelStatisticsReducer: AnyObject {
    /// How many processes' batches are combined; 1 makes SyncBatchNorm plain BatchNorm.
    var worldSize: Int { get }
    /// Replaces every value by its sum over all processes.
    func sumAcrossProcesses(_ values: UnsafeMutableBufferPointer<Double>)
}

/// `batchStatisticsNorm` with the statistics pooled over the processes of
/// `reducer` (BatchNorm geometry: affine index = channel).
///
/// `shift` is the per-channel K above (nil: 0); it must be the same on
/// every process. Returns the output and the global mean, biased variance
/// and count per channel (for the running statistics).
package func syncBatchStatisticsNorm(
    _ x: Tensor, geometry g: ChannelGeometry, weight: Tensor?, bias: Tensor?, eps: Float,
    renorm: RenormCorrection?, shift: [Float]?, reducer: any ChannelStatisticsReducer, op: String
) -> (output: Tensor, mean: [Double], variance: [Double], count: Int) {
    let C = g.channels
    let localMean = FloatBuffer(C), localVar = FloatBuffer(C), scratch = FloatBuffer(C)
    if g.perChannel > 0 {
        BatchNormKernels.trainForward(
            x: x.data, y: nil, geometry: g, eps: eps,
            mean: localMean.pointer, variance: localVar.pointer, invStd: scratch.pointer
        ) { _, _, _, _ in (0, 0) }
    }
    // One allreduce: [count, S1[C], S2[C]].
    var sums = [Double](repeating: 0, count: 1 + 2 * C)
    let n = Double(g.perChannel)
    sums[0] = n
    for c in 0..<C {
        let d = Double(localMean[c]) - Double(shift?[c] ?? 0)
        sums[1 + c] = n * d
        sums[1 + C + c] = n * Double(localVar[c]) + n * d * d
    }
    sums.withUnsafeMutableBufferPointer { reducer.sumAcrossProcesses($0) }
    let total = sums[0]
    strataCheck(total > 1, "\(op): expected more than 1 value per channel over all processes, got \(Int(total))")

    let mean = FloatBuffer(C), invStd = FloatBuffer(C), gEff = FloatBuffer(C), a = FloatBuffer(C), b = FloatBuffer(C)
    let rBuf = FloatBuffer(renorm == nil ? 0 : C), dBuf = FloatBuffer(renorm == nil ? 0 : C)
    var meanD = [Double](repeating: 0, count: C), varD = [Double](repeating: 0, count: C)
    for c in 0..<C {
        let s1 = sums[1 + c], s2 = sums[1 + C + c]
        meanD[c] = Double(shift?[c] ?? 0) + s1 / total
        varD[c] = max(0, (s2 - s1 * s1 / total) / total)
        mean[c] = Float(meanD[c])
        let v = Float(varD[c])
        invStd[c] = Float(1 / (varD[c] + Double(eps)).squareRoot())
        var scale = weight?.data[c] ?? 1, offset = bias?.data[c] ?? 0
        if let rn = renorm {
            let sigmaRun = (rn.runningVar[c] + eps).squareRoot()
            let r = min(max((v + eps).squareRoot() / sigmaRun, 1 / rn.rmax), rn.rmax)
            let d = min(max((mean[c] - rn.runningMean[c]) / sigmaRun, -rn.dmax), rn.dmax)
            rBuf[c] = r; dBuf[c] = d
            offset += scale * d
            scale *= r
        }
        gEff[c] = scale
        a[c] = scale * invStd[c]
        b[c] = offset
    }
    let out = Tensor(uninitialized: x.shape)
    BatchNormKernels.normalise(x: x.data, y: out.data, geometry: g, mean: mean.pointer, a: a.pointer, b: b.pointer)

    let inputs = [x] + [weight, bias].compactMap { $0 }
    out.recordOp(op, inputs: inputs) { gy in
        // Local sums of dy and dy * xhat with the global statistics.
        let sumDy = FloatBuffer(C), sumDyXhat = FloatBuffer(C)
        BatchNormKernels.backward(
            x: x.data, dy: gy.data, dx: nil, accumulate: false, geometry: g,
            mean: mean.pointer, invStd: invStd.pointer, gEff: gEff.pointer, batchStatistics: true,
            sumDy: sumDy.pointer, sumDyXhat: sumDyXhat.pointer)
        var global = [Double](repeating: 0, count: 2 * C)
        for c in 0..<C { global[c] = Double(sumDy[c]); global[C + c] = Double(sumDyXhat[c]) }
        global.withUnsafeMutableBufferPointer { reducer.sumAcrossProcesses($0) }
        accumulateChannelSums(into: weight, channels: C, affineChannels: C) { c in
            renorm == nil ? sumDyXhat[c] : rBuf[c] * sumDyXhat[c] + dBuf[c] * sumDy[c]
        }
        accumulateChannelSums(into: bias, channels: C, affineChannels: C) { sumDy[$0] }
        let (dx, accumulate, fresh) = gradientTarget(x)
        guard let dx else { return }
        // dx_i = p dy_i + q x_i + r with the global count and sums.
        let p = FloatBuffer(C), q = FloatBuffer(C), r = FloatBuffer(C)
        let m = Float(total)
        for c in 0..<C {
            let s = invStd[c], gs = gEff[c] * s
            p[c] = gs
            q[c] = -gs * s * Float(global[C + c]) / m
            r[c] = -gs * Float(global[c]) / m - q[c] * mean[c]
        }
        BatchNormKernels.affineGradInput(
            x: x.data, dy: gy.data, dx: dx, accumulate: accumulate, geometry: g,
            p: p.pointer, q: q.pointer, r: r.pointer)
        if let t = fresh { x.grad = t }
    }
    return (out, meanD, varD, Int(total.rounded()))
}

extension BatchNormKernels {
    /// y = (x - mean[c]) * a[c] + b[c] per channel.
    static func normalise(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, geometry g: ChannelGeometry,
        mean: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>
    ) {
        if g.inner == 1 {
            Threading.parallelFor(g.channels, minChunk: max(16, minChunk(g) * 16)) { range in
                let lo = range.lowerBound
                rowAffine(x: x, y: y, geometry: g, channels: range, mean: mean + lo, a: a + lo, b: b + lo)
            }
            return
        }
        forEachChannelRun(g) { off, c in normaliseRun(x + off, y + off, g.inner, mean: mean[c], a: a[c], b: b[c]) }
    }

    /// Calls `body(offset, channel)` for every contiguous run of `inner`
    /// floats, channels split across the workers (inner > 1).
    private static func forEachChannelRun(_ g: ChannelGeometry, _ body: (Int, Int) -> Void) {
        let stride = g.channels * g.inner
        Threading.parallelFor(g.channels, minChunk: minChunk(g)) { range in
            for n in 0..<g.outer {
                for c in range { body(n * stride + c * g.inner, c) }
            }
        }
    }

    /// dx (+)= p[c] dy + q[c] x + r[c] per channel.
    static func affineGradInput(
        x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
        accumulate: Bool, geometry g: ChannelGeometry,
        p: UnsafePointer<Float>, q: UnsafePointer<Float>, r: UnsafePointer<Float>
    ) {
        if g.inner == 1 {
            let stride = g.channels
            // Rows of C contiguous channels: one pass per row, vectorised across channels.
            Threading.parallelFor(g.outer, minChunk: max(1, parallelThreshold / max(g.channels, 1))) { rows in
                for n in rows {
                    let off = n * stride
                    for c in 0..<g.channels {
                        let v = dy[off + c] * p[c] + (x[off + c] * q[c] + r[c])
                        dx[off + c] = accumulate ? dx[off + c] + v : v
                    }
                }
            }
            return
        }
        forEachChannelRun(g) { off, c in
            gradInputRun(dy + off, x + off, dx + off, g.inner, p: p[c], q: q[c], r: r[c], accumulate: accumulate)
        }
    }
}
