/// What a fused normalisation does after its affine map, on every element:
///
///     out = act(y + residual)      y = (x - mean) * a + b
///
/// with act = max(., 0) (PyTorch's ReLU: NaN stays NaN) when `relu`, the
/// identity otherwise, and the residual term only when `residual` is set.
/// It saves the separate passes of `relu(bn(x) + shortcut)`: a ResNet block's
/// tail reads its activations once instead of three times.
///
/// The residual has the layout of x (same [outer, channels, inner] offsets).
package struct NormEpiloguePointers {
    package var residual: UnsafePointer<Float>?
    package var relu: Bool

    package init(residual: UnsafePointer<Float>?, relu: Bool) {
        self.residual = residual
        self.relu = relu
    }

    /// Nothing after the affine map.
    package static var none: NormEpiloguePointers { NormEpiloguePointers(residual: nil, relu: false) }
    /// Whether anything follows the affine map.
    package var isActive: Bool { residual != nil || relu }
}

extension BatchNormKernels {
    /// out = act((x - mean) * a + b + residual) over a run; `e.residual` is
    /// the run's own start.
    @inline(__always)
    static func normaliseEpilogueRun(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
        mean: Float, a: Float, b: Float, residual: UnsafePointer<Float>?, relu: Bool
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

    /// y = act(y + residual) in place over a run (the (N, C) paths, which
    /// write the affine map first).
    @inline(__always)
    static func epilogueInPlace(_ y: UnsafeMutablePointer<Float>, _ count: Int, residual: UnsafePointer<Float>?, relu: Bool) {
        var i = 0
        while i + 16 <= count {
            var v = load16(y + i)
            if let r = residual { v += load16(r + i) }
            if relu { v = v.replacing(with: 0, where: v .< 0) }
            store16(y + i, v)
            i += 16
        }
        while i < count {
            var v = y[i]
            if let r = residual { v += r[i] }
            if relu && v < 0 { v = 0 }
            y[i] = v
            i += 1
        }
    }

    /// The gradient that reaches the affine map: dy where the fused output
    /// is positive (PyTorch's ReLU backward: zero where out <= 0), dy itself
    /// without a mask.
    @inline(__always)
    static func maskedGradient(_ dy: UnsafePointer<Float>, _ mask: UnsafePointer<Float>?, _ i: Int) -> V16 {
        let g = load16(dy + i)
        guard let mask else { return g }
        return g.replacing(with: 0, where: load16(mask + i) .<= 0)
    }

    @inline(__always)
    static func maskedGradient(_ dy: UnsafePointer<Float>, _ mask: UnsafePointer<Float>?, scalar i: Int) -> Float {
        guard let mask else { return dy[i] }
        return mask[i] > 0 ? dy[i] : 0
    }

    /// Pass 1 of the fused backward over a run: (sum dz, sum dz*(x-mean))
    /// with dz the masked gradient, and dz written to (or added into)
    /// `dResidual` when the residual needs a gradient.
    @inline(__always)
    static func epilogueGradSums(
        _ dy: UnsafePointer<Float>, _ mask: UnsafePointer<Float>?, _ x: UnsafePointer<Float>, _ count: Int,
        mean: Float, dResidual: UnsafeMutablePointer<Float>?, accumulateResidual: Bool
    ) -> (Double, Double) {
        let mv = V16(repeating: mean)
        var a1 = V16(), a2 = V16(), i = 0
        while i + 16 <= count {
            let g = maskedGradient(dy, mask, i)
            if let d = dResidual { store16(d + i, accumulateResidual ? load16(d + i) + g : g) }
            a1 += g; a2 += g * (load16(x + i) - mv)
            i += 16
        }
        var s1 = Double(a1.sum()), s2 = Double(a2.sum())
        while i < count {
            let g = maskedGradient(dy, mask, scalar: i)
            if let d = dResidual { d[i] = accumulateResidual ? d[i] + g : g }
            s1 += Double(g); s2 += Double(g * (x[i] - mean))
            i += 1
        }
        return (s1, s2)
    }

    /// Pass 2 of the fused backward over a run: dx (+)= p*dz + q*x + r.
    @inline(__always)
    static func epilogueGradInputRun(
        _ dy: UnsafePointer<Float>, _ mask: UnsafePointer<Float>?, _ x: UnsafePointer<Float>,
        _ dx: UnsafeMutablePointer<Float>, _ count: Int, p: Float, q: Float, r: Float, accumulate: Bool
    ) {
        let pv = V16(repeating: p), qv = V16(repeating: q), rv = V16(repeating: r)
        var i = 0
        while i + 16 <= count {
            let v = maskedGradient(dy, mask, i) * pv + (load16(x + i) * qv + rv)
            store16(dx + i, accumulate ? load16(dx + i) + v : v)
            i += 16
        }
        while i < count {
            let v = maskedGradient(dy, mask, scalar: i) * p + (x[i] * q + r)
            dx[i] = accumulate ? dx[i] + v : v
            i += 1
        }
    }
}
