/// Fused per-channel normalisation kernels (BatchNorm, BatchRenorm,
/// InstanceNorm).
///
/// Memory layout: the tensor is seen as [outer, channels, inner], row-major.
/// For NCHW input outer = N and inner = H*W, so channel c's data is `outer`
/// runs of `inner` contiguous floats at stride channels*inner. Statistics
/// are strided reductions over those runs in place: nothing is transposed or
/// copied to channel-major order.
///
/// Loop orders. For inner > 1 each worker owns a contiguous range of
/// channels and visits it in blocks; inside a block both passes (statistics
/// then output; gradient sums then dx) run in memory order: for every
/// sample, one contiguous span of block * H*W floats. A block holds as many
/// channels as fit in half the L2 (so pass 2 re-reads from L2), but never
/// spans shorter than 256 KB per sample. Measured on bn2d (64x64x28x28,
/// where one channel is 64 runs of 3 KB spread over 12.8 MB): visiting one
/// channel at a time, as the textbook loop does, ran the statistics pass
/// 4-5x slower and the backward 3x slower than memory order, because the
/// hardware prefetchers stall at every short run, and blocks of 16 KB or
/// 64 KB spans were still slower than 256 KB ones; re-reading a block from
/// L3 in pass 2 costs less than that. Eval forward is one pass.
/// - inner == 1 ((N, C) input, the Linear -> BatchNorm1d case): channels
///   are contiguous, so the loops go row by row and vectorise across
///   channels, accumulating per-channel sums in small arrays.
/// Work is split across channels with `Threading.parallelFor`.
///
/// Statistics are shifted sums accumulated in Double: with a shift K taken
/// from the channel's own data, sum(x-K) and sum((x-K)^2) stay small when
/// the mean is large compared with the spread (mean 1e4, std 1), where the
/// naive E[x^2] - E[x]^2 in Float loses every digit. If the shift turns out
/// far from the mean (more than 8 standard deviations) the channel is
/// summed again around its mean (a two-pass fallback).

/// Shape of a per-channel normalisation: the tensor as [outer, channels, inner].
package struct ChannelGeometry: Equatable {
    package var outer: Int
    package var channels: Int
    package var inner: Int
    /// Values per channel (the batch size m of the statistics).
    package var perChannel: Int { outer * inner }
    var count: Int { outer * channels * inner }

    package init(outer: Int, channels: Int, inner: Int) {
        self.outer = outer
        self.channels = channels
        self.inner = inner
    }
}

/// A fixed-size heap buffer of floats, freed with its owner (captured by
/// backward closures to keep per-channel statistics).
package final class FloatBuffer: @unchecked Sendable {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>
    init(_ count: Int, repeating value: Float = 0) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: value, count: max(count, 1))
    }
    init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        for i in 0..<count { pointer[i] = values[i] }
    }
    deinit { pointer.deallocate() }
    package subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
    package var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Stores channel c's pre-activation (x - mean) * a + b as the triple
    /// at 3c that `BatchNormKernels.backward(reluAffine:)` reads.
    func setPreActivation(_ c: Int, mean: Float, a: Float, b: Float) {
        pointer[3 * c] = mean
        pointer[3 * c + 1] = a
        pointer[3 * c + 2] = b
    }
}

typealias V16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> V16 {
    UnsafeRawPointer(p).loadUnaligned(as: V16.self)
}

@inline(__always) func store16(_ p: UnsafeMutablePointer<Float>, _ v: V16) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self)
}

enum BatchNormKernels {
    /// Below this many elements a kernel runs on one thread.
    static let parallelThreshold = 1 << 15

    static func minChunk(_ g: ChannelGeometry) -> Int {
        max(1, parallelThreshold / max(g.perChannel, 1))
    }

    /// Cache budget for the data a block re-reads in its second pass (half
    /// of this machine's 1 MB per-core L2).
    static let blockBudgetBytes = 512 << 10
    /// Shortest contiguous span (bytes per sample) worth streaming: shorter
    /// runs stall the hardware prefetchers.
    static let minimumSpanBytes = 256 << 10

    /// Splits a worker's channel range into blocks that are visited one
    /// after the other, each with two passes in memory order. A block holds
    /// as many channels as fit `blockBudgetBytes` (for `arrays` input arrays
    /// re-read in pass 2), so pass 2 hits L2, but never fewer than make a
    /// `minimumSpanBytes` span per sample.
    static func forEachBlock(_ range: Range<Int>, _ g: ChannelGeometry, arrays: Int, _ body: (Range<Int>) -> Void) {
        let channelBytes = max(g.perChannel * 4 * arrays, 1)
        let fit = blockBudgetBytes / channelBytes
        let span = (minimumSpanBytes + g.inner * 4 - 1) / max(g.inner * 4, 1)
        let block = max(1, fit, span)
        var lo = range.lowerBound
        while lo < range.upperBound {
            let hi = min(range.upperBound, lo + block)
            body(lo..<hi)
            lo = hi
        }
    }

    // MARK: Run-level building blocks (contiguous runs)

    /// (sum (x-k), sum (x-k)^2) over `count` contiguous floats, in Double
    /// (Float SIMD partials flushed every 4096 elements).
    @inline(__always)
    static func shiftedSums(_ p: UnsafePointer<Float>, _ count: Int, shift k: Float) -> (Double, Double) {
        var s1 = 0.0, s2 = 0.0, i = 0
        let kv = V16(repeating: k)
        while i < count {
            let end = min(count, i + 4096)
            var a1 = V16(), a2 = V16()
            while i + 16 <= end {
                let d = load16(p + i) - kv
                a1 += d; a2 += d * d
                i += 16
            }
            var t1 = Double(a1.sum()), t2 = Double(a2.sum())
            while i < end { let d = p[i] - k; t1 += Double(d); t2 += Double(d * d); i += 1 }
            s1 += t1; s2 += t2
        }
        return (s1, s2)
    }

    /// y = act((x - mean) * a + b + residual) over a run: the residual term
    /// only with `residual` (the run's own start), act = max(., 0) (NaN stays
    /// NaN) with `relu` (the fused epilogue, `NormEpiloguePointers`). The
    /// plain callers pass neither; the function is always inlined, so their
    /// loop carries no test of either.
    @inline(__always)
    static func normaliseRun(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
        mean: Float, a: Float, b: Float, residual: UnsafePointer<Float>? = nil, relu: Bool = false
    ) {
        let mv = V16(repeating: mean), av = V16(repeating: a), bv = V16(repeating: b)
        var i = 0
        while i + 16 <= count {
            var v = (load16(x + i) - mv) * av + bv
            if let r = residual { v += load16(r + i) }
            if relu { v = v.replacing(with: 0, where: v .< 0) }
            store16(y + i, v)
            i += 16
        }
        while i < count {
            var v = (x[i] - mean) * a + b
            if let r = residual { v += r[i] }
            if relu && v < 0 { v = 0 }
            y[i] = v
            i += 1
        }
    }

    /// y = x * a + b over a run.
    @inline(__always)
    static func affineRun(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, a: Float, b: Float) {
        let av = V16(repeating: a), bv = V16(repeating: b)
        var i = 0
        while i + 16 <= count { store16(y + i, load16(x + i) * av + bv); i += 16 }
        while i < count { y[i] = x[i] * a + b; i += 1 }
    }

    /// (sum dz, sum dz*(x-mean)) over a run, dz from `source` (dy, or dy
    /// masked by the fused ReLU); with `dResidual` dz is also written there
    /// (added when `accumulateResidual`).
    @inline(__always)
    static func gradSums(
        _ source: some RunGradient, _ x: UnsafePointer<Float>, _ count: Int, mean: Float,
        dResidual: UnsafeMutablePointer<Float>? = nil, accumulateResidual: Bool = false
    ) -> (Double, Double) {
        let mv = V16(repeating: mean)
        var a1 = V16(), a2 = V16(), i = 0
        while i + 16 <= count {
            let xv = load16(x + i)
            let g = source.vector(i, xv)
            if let d = dResidual { store16(d + i, accumulateResidual ? load16(d + i) + g : g) }
            a1 += g; a2 += g * (xv - mv)
            i += 16
        }
        var s1 = Double(a1.sum()), s2 = Double(a2.sum())
        while i < count {
            let g = source.scalar(i, x[i])
            if let d = dResidual { d[i] = accumulateResidual ? d[i] + g : g }
            s1 += Double(g); s2 += Double(g * (x[i] - mean))
            i += 1
        }
        return (s1, s2)
    }

    /// (sum dy, sum dy*(x-mean)) over a run.
    @inline(__always)
    static func gradSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int, mean: Float) -> (Double, Double) {
        gradSums(PlainGradient(dy: dy), x, count, mean: mean)
    }

    /// dx (+)= p*dz + q*x + r over a run, dz from `source`.
    @inline(__always)
    static func gradInputRun(
        _ source: some RunGradient, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
        _ count: Int, p: Float, q: Float, r: Float, accumulate: Bool
    ) {
        let pv = V16(repeating: p), qv = V16(repeating: q), rv = V16(repeating: r)
        var i = 0
        if accumulate {
            while i + 16 <= count {
                let xv = load16(x + i)
                store16(dx + i, load16(dx + i) + (source.vector(i, xv) * pv + (xv * qv + rv)))
                i += 16
            }
            while i < count { dx[i] += source.scalar(i, x[i]) * p + (x[i] * q + r); i += 1 }
        } else {
            while i + 16 <= count {
                let xv = load16(x + i)
                store16(dx + i, source.vector(i, xv) * pv + (xv * qv + rv))
                i += 16
            }
            while i < count { dx[i] = source.scalar(i, x[i]) * p + (x[i] * q + r); i += 1 }
        }
    }

    /// dx (+)= p*dy + q*x + r over a run.
    @inline(__always)
    static func gradInputRun(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
        _ count: Int, p: Float, q: Float, r: Float, accumulate: Bool
    ) {
        gradInputRun(PlainGradient(dy: dy), x, dx, count, p: p, q: q, r: r, accumulate: accumulate)
    }

    // MARK: Train forward

    /// Batch statistics and output in one call.
    ///
    /// For each channel c: mean[c], biased variance[c], invStd[c] =
    /// 1/sqrt(variance + eps); then `coefficients(c, mean, variance, invStd)`
    /// returns (a, b) and the output is y = (x - mean) * a + b (a constant
    /// channel gives exactly b). `coefficients` runs once per channel, on
    /// the worker that owns the channel, also when `y` is nil (statistics
    /// and coefficients only: the caller writes the output itself).
    /// `epilogue` (residual add, ReLU) is applied as y is written.
    static func trainForward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>?, geometry g: ChannelGeometry, eps: Float,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>,
        epilogue e: NormEpiloguePointers = .none,
        coefficients: (Int, Float, Float, Float) -> (Float, Float)
    ) {
        let m = Double(g.perChannel)
        guard g.perChannel > 0 else { return }
        @inline(__always) func finish(_ c: Int, _ k: Float, _ s1: Double, _ s2: Double) -> Bool {
            let mu = Double(k) + s1 / m
            let v = max(0, (s2 - s1 * s1 / m) / m)
            mean[c] = Float(mu)
            variance[c] = Float(v)
            invStd[c] = Float(1 / (v + Double(eps)).squareRoot())
            // The shift was far from the mean: the shifted sums cancelled badly.
            let off = (s1 / m) * (s1 / m)
            return off > 64 * v && off > 0
        }
        if g.inner == 1 {
            Threading.parallelFor(g.channels, minChunk: max(16, minChunk(g) * 16)) { range in
                rowStatistics(x: x, geometry: g, channels: range, eps: eps, mean: mean, variance: variance, invStd: invStd)
                let a = UnsafeMutablePointer<Float>.allocate(capacity: range.count)
                let b = UnsafeMutablePointer<Float>.allocate(capacity: range.count)
                defer { a.deallocate(); b.deallocate() }
                for c in range {
                    let (ac, bc) = coefficients(c, mean[c], variance[c], invStd[c])
                    a[c - range.lowerBound] = ac
                    b[c - range.lowerBound] = bc
                }
                guard let y else { return }
                rowAffine(x: x, y: y, geometry: g, channels: range, mean: mean + range.lowerBound, a: a, b: b)
                rowEpilogue(y, geometry: g, channels: range, e)
            }
            return
        }
        let stride = g.channels * g.inner, S = g.inner
        Threading.parallelFor(g.channels, minChunk: minChunk(g)) { workerRange in
            forEachBlock(workerRange, g, arrays: 1) { range in
                // The block's channels, visited in memory order: for each sample
                // one contiguous span of range.count * S floats.
                let w = range.count, c0 = range.lowerBound
                let k = UnsafeMutablePointer<Float>.allocate(capacity: w)
                let d = UnsafeMutablePointer<Double>.allocate(capacity: 2 * w)
                defer { k.deallocate(); d.deallocate() }
                d.initialize(repeating: 0, count: 2 * w)
                for j in 0..<w { k[j] = x[(c0 + j) * S] }
                for n in 0..<g.outer {
                    let span = x + n * stride + c0 * S
                    for j in 0..<w {
                        let (t1, t2) = shiftedSums(span + j * S, S, shift: k[j])
                        d[2 * j] += t1; d[2 * j + 1] += t2
                    }
                }
                for j in 0..<w where finish(c0 + j, k[j], d[2 * j], d[2 * j + 1]) {
                    // Rare: the shift was far from the mean; sum this channel again around its mean.
                    let k2 = mean[c0 + j]
                    var s1 = 0.0, s2 = 0.0
                    for n in 0..<g.outer {
                        let (t1, t2) = shiftedSums(x + n * stride + (c0 + j) * S, S, shift: k2)
                        s1 += t1; s2 += t2
                    }
                    _ = finish(c0 + j, k2, s1, s2)
                }
                let ab = UnsafeMutablePointer<Float>.allocate(capacity: 2 * w)
                defer { ab.deallocate() }
                for j in 0..<w {
                    let c = c0 + j
                    (ab[2 * j], ab[2 * j + 1]) = coefficients(c, mean[c], variance[c], invStd[c])
                }
                guard let y else { return }
                for n in 0..<g.outer {
                    let off = n * stride + c0 * S
                    for j in 0..<w {
                        let o = off + j * S
                        // Two calls, so that the plain one is inlined without the epilogue's tests.
                        if e.isActive {
                            normaliseRun(
                                x + o, y + o, S, mean: mean[c0 + j], a: ab[2 * j], b: ab[2 * j + 1],
                                residual: e.residual.map { $0 + o }, relu: e.relu)
                        } else {
                            normaliseRun(x + o, y + o, S, mean: mean[c0 + j], a: ab[2 * j], b: ab[2 * j + 1])
                        }
                    }
                }
            }
        }
    }

    // MARK: Eval forward

    /// One pass: y = x * scale[c] + shift[c] (running statistics folded into
    /// per-channel scale and shift by the caller), then `epilogue`.
    static func affine(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, geometry g: ChannelGeometry,
        scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, epilogue e: NormEpiloguePointers = .none
    ) {
        if g.inner == 1 {
            Threading.parallelFor(g.channels, minChunk: max(16, minChunk(g) * 16)) { range in
                rowAffine(x: x, y: y, geometry: g, channels: range, mean: nil, a: scale + range.lowerBound, b: shift + range.lowerBound)
                rowEpilogue(y, geometry: g, channels: range, e)
            }
            return
        }
        let stride = g.channels * g.inner, S = g.inner
        Threading.parallelFor(g.channels, minChunk: minChunk(g)) { range in
            for n in 0..<g.outer {
                for c in range {
                    let off = n * stride + c * S
                    if e.isActive {
                        // (x - 0) * scale + shift: the affine map with mean 0.
                        normaliseRun(
                            x + off, y + off, S, mean: 0, a: scale[c], b: shift[c],
                            residual: e.residual.map { $0 + off }, relu: e.relu)
                    } else {
                        affineRun(x + off, y + off, S, a: scale[c], b: shift[c])
                    }
                }
            }
        }
    }

    /// The epilogue over channels `range` of (N, C) output already written.
    static func rowEpilogue(
        _ y: UnsafeMutablePointer<Float>, geometry g: ChannelGeometry, channels range: Range<Int>, _ e: NormEpiloguePointers
    ) {
        guard e.isActive else { return }
        for n in 0..<g.outer {
            let off = n * g.channels + range.lowerBound
            epilogueInPlace(y + off, range.count, residual: e.residual.map { $0 + off }, relu: e.relu)
        }
    }

    // MARK: Backward

    /// Backward of y = gEff * xhat + bEff, xhat = (x - mean) * invStd.
    ///
    /// Derivation (per channel, m values, batch statistics):
    ///
    ///     mu = (1/m) sum x_i,  var = (1/m) sum (x_i - mu)^2,  s = 1/sqrt(var + eps)
    ///     xhat_i = (x_i - mu) s,  y_i = g xhat_i + b
    ///
    ///     dL/db = sum_i dy_i                      (Sdy)
    ///     dL/dg = sum_i dy_i xhat_i               (Sdyxhat)
    ///     dxhat_i = g dy_i
    ///     dL/dvar = sum_i dxhat_i (x_i - mu) (-1/2) s^3 = -(g s^2 / 2) Sdyxhat
    ///     dL/dmu  = -s sum_i dxhat_i + dL/dvar * (-2/m) sum_i (x_i - mu)
    ///             = -g s Sdy                       (the second sum is zero)
    ///     dx_i = dxhat_i s + dL/dvar * 2 (x_i - mu)/m + dL/dmu / m
    ///          = (g s / m) (m dy_i - Sdy - xhat_i Sdyxhat)
    ///
    /// Written as an affine map of dy_i and x_i for the second pass:
    ///
    ///     dx_i = p dy_i + q x_i + r,  p = g s,  q = -g s^2 Sdyxhat / m,
    ///     r = -g s Sdy / m - q mu
    ///
    /// Pass 1 reads dy and x to form Sdy and Sdyxhat; pass 2 reads them
    /// again (from cache for one channel) and writes dx. With running
    /// statistics (eval), mu and s are constants and dx_i = g s dy_i.
    ///
    /// Outputs per channel: sumDy = Sdy, sumDyXhat = Sdyxhat. `dx` may be
    /// nil (parameter gradients only); otherwise it is written, or added to
    /// when `accumulate`.
    ///
    /// Fused epilogue (NCHW only; (N, C) callers mask dy themselves): the
    /// gradient of the affine map is dz = dy where the fused output
    /// act(y + residual) is positive, else 0. The output is `mask` (saved by
    /// the forward), or, for a ReLU without residual, recomputed from x:
    /// `reluAffine` holds per channel the (mean, a, b) of the forward's
    /// pre-activation (x - mean) * a + b, which then reads two arrays per
    /// pass instead of three. `dResidual` receives dz (written, or added
    /// when `accumulateResidual`) in pass 1, before pass 2 writes dx, so it
    /// may be x's own gradient buffer; when written, pass 2 reads dz back
    /// from it instead of dy and the mask.
    static func backward(
        x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
        geometry g: ChannelGeometry, mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
        gEff: UnsafePointer<Float>, batchStatistics: Bool,
        sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>,
        mask: UnsafePointer<Float>? = nil, reluAffine: UnsafePointer<Float>? = nil,
        dResidual: UnsafeMutablePointer<Float>? = nil, accumulateResidual: Bool = false,
        pooled: PooledGradient? = nil
    ) {
        strataCheck(
            mask == nil || reluAffine == nil, "BatchNormKernels.backward: a saved output and a recomputed one are exclusive")
        strataCheck(
            reluAffine == nil || dResidual == nil, "BatchNormKernels.backward: the recomputed ReLU has no residual")
        strataCheck(
            pooled == nil || (reluAffine != nil && pooled?.geometry.inPlane == g.inner),
            "BatchNormKernels.backward: a fused MaxPool2d needs the recomputed ReLU over its planes")
        let fused = mask != nil || reluAffine != nil || dResidual != nil
        let m = Float(g.perChannel)
        @inline(__always) func coefficients(_ c: Int) -> (Float, Float, Float) {
            let s = invStd[c], gs = gEff[c] * s
            if !batchStatistics { return (gs, 0, 0) }
            let q = -gs * s * sumDyXhat[c] / m
            return (gs, q, -gs * sumDy[c] / m - q * mean[c])
        }
        if g.inner == 1 {
            strataCheck(!fused, "BatchNormKernels.backward: the fused epilogue takes NCHW input (inner > 1)")
            Threading.parallelFor(g.channels, minChunk: max(16, minChunk(g) * 16)) { range in
                rowBackward(
                    x: x, dy: dy, dx: dx, accumulate: accumulate, geometry: g, channels: range,
                    mean: mean, invStd: invStd, sumDy: sumDy, sumDyXhat: sumDyXhat, coefficients: coefficients)
            }
            return
        }
        let stride = g.channels * g.inner, S = g.inner
        let formed = dResidual != nil && !accumulateResidual
        Threading.parallelFor(g.channels, minChunk: minChunk(g)) { workerRange in
            forEachBlock(workerRange, g, arrays: 2) { range in
                let w = range.count, c0 = range.lowerBound
                let d = UnsafeMutablePointer<Double>.allocate(capacity: 2 * w)
                // With a fused MaxPool2d, each run's dy is its plane routed here.
                let routed = UnsafeMutablePointer<Float>.allocate(capacity: pooled == nil ? 1 : S)
                defer { d.deallocate(); routed.deallocate() }
                d.initialize(repeating: 0, count: 2 * w)
                @inline(__always) func dyRun(_ n: Int, _ c: Int, _ o: Int) -> UnsafePointer<Float> {
                    pooled?.route(plane: n * g.channels + c, into: routed) ?? dy + o
                }
                // Pass 1, in memory order over the block's channels.
                for n in 0..<g.outer {
                    let off = n * stride + c0 * S
                    for j in 0..<w {
                        let o = off + j * S, c = c0 + j
                        let (t1, t2): (Double, Double)
                        // One call per case, so that each inlined loop carries no
                        // test of an absent mask or residual.
                        if let out = mask, let dr = dResidual {
                            (t1, t2) = gradSums(
                                SavedOutputGradient(dy: dy + o, output: out + o), x + o, S, mean: mean[c],
                                dResidual: dr + o, accumulateResidual: accumulateResidual)
                        } else if let out = mask {
                            (t1, t2) = gradSums(SavedOutputGradient(dy: dy + o, output: out + o), x + o, S, mean: mean[c])
                        } else if let ab = reluAffine {
                            (t1, t2) = gradSums(
                                RecomputedReLUGradient(dy: dyRun(n, c, o), mean: ab[3 * c], a: ab[3 * c + 1], b: ab[3 * c + 2]),
                                x + o, S, mean: mean[c])
                        } else if let dr = dResidual {
                            (t1, t2) = gradSums(
                                PlainGradient(dy: dy + o), x + o, S, mean: mean[c],
                                dResidual: dr + o, accumulateResidual: accumulateResidual)
                        } else {
                            (t1, t2) = gradSums(PlainGradient(dy: dy + o), x + o, S, mean: mean[c])
                        }
                        d[2 * j] += t1; d[2 * j + 1] += t2
                    }
                }
                for j in 0..<w {
                    sumDy[c0 + j] = Float(d[2 * j])
                    sumDyXhat[c0 + j] = Float(d[2 * j + 1]) * invStd[c0 + j]
                }
                guard let dx else { return }
                let pqr = UnsafeMutablePointer<Float>.allocate(capacity: 3 * w)
                defer { pqr.deallocate() }
                for j in 0..<w { (pqr[3 * j], pqr[3 * j + 1], pqr[3 * j + 2]) = coefficients(c0 + j) }
                // Pass 2: dx.
                for n in 0..<g.outer {
                    let off = n * stride + c0 * S
                    for j in 0..<w {
                        let o = off + j * S, c = c0 + j
                        let (p, q, r) = (pqr[3 * j], pqr[3 * j + 1], pqr[3 * j + 2])
                        if formed, let dz = dResidual {
                            gradInputRun(FormedGradient(dz: dz + o), x + o, dx + o, S, p: p, q: q, r: r, accumulate: accumulate)
                        } else if let out = mask {
                            gradInputRun(
                                SavedOutputGradient(dy: dy + o, output: out + o), x + o, dx + o, S,
                                p: p, q: q, r: r, accumulate: accumulate)
                        } else if let ab = reluAffine {
                            gradInputRun(
                                RecomputedReLUGradient(dy: dyRun(n, c, o), mean: ab[3 * c], a: ab[3 * c + 1], b: ab[3 * c + 2]),
                                x + o, dx + o, S, p: p, q: q, r: r, accumulate: accumulate)
                        } else {
                            gradInputRun(PlainGradient(dy: dy + o), x + o, dx + o, S, p: p, q: q, r: r, accumulate: accumulate)
                        }
                    }
                }
            }
        }
    }
}
