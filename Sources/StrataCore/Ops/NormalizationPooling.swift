import CKernels

/// MaxPool2d(2) fused after a BatchNorm + ReLU (`NormEpilogue.maxPool`):
/// the normalised activation relu((x - mean) * a + b) is formed one plane
/// at a time in a scratch plane and pooled from there, so the full-size
/// output is never written to memory nor read back by a pooling op.
///
/// Forward (`pooledNormOutput`): out [N, C, H/2, W/2] and the argmax of each 2x2 window, flat
/// within its plane (`strata_affine_relu_maxpool2x2`: the values, ties and
/// NaNs of `maxPool2d(relu(bn(x)), kernelSize: 2)` bit for bit). Backward
/// (`PooledGradient`): each window's gradient routed to its argmax
/// (MaxPool2d's backward, zero elsewhere) one plane at a time into a
/// scratch plane, which the BatchNorm's fused backward reads as dy and
/// masks with the ReLU recomputed from x.
struct PoolRouting {
    /// Each window's argmax, flat within its plane: [N, C, H/2, W/2].
    let argmax: IndexBuffer
    let geometry: PoolGeometry
}

/// Pools the activation of x [N, C, H, W] (H, W >= 2) with the per-channel
/// triples (mean, a, b) of `reluAffine` (`FloatBuffer.setPreActivation`).
/// Returns the output [N, C, H/2, W/2] and what the backward needs; the
/// op's backward closure holds only the latter (the output holds the
/// closure: holding the output back would be a cycle that outlives a
/// forward without backward).
func pooledNormOutput(_ x: Tensor, reluAffine: FloatBuffer) -> (output: Tensor, routing: PoolRouting) {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let pg = PoolGeometry(
        height: h, width: w, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padH: 0, padW: 0,
        outH: h / 2, outW: w / 2)
    let out = Tensor(uninitialized: [n, c, pg.outH, pg.outW])
    let indices = IndexBuffer(count: out.count)
    let (xp, op, ip, tp) = (x.data, out.data, indices.pointer, UnsafePointer(reluAffine.pointer))
    withExtendedLifetime(reluAffine) {
        Threading.parallelFor(n * c, minChunk: poolMinPlanes) { range in
            Workspace.with(count: h * w) { scratch in
                strata_affine_relu_maxpool2x2(
                    xp + range.lowerBound * pg.inPlane, Int64(range.lowerBound), Int64(range.count), Int64(c),
                    Int64(h), Int64(w), tp, scratch, op + range.lowerBound * pg.outPlane,
                    ip + range.lowerBound * pg.outPlane)
            }
        }
    }
    return (out, PoolRouting(argmax: indices, geometry: pg))
}
