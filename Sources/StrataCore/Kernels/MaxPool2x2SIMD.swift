/// Lane vectors the 2x2 / stride-2 max pooling runs on: `pairs(at:)` loads
/// 2 * scalarCount consecutive floats and splits them into the even and odd
/// positions (the left and right column of scalarCount windows).
protocol PoolPairLanes: SIMD where Scalar == Float, MaskStorage.MaskStorage == MaskStorage, MaskStorage.Scalar == Int32 {
    static func pairs(at p: UnsafePointer<Float>) -> (even: Self, odd: Self)
}

extension SIMD8: PoolPairLanes where Scalar == Float {
    @inline(__always)
    static func pairs(at p: UnsafePointer<Float>) -> (even: SIMD8<Float>, odd: SIMD8<Float>) {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
        return (v.evenHalf, v.oddHalf)
    }
}

extension SIMD4: PoolPairLanes where Scalar == Float {
    @inline(__always)
    static func pairs(at p: UnsafePointer<Float>) -> (even: SIMD4<Float>, odd: SIMD4<Float>) {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        return (v.evenHalf, v.oddHalf)
    }
}

extension PoolingKernels {
    /// `maxForward2x2` for stride 2 with at least 4 windows per row: each
    /// output row is covered by chunks of `V.scalarCount` windows, the last
    /// chunk shifted back to end at the row's end (it recomputes a few
    /// windows, which is harmless). Compares and selects are vector
    /// operations, so nothing branches on the data (the scalar loop's
    /// selects compiled to branches that mispredict on random inputs).
    /// Same rules as `maxForward`: candidates in row-major order, strict `>`
    /// (the first maximum wins), a NaN always taken (the last NaN wins).
    static func maxForward2x2Stride2(
        _ input: UnsafePointer<Float>, _ g: PoolGeometry, planes: Range<Int>,
        out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>
    ) {
        if g.outW >= 8 {
            maxForward2x2Stride2(input, g, planes: planes, out: out, argmax: argmax, lanes: SIMD8<Float>.self)
        } else {
            maxForward2x2Stride2(input, g, planes: planes, out: out, argmax: argmax, lanes: SIMD4<Float>.self)
        }
    }

    @inline(__always)
    static func maxForward2x2Stride2<V: PoolPairLanes>(
        _ input: UnsafePointer<Float>, _ g: PoolGeometry, planes: Range<Int>,
        out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>, lanes: V.Type
    ) {
        let (w, outW, n) = (g.width, g.outW, V.scalarCount)
        var iota = V.MaskStorage()
        for l in 0..<n { iota[l] = Int32(2 * l) }
        for p in planes {
            let src = input + p * g.inPlane
            let dst = out + p * g.outPlane, idx = argmax + p * g.outPlane
            for oy in 0..<g.outH {
                let top = 2 * oy * w
                var ox = 0
                while ox < outW {
                    let start = min(ox, outW - n)
                    let i0 = top + 2 * start
                    let (a, b) = V.pairs(at: src + i0)
                    let (c, d) = V.pairs(at: src + i0 + w)
                    let base = iota &+ V.MaskStorage(repeating: Int32(truncatingIfNeeded: i0))
                    var best = a, bestIndex = base
                    var take = (b .> best) .| (b .!= b)
                    best.replace(with: b, where: take)
                    bestIndex.replace(with: base &+ 1, where: take)
                    take = (c .> best) .| (c .!= c)
                    best.replace(with: c, where: take)
                    bestIndex.replace(with: base &+ Int32(truncatingIfNeeded: w), where: take)
                    take = (d .> best) .| (d .!= d)
                    best.replace(with: d, where: take)
                    bestIndex.replace(with: base &+ Int32(truncatingIfNeeded: w + 1), where: take)
                    let o = oy * outW + start
                    UnsafeMutableRawPointer(dst + o).storeBytes(of: best, as: V.self)
                    UnsafeMutableRawPointer(idx + o).storeBytes(of: bestIndex, as: V.MaskStorage.self)
                    ox = start + n
                }
            }
        }
    }
}
