/// Broadcasting as in NumPy and PyTorch: shapes are aligned at their last
/// dimension; a dimension of extent 1 (or a missing one) stretches to the
/// other operand's extent.
enum Broadcast {
    /// The broadcast shape of `a` and `b`, or nil when they are incompatible.
    static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Element strides of `shape` seen as broadcast to `target` (0 on stretched dimensions).
    static func strides(of shape: [Int], in target: [Int]) -> [Int] {
        let r = target.count
        var strides = [Int](repeating: 0, count: r)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let ti = i + (r - shape.count)
            strides[ti] = shape[i] == 1 && target[ti] != 1 ? 0 : s
            s *= shape[i]
        }
        return strides
    }

    /// Calls `body(outOffset, aOffset, bOffset, n, aStride, bStride)` for
    /// every run along the last dimension of `outShape`.
    static func forEachRow(
        outShape: [Int], aStrides: [Int], bStrides: [Int],
        _ body: (Int, Int, Int, Int, Int, Int) -> Void
    ) {
        let r = outShape.count
        if r == 0 { body(0, 0, 0, 1, 0, 0); return }
        let n = outShape[r - 1]
        let outer = outShape.dropLast().reduce(1, *)
        if n == 0 || outer == 0 { return }
        var idx = [Int](repeating: 0, count: r - 1)
        var ao = 0, bo = 0
        for row in 0..<outer {
            body(row * n, ao, bo, n, aStrides[r - 1], bStrides[r - 1])
            // Advance the odometer over the leading dimensions.
            var d = r - 2
            while d >= 0 {
                idx[d] += 1
                ao += aStrides[d]; bo += bStrides[d]
                if idx[d] < outShape[d] { break }
                ao -= aStrides[d] * outShape[d]; bo -= bStrides[d] * outShape[d]
                idx[d] = 0
                d -= 1
            }
        }
    }

    /// Sums `g` (of a broadcast shape) down to `shape`, the shape of an
    /// operand before broadcasting. Returns `g` itself when nothing to reduce.
    static func sum(_ g: Tensor, to shape: [Int]) -> Tensor {
        if g.shape == shape { return g }
        let out = Tensor(zeros: shape)
        let s = strides(of: shape, in: g.shape)
        let o = out.data, src = g.data
        forEachRow(outShape: g.shape, aStrides: s, bStrides: s) { go, oo, _, n, os, _ in
            if os == 0 {
                var acc: Float = 0
                for j in 0..<n { acc += src[go + j] }
                o[oo] += acc
            } else {
                for j in 0..<n { o[oo + j * os] += src[go + j] }
            }
        }
        return out
    }
}
