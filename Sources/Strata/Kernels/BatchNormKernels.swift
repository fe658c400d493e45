/// Fused per-channel normalisation kernels (BatchNorm, BatchRenorm,
/// InstanceNorm).
///
/// Memory layout: the tensor is seen as [outer, channels, inner], row-major.
/// For NCHW input outer = N and inner = H*W, so channel c's data is `outer`
/// runs of `inner` contiguous floats at stride channels*inner. Statistics
/// are strided reductions over those runs in place: nothing is transposed or
/// copied to channel-major order.
///
/// Two loop orders:
/// - inner > 1: one channel at a time. Its runs are read once from memory
///   for the statistics and again, from cache (one channel of a 64x28x28
///   batch is 200 KB, well inside the 1 MB L2), to write the output. The
///   inner loops run over contiguous runs with SIMD accumulators.
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
struct ChannelGeometry: Equatable {
    var outer: Int
    var channels: Int
    var inner: Int
    /// Values per channel (the batch size m of the statistics).
    var perChannel: Int { outer * inner }
    var count: Int { outer * channels * inner }
}

/// A fixed-size heap buffer of floats, freed with its owner (captured by
/// backward closures to keep per-channel statistics).
final class FloatBuffer: @unchecked Sendable {
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
    subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
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

    /// y = (x - mean) * a + b over a run.
    @inline(__always)
    static func normaliseRun(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
                             mean: Float, a: Float, b: Float) {
        let mv = V16(repeating: mean), av = V16(repeating: a), bv = V16(repeating: b)
        var i = 0
        while i + 16 <= count { store16(y + i, (load16(x + i) - mv) * av + bv); i += 16 }
        while i < count { y[i] = (x[i] - mean) * a + b; i += 1 }
    }

    /// y = x * a + b over a run.
    @inline(__always)
    static func affineRun(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, a: Float, b: Float) {
        let av = V16(repeating: a), bv = V16(repeating: b)
        var i = 0
        while i + 16 <= count { store16(y + i, load16(x + i) * av + bv); i += 16 }
        while i < count { y[i] = x[i] * a + b; i += 1 }
    }

    /// (sum dy, sum dy*(x-mean)) over a run.
    @inline(__always)
    static func gradSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int, mean: Float) -> (Double, Double) {
        let mv = V16(repeating: mean)
        var a1 = V16(), a2 = V16(), i = 0
        while i + 16 <= count {
            let g = load16(dy + i)
            a1 += g; a2 += g * (load16(x + i) - mv)
            i += 16
        }
        var s1 = Double(a1.sum()), s2 = Double(a2.sum())
        while i < count { s1 += Double(dy[i]); s2 += Double(dy[i] * (x[i] - mean)); i += 1 }
        return (s1, s2)
    }

    /// dx (+)= p*dy + q*x + r over a run.
    @inline(__always)
    static func gradInputRun(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                             _ count: Int, p: Float, q: Float, r: Float, accumulate: Bool) {
        let pv = V16(repeating: p), qv = V16(repeating: q), rv = V16(repeating: r)
        var i = 0
        if accumulate {
            while i + 16 <= count { store16(dx + i, load16(dx + i) + (load16(dy + i) * pv + (load16(x + i) * qv + rv))); i += 16 }
            while i < count { dx[i] += dy[i] * p + (x[i] * q + r); i += 1 }
        } else {
            while i + 16 <= count { store16(dx + i, load16(dy + i) * pv + (load16(x + i) * qv + rv)); i += 16 }
            while i < count { dx[i] = dy[i] * p + (x[i] * q + r); i += 1 }
        }
    }

    // MARK: Train forward

    /// Batch statistics and output in one call.
    ///
    /// For each channel c: mean[c], biased variance[c], invStd[c] =
    /// 1/sqrt(variance + eps); then `coefficients(c, mean, variance, invStd)`
    /// returns (a, b) and the output is y = (x - mean) * a + b (a constant
    /// channel gives exactly b). `coefficients` runs once per channel, on
    /// the worker that owns the channel. `y` may be nil (statistics only).
    static func trainForward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>?, geometry g: ChannelGeometry, eps: Float,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>,
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
                guard let y else { return }
                let a = UnsafeMutablePointer<Float>.allocate(capacity: range.count)
                let b = UnsafeMutablePointer<Float>.allocate(capacity: range.count)
                defer { a.deallocate(); b.deallocate() }
                for c in range {
                    let (ac, bc) = coefficients(c, mean[c], variance[c], invStd[c])
                    a[c - range.lowerBound] = ac
                    b[c - range.lowerBound] = bc
                }
                rowAffine(x: x, y: y, geometry: g, channels: range, mean: mean + range.lowerBound, a: a, b: b)
            }
            return
        }
        let stride = g.channels * g.inner
        Threading.parallelFor(g.channels, minChunk: minChunk(g)) { range in
            for c in range {
                let base = x + c * g.inner
                let k = base[0]
                var s1 = 0.0, s2 = 0.0
                for n in 0..<g.outer {
                    let (t1, t2) = shiftedSums(base + n * stride, g.inner, shift: k)
                    s1 += t1; s2 += t2
                }
                if finish(c, k, s1, s2) {
                    let k2 = mean[c]
                    s1 = 0; s2 = 0
                    for n in 0..<g.outer {
                        let (t1, t2) = shiftedSums(base + n * stride, g.inner, shift: k2)
                        s1 += t1; s2 += t2
                    }
                    _ = finish(c, k2, s1, s2)
                }
                guard let y else { continue }
                let (a, b) = coefficients(c, mean[c], variance[c], invStd[c])
                let mu = mean[c]
                for n in 0..<g.outer {
                    let off = n * stride + c * g.inner
                    normaliseRun(x + off, y + off, g.inner, mean: mu, a: a, b: b)
                }
            }
        }
    }

    /// Statistics of channels `range` for (N, C) data (inner == 1), row by
    /// row, vectorised across channels; Float partials are flushed to
    /// Double every 64 rows.
    static func rowStatistics(
        x: UnsafePointer<Float>, geometry g: ChannelGeometry, channels range: Range<Int>, eps: Float,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>
    ) {
        let w = range.count, c0 = range.lowerBound, C = g.channels
        let k = UnsafeMutablePointer<Float>.allocate(capacity: w)
        let f1 = UnsafeMutablePointer<Float>.allocate(capacity: w), f2 = UnsafeMutablePointer<Float>.allocate(capacity: w)
        let d1 = UnsafeMutablePointer<Double>.allocate(capacity: w), d2 = UnsafeMutablePointer<Double>.allocate(capacity: w)
        defer { k.deallocate(); f1.deallocate(); f2.deallocate(); d1.deallocate(); d2.deallocate() }
        d1.initialize(repeating: 0, count: w); d2.initialize(repeating: 0, count: w)
        func pass() {
            var r0 = 0
            while r0 < g.outer {
                f1.initialize(repeating: 0, count: w); f2.initialize(repeating: 0, count: w)
                for r in r0..<min(g.outer, r0 + 64) {
                    let row = x + r * C + c0
                    var j = 0
                    while j + 16 <= w {
                        let d = load16(row + j) - load16(k + j)
                        store16(f1 + j, load16(f1 + j) + d)
                        store16(f2 + j, load16(f2 + j) + d * d)
                        j += 16
                    }
                    while j < w { let d = row[j] - k[j]; f1[j] += d; f2[j] += d * d; j += 1 }
                }
                for j in 0..<w { d1[j] += Double(f1[j]); d2[j] += Double(f2[j]) }
                r0 += 64
            }
        }
        (k as UnsafeMutablePointer<Float>).update(from: x + c0, count: w)
        pass()
        let m = Double(g.perChannel)
        var refine = false
        for j in 0..<w {
            let mu = Double(k[j]) + d1[j] / m
            let v = max(0, (d2[j] - d1[j] * d1[j] / m) / m)
            if (d1[j] / m) * (d1[j] / m) > 64 * v && v > 0 { refine = true }
            mean[c0 + j] = Float(mu); variance[c0 + j] = Float(v)
            invStd[c0 + j] = Float(1 / (v + Double(eps)).squareRoot())
        }
        if refine {
            for j in 0..<w { k[j] = mean[c0 + j]; d1[j] = 0; d2[j] = 0 }
            pass()
            for j in 0..<w {
                let mu = Double(k[j]) + d1[j] / m
                let v = max(0, (d2[j] - d1[j] * d1[j] / m) / m)
                mean[c0 + j] = Float(mu); variance[c0 + j] = Float(v)
                invStd[c0 + j] = Float(1 / (v + Double(eps)).squareRoot())
            }
        }
    }

    /// y[r, c] = (x[r, c] - mean[j]) * a[j] + b[j] with j = c - lo, for channels
    /// `range` of (N, C) data; without `mean`, y = x * a[j] + b[j].
    static func rowAffine(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, geometry g: ChannelGeometry,
                          channels range: Range<Int>, mean: UnsafePointer<Float>?,
                          a: UnsafePointer<Float>, b: UnsafePointer<Float>) {
        let w = range.count, c0 = range.lowerBound, C = g.channels
        if let mu = mean {
            for r in 0..<g.outer {
                let xr = x + r * C + c0, yr = y + r * C + c0
                var j = 0
                while j + 16 <= w { store16(yr + j, (load16(xr + j) - load16(mu + j)) * load16(a + j) + load16(b + j)); j += 16 }
                while j < w { yr[j] = (xr[j] - mu[j]) * a[j] + b[j]; j += 1 }
            }
            return
        }
        for r in 0..<g.outer {
            let xr = x + r * C + c0, yr = y + r * C + c0
            var j = 0
            while j + 16 <= w { store16(yr + j, load16(xr + j) * load16(a + j) + load16(b + j)); j += 16 }
            while j < w { yr[j] = xr[j] * a[j] + b[j]; j += 1 }
        }
    }

    // MARK: Eval forward

    /// One pass: y = x * scale[c] + shift[c] (running statistics folded into
    /// per-channel scale and shift by the caller).
    static func affine(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, geometry g: ChannelGeometry,
                       scale: UnsafePointer<Float>, shift: UnsafePointer<Float>) {
        if g.inner == 1 {
            Threading.parallelFor(g.channels, minChunk: max(16, minChunk(g) * 16)) { range in
                rowAffine(x: x, y: y, geometry: g, channels: range, mean: nil, a: scale + range.lowerBound, b: shift + range.lowerBound)
            }
            return
        }
        let stride = g.channels * g.inner
        Threading.parallelFor(g.channels, minChunk: minChunk(g)) { range in
            for c in range {
                for n in 0..<g.outer {
                    let off = n * stride + c * g.inner
                    affineRun(x + off, y + off, g.inner, a: scale[c], b: shift[c])
                }
            }
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
    static func backward(
        x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
        geometry g: ChannelGeometry, mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
        gEff: UnsafePointer<Float>, batchStatistics: Bool,
        sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>
    ) {
        let m = Float(g.perChannel)
        @inline(__always) func coefficients(_ c: Int) -> (Float, Float, Float) {
            let s = invStd[c], gs = gEff[c] * s
            if !batchStatistics { return (gs, 0, 0) }
            let q = -gs * s * sumDyXhat[c] / m
            return (gs, q, -gs * sumDy[c] / m - q * mean[c])
        }
        if g.inner == 1 {
            Threading.parallelFor(g.channels, minChunk: max(16, minChunk(g) * 16)) { range in
                rowBackward(x: x, dy: dy, dx: dx, accumulate: accumulate, geometry: g, channels: range,
                            mean: mean, invStd: invStd, sumDy: sumDy, sumDyXhat: sumDyXhat, coefficients: coefficients)
            }
            return
        }
        let stride = g.channels * g.inner
        Threading.parallelFor(g.channels, minChunk: minChunk(g)) { range in
            for c in range {
                let mu = mean[c]
                var s1 = 0.0, s2 = 0.0
                for n in 0..<g.outer {
                    let off = n * stride + c * g.inner
                    let (t1, t2) = gradSums(dy + off, x + off, g.inner, mean: mu)
                    s1 += t1; s2 += t2
                }
                sumDy[c] = Float(s1)
                sumDyXhat[c] = Float(s2) * invStd[c]
                guard let dx else { continue }
                let (p, q, r) = coefficients(c)
                for n in 0..<g.outer {
                    let off = n * stride + c * g.inner
                    gradInputRun(dy + off, x + off, dx + off, g.inner, p: p, q: q, r: r, accumulate: accumulate)
                }
            }
        }
    }

    /// Backward for (N, C) data: sums row by row across channels, then dx.
    @inline(__always)
    static func rowBackward(
        x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
        geometry g: ChannelGeometry, channels range: Range<Int>, mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
        sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>,
        coefficients: (Int) -> (Float, Float, Float)
    ) {
        let w = range.count, c0 = range.lowerBound, C = g.channels
        let f1 = UnsafeMutablePointer<Float>.allocate(capacity: w), f2 = UnsafeMutablePointer<Float>.allocate(capacity: w)
        let d1 = UnsafeMutablePointer<Double>.allocate(capacity: w), d2 = UnsafeMutablePointer<Double>.allocate(capacity: w)
        let p = UnsafeMutablePointer<Float>.allocate(capacity: w), q = UnsafeMutablePointer<Float>.allocate(capacity: w)
        let r = UnsafeMutablePointer<Float>.allocate(capacity: w)
        defer { f1.deallocate(); f2.deallocate(); d1.deallocate(); d2.deallocate(); p.deallocate(); q.deallocate(); r.deallocate() }
        d1.initialize(repeating: 0, count: w); d2.initialize(repeating: 0, count: w)
        let mu = mean + c0
        var r0 = 0
        while r0 < g.outer {
            f1.initialize(repeating: 0, count: w); f2.initialize(repeating: 0, count: w)
            for row in r0..<min(g.outer, r0 + 64) {
                let xr = x + row * C + c0, gr = dy + row * C + c0
                var j = 0
                while j + 16 <= w {
                    let gv = load16(gr + j)
                    store16(f1 + j, load16(f1 + j) + gv)
                    store16(f2 + j, load16(f2 + j) + gv * (load16(xr + j) - load16(mu + j)))
                    j += 16
                }
                while j < w { f1[j] += gr[j]; f2[j] += gr[j] * (xr[j] - mu[j]); j += 1 }
            }
            for j in 0..<w { d1[j] += Double(f1[j]); d2[j] += Double(f2[j]) }
            r0 += 64
        }
        for j in 0..<w {
            sumDy[c0 + j] = Float(d1[j])
            sumDyXhat[c0 + j] = Float(d2[j]) * invStd[c0 + j]
        }
        guard let dx else { return }
        for j in 0..<w { (p[j], q[j], r[j]) = coefficients(c0 + j) }
        for row in 0..<g.outer {
            let xr = x + row * C + c0, gr = dy + row * C + c0, dr = dx + row * C + c0
            var j = 0
            while j + 16 <= w {
                let v = load16(gr + j) * load16(p + j) + (load16(xr + j) * load16(q + j) + load16(r + j))
                store16(dr + j, accumulate ? load16(dr + j) + v : v)
                j += 16
            }
            while j < w {
                let v = gr[j] * p[j] + (xr[j] * q[j] + r[j])
                dr[j] = accumulate ? dr[j] + v : v
                j += 1
            }
        }
    }
}
