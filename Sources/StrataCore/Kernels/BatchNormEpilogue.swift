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
}

/// Where a backward run finds dz, the gradient that reaches the affine map
/// y = (x - mean) * a + b, at element i of the run (x there already loaded).
/// Each source is its own type, so the run loops, generic over it and
/// always inlined, are compiled once per source without a test per element.
protocol RunGradient {
    func vector(_ i: Int, _ x: V16) -> V16
    func scalar(_ i: Int, _ x: Float) -> Float
}

/// dz = dy: no epilogue.
struct PlainGradient: RunGradient {
    let dy: UnsafePointer<Float>
    @inline(__always) func vector(_ i: Int, _ x: V16) -> V16 { load16(dy + i) }
    @inline(__always) func scalar(_ i: Int, _ x: Float) -> Float { dy[i] }
}

/// dz = dy where the saved fused output is positive, else 0 (PyTorch's
/// ReLU backward: zero where out <= 0, so a NaN output passes dy).
struct SavedOutputGradient: RunGradient {
    let dy: UnsafePointer<Float>
    let output: UnsafePointer<Float>
    @inline(__always) func vector(_ i: Int, _ x: V16) -> V16 {
        load16(dy + i).replacing(with: 0, where: load16(output + i) .<= 0)
    }
    @inline(__always) func scalar(_ i: Int, _ x: Float) -> Float { output[i] <= 0 ? 0 : dy[i] }
}

/// The same rule for a ReLU without residual, its output recomputed from x
/// instead of read: (x - mean) * a + b is the expression `normaliseRun`
/// wrote, evaluated the same way, so it is the same bits and the same mask
/// as the saved output's (max(v, 0) <= 0 exactly when v <= 0). The backward
/// then reads two arrays (dy, x) per pass instead of three.
struct RecomputedReLUGradient: RunGradient {
    let dy: UnsafePointer<Float>
    let mean: Float, a: Float, b: Float
    @inline(__always) func vector(_ i: Int, _ x: V16) -> V16 {
        let v = (x - V16(repeating: mean)) * V16(repeating: a) + V16(repeating: b)
        return load16(dy + i).replacing(with: 0, where: v .<= 0)
    }
    @inline(__always) func scalar(_ i: Int, _ x: Float) -> Float { (x - mean) * a + b <= 0 ? 0 : dy[i] }
}

/// dz itself, already formed: the residual's gradient that pass 1 wrote
/// (not added to an existing one), read in pass 2 instead of dy and the
/// saved output.
struct FormedGradient: RunGradient {
    let dz: UnsafePointer<Float>
    @inline(__always) func vector(_ i: Int, _ x: V16) -> V16 { load16(dz + i) }
    @inline(__always) func scalar(_ i: Int, _ x: Float) -> Float { dz[i] }
}

/// The gradient that reaches a ReLU followed by a fused MaxPool2d(2)
/// (`NormEpilogue.maxPool`): per plane, each window's gradient in
/// `gradOut` [planes, outH, outW] at its argmax, zero elsewhere
/// (MaxPool2d's backward), formed one plane at a time into a scratch plane
/// that the BatchNorm backward's runs read as dy, so the full-size
/// gradient is never written.
package struct PooledGradient {
    let gradOut: UnsafePointer<Float>
    let argmax: UnsafePointer<Int32>
    let geometry: PoolGeometry

    /// Writes plane `p`'s gradient (inPlane floats) into `plane`, as
    /// MaxPool2d's own backward writes a fresh gradient
    /// (`PoolingKernels.maxBackward`).
    @inline(__always) func route(plane p: Int, into plane: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let o = p * geometry.outPlane
        PoolingKernels.maxBackward(gradOut + o, argmax: argmax + o, geometry, planes: 0..<1, gradIn: plane, fresh: true)
        return UnsafePointer(plane)
    }
}
