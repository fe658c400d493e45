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
}
