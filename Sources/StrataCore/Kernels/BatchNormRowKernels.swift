/// BatchNorm kernels for (N, C) input (inner == 1): the Linear ->
/// BatchNorm1d case of MLPs. Channels are contiguous in a row, so the
/// textbook per-channel loop would walk memory with stride C. Instead the
/// loops take 8 channels at a time (a SIMD8 group; with two accumulator
/// sets that fills the 16 SSE registers without spilling) and run
/// down a chunk of 64 rows, keeping the per-channel sums in registers (two
/// accumulator sets, for even and odd rows, to halve the dependency chain);
/// each chunk's Float sums are added into Double totals. The output passes
/// hold 16 channels' coefficients in registers the same way. A chunk of
/// 64 rows stays in L1 while its channel blocks are visited. Channels that
/// do not fill a group take a scalar loop.
typealias V8 = SIMD8<Float>

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> V8 {
    UnsafeRawPointer(p).loadUnaligned(as: V8.self)
}

extension BatchNormKernels {
    static let rowChunk = 64

    /// Per-channel (sum (x-k), sum (x-k)^2) of channels c0..<c0+w over all
    /// rows, accumulated into `d1`/`d2` (Double, length w).
    @inline(__always)
    static func rowShiftedSums(
        _ x: UnsafePointer<Float>, rows: Int, C: Int, c0: Int, w: Int,
        shift k: UnsafePointer<Float>, _ d1: UnsafeMutablePointer<Double>,
        _ d2: UnsafeMutablePointer<Double>
    ) {
        d1.update(repeating: 0, count: w); d2.update(repeating: 0, count: w)
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + rowChunk)
            var j = 0
            while j + 8 <= w {
                let kv = load8(k + j)
                var a1 = V8(), a2 = V8(), b1 = V8(), b2 = V8()
                var p = x + r0 * C + c0 + j, r = r0
                while r + 2 <= r1 {
                    let u = load8(p) - kv, v = load8(p + C) - kv
                    a1 += u; a2 += u * u; b1 += v; b2 += v * v
                    p += 2 * C; r += 2
                }
                if r < r1 { let u = load8(p) - kv; a1 += u; a2 += u * u }
                a1 += b1; a2 += b2
                for l in 0..<8 { d1[j + l] += Double(a1[l]); d2[j + l] += Double(a2[l]) }
                j += 8
            }
            while j < w {
                var t1: Float = 0, t2: Float = 0
                for r in r0..<r1 { let u = x[r * C + c0 + j] - k[j]; t1 += u; t2 += u * u }
                d1[j] += Double(t1); d2[j] += Double(t2)
                j += 1
            }
            r0 = r1
        }
    }

    /// Statistics of channels `range` for (N, C) data.
    static func rowStatistics(
        x: UnsafePointer<Float>, geometry g: ChannelGeometry, channels range: Range<Int>, eps: Float,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>
    ) {
        let w = range.count, c0 = range.lowerBound, C = g.channels
        let k = UnsafeMutablePointer<Float>.allocate(capacity: w)
        let d = UnsafeMutablePointer<Double>.allocate(capacity: 2 * w)
        defer { k.deallocate(); d.deallocate() }
        let d1 = d, d2 = d + w
        k.update(from: x + c0, count: w)
        rowShiftedSums(x, rows: g.outer, C: C, c0: c0, w: w, shift: k, d1, d2)
        let m = Double(g.perChannel)
        var refine = false
        for j in 0..<w {
            let v = max(0, (d2[j] - d1[j] * d1[j] / m) / m)
            if (d1[j] / m) * (d1[j] / m) > 64 * v && v > 0 { refine = true }
            mean[c0 + j] = Float(Double(k[j]) + d1[j] / m); variance[c0 + j] = Float(v)
            invStd[c0 + j] = Float(1 / (v + Double(eps)).squareRoot())
        }
        guard refine else { return }
        // Rare: some shift was far from its mean; sum again around the means.
        k.update(from: mean + c0, count: w)
        rowShiftedSums(x, rows: g.outer, C: C, c0: c0, w: w, shift: k, d1, d2)
        for j in 0..<w {
            let v = max(0, (d2[j] - d1[j] * d1[j] / m) / m)
            mean[c0 + j] = Float(Double(k[j]) + d1[j] / m); variance[c0 + j] = Float(v)
            invStd[c0 + j] = Float(1 / (v + Double(eps)).squareRoot())
        }
    }

    /// y[r, c] = (x[r, c] - mean[j]) * a[j] + b[j] with j = c - lo, for channels
    /// `range` of (N, C) data; without `mean`, y = x * a[j] + b[j].
    static func rowAffine(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, geometry g: ChannelGeometry,
        channels range: Range<Int>, mean: UnsafePointer<Float>?,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>
    ) {
        let w = range.count, c0 = range.lowerBound, C = g.channels
        var j = 0
        while j + 16 <= w {
            let mv = mean.map { load16($0 + j) } ?? V16(), av = load16(a + j), bv = load16(b + j)
            var px = x + c0 + j, py = y + c0 + j
            for _ in 0..<g.outer {
                store16(py, (load16(px) - mv) * av + bv)
                px += C; py += C
            }
            j += 16
        }
        while j < w {
            let mu = mean?[j] ?? 0, aj = a[j], bj = b[j]
            for r in 0..<g.outer { y[r * C + c0 + j] = (x[r * C + c0 + j] - mu) * aj + bj }
            j += 1
        }
    }

    /// Backward for (N, C) data: gradient sums, then dx = p dy + q x + r.
    @inline(__always)
    static func rowBackward(
        x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
        geometry g: ChannelGeometry, channels range: Range<Int>, mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
        sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>,
        coefficients: (Int) -> (Float, Float, Float)
    ) {
        let w = range.count, c0 = range.lowerBound, C = g.channels, rows = g.outer
        let d = UnsafeMutablePointer<Double>.allocate(capacity: 2 * w)
        let pqr = UnsafeMutablePointer<Float>.allocate(capacity: 3 * w)
        defer { d.deallocate(); pqr.deallocate() }
        d.initialize(repeating: 0, count: 2 * w)
        let d1 = d, d2 = d + w, mu = mean + c0
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + rowChunk)
            var j = 0
            while j + 8 <= w {
                let mv = load8(mu + j)
                var a1 = V8(), a2 = V8(), b1 = V8(), b2 = V8()
                let off = r0 * C + c0 + j
                var px = x + off, pg = dy + off, r = r0
                while r + 2 <= r1 {
                    let g0 = load8(pg), g1 = load8(pg + C)
                    a1 += g0; a2 += g0 * (load8(px) - mv)
                    b1 += g1; b2 += g1 * (load8(px + C) - mv)
                    px += 2 * C; pg += 2 * C; r += 2
                }
                if r < r1 { let g0 = load8(pg); a1 += g0; a2 += g0 * (load8(px) - mv) }
                a1 += b1; a2 += b2
                for l in 0..<8 { d1[j + l] += Double(a1[l]); d2[j + l] += Double(a2[l]) }
                j += 8
            }
            while j < w {
                var t1: Float = 0, t2: Float = 0
                for r in r0..<r1 { let gv = dy[r * C + c0 + j]; t1 += gv; t2 += gv * (x[r * C + c0 + j] - mu[j]) }
                d1[j] += Double(t1); d2[j] += Double(t2)
                j += 1
            }
            r0 = r1
        }
        for j in 0..<w {
            sumDy[c0 + j] = Float(d1[j])
            sumDyXhat[c0 + j] = Float(d2[j]) * invStd[c0 + j]
        }
        guard let dx else { return }
        for j in 0..<w { (pqr[j], pqr[w + j], pqr[2 * w + j]) = coefficients(c0 + j) }
        let p = pqr, q = pqr + w, rr = pqr + 2 * w
        var j = 0
        while j + 16 <= w {
            let pv = load16(p + j), qv = load16(q + j), rv = load16(rr + j)
            var px = x + c0 + j, pg = dy + c0 + j, pd = dx + c0 + j
            if accumulate {
                for _ in 0..<rows { store16(pd, load16(pd) + (load16(pg) * pv + (load16(px) * qv + rv))); px += C; pg += C; pd += C }
            } else {
                for _ in 0..<rows { store16(pd, load16(pg) * pv + (load16(px) * qv + rv)); px += C; pg += C; pd += C }
            }
            j += 16
        }
        while j < w {
            for r in 0..<rows {
                let i = r * C + c0 + j
                let v = dy[i] * p[j] + (x[i] * q[j] + rr[j])
                dx[i] = accumulate ? dx[i] + v : v
            }
            j += 1
        }
    }
}
