/// Index tables for padding one [H, W] plane: output position o of a
/// padded axis reads input index `source[o]`, or nothing (a zero) when it
/// is -1.
enum ConvPadKernels {
    /// Source indices of an axis of `size` padded by `before` and `after`.
    static func sourceIndices(size n: Int, before: Int, after: Int, mode: ConvPaddingMode) -> [Int] {
        (0..<(before + n + after)).map { o in
            let i = o - before
            if i >= 0 && i < n { return i }
            switch mode {
            case .zeros: return -1
            case .reflect: return i < 0 ? -i : 2 * (n - 1) - i
            case .replicate: return i < 0 ? 0 : n - 1
            case .circular: return ((i % n) + n) % n
            }
        }
    }

    /// out[p, oy, ox] = in[p, rows[oy], cols[ox]] (0 where either is -1).
    static func gather(
        _ input: UnsafePointer<Float>, height h: Int, width w: Int, rows: [Int], cols: [Int],
        planes: Range<Int>, out: UnsafeMutablePointer<Float>
    ) {
        let (oh, ow) = (rows.count, cols.count)
        for p in planes {
            let src = input + p * h * w, dst = out + p * oh * ow
            for oy in 0..<oh {
                let r = rows[oy], d = dst + oy * ow
                if r < 0 { d.update(repeating: 0, count: ow); continue }
                let s = src + r * w
                for ox in 0..<ow { d[ox] = cols[ox] < 0 ? 0 : s[cols[ox]] }
            }
        }
    }

    /// The adjoint of `gather`: gradIn[p, rows[oy], cols[ox]] += gradOut[p, oy, ox].
    static func scatter(
        _ gradOut: UnsafePointer<Float>, height h: Int, width w: Int, rows: [Int], cols: [Int],
        planes: Range<Int>, gradIn: UnsafeMutablePointer<Float>
    ) {
        let (oh, ow) = (rows.count, cols.count)
        for p in planes {
            let go = gradOut + p * oh * ow, gi = gradIn + p * h * w
            for oy in 0..<oh where rows[oy] >= 0 {
                let d = gi + rows[oy] * w, s = go + oy * ow
                for ox in 0..<ow where cols[ox] >= 0 { d[cols[ox]] += s[ox] }
            }
        }
    }
}
