import Foundation

/// Where each output row (or column) of a 2-D resampling reads from: two
/// source indices and their weights, y = w0 * x[i0] + w1 * x[i1]. Nearest
/// neighbour uses i1 = i0 and w1 = 0.
struct ResampleTaps: Sendable {
    var i0: [Int], i1: [Int], w0: [Float], w1: [Float]

    /// PyTorch's nearest rule (`nearest_idx`): source floor(dst * scale),
    /// clamped, with scale = 1/scaleFactor when a factor was given, else
    /// in/out (computed in Float as PyTorch does).
    static func nearest(input: Int, output: Int, scaleFactor: Double?) -> ResampleTaps {
        var taps = ResampleTaps(i0: [], i1: [], w0: [], w1: [])
        let scale: Float = scaleFactor.map { Float(1 / $0) } ?? Float(input) / Float(output)
        for o in 0..<output {
            let src: Int
            if output == input {
                src = o
            } else if output == 2 * input {
                src = o >> 1
            } else {
                src = min(Int(Foundation.floor(Float(o) * scale)), input - 1)
            }
            taps.append(src, src, 1, 0)
        }
        return taps
    }

    /// PyTorch's linear rule (`area_pixel_compute_source_index`):
    /// align corners: src = dst * (in-1)/(out-1); otherwise
    /// src = max((dst + 0.5) * scale - 0.5, 0) with scale as for `nearest`.
    /// Then i0 = floor(src), i1 = min(i0 + 1, in - 1), w1 = src - i0.
    static func linear(input: Int, output: Int, scaleFactor: Double?, alignCorners: Bool) -> ResampleTaps {
        var taps = ResampleTaps(i0: [], i1: [], w0: [], w1: [])
        let scale: Float
        if alignCorners {
            scale = output > 1 ? Float(input - 1) / Float(output - 1) : 0
        } else {
            scale = scaleFactor.map { Float(1 / $0) } ?? Float(input) / Float(output)
        }
        for o in 0..<output {
            let src = alignCorners ? scale * Float(o) : max(scale * (Float(o) + 0.5) - 0.5, 0)
            let i0 = min(Int(src), input - 1)
            let i1 = i0 + (i0 < input - 1 ? 1 : 0)
            let l1 = min(max(src - Float(i0), 0), 1)
            taps.append(i0, i1, 1 - l1, l1)
        }
        return taps
    }

    mutating func append(_ a: Int, _ b: Int, _ wa: Float, _ wb: Float) {
        i0.append(a); i1.append(b); w0.append(wa); w1.append(wb)
    }
}

/// Separable 2-D resampling of [H, W] planes with row taps `ty` and column
/// taps `tx`; each function handles `planes` consecutive planes.
enum ResampleKernels {
    /// y[oy, ox] = sum over the four (row, column) taps of weight * x.
    static func forward(
        _ input: UnsafePointer<Float>, height h: Int, width w: Int, _ ty: ResampleTaps, _ tx: ResampleTaps,
        planes: Range<Int>, out: UnsafeMutablePointer<Float>
    ) {
        let (oh, ow) = (ty.i0.count, tx.i0.count)
        for p in planes {
            let src = input + p * h * w, dst = out + p * oh * ow
            for oy in 0..<oh {
                let r0 = src + ty.i0[oy] * w, r1 = src + ty.i1[oy] * w
                let (a0, a1) = (ty.w0[oy], ty.w1[oy])
                for ox in 0..<ow {
                    let (c0, c1, b0, b1) = (tx.i0[ox], tx.i1[ox], tx.w0[ox], tx.w1[ox])
                    dst[oy * ow + ox] = a0 * (b0 * r0[c0] + b1 * r0[c1]) + a1 * (b0 * r1[c0] + b1 * r1[c1])
                }
            }
        }
    }

    /// The adjoint: each output gradient is added to its four taps with
    /// their weights (accumulating into `gradIn`).
    static func backward(
        _ gradOut: UnsafePointer<Float>, height h: Int, width w: Int, _ ty: ResampleTaps, _ tx: ResampleTaps,
        planes: Range<Int>, gradIn: UnsafeMutablePointer<Float>
    ) {
        let (oh, ow) = (ty.i0.count, tx.i0.count)
        for p in planes {
            let go = gradOut + p * oh * ow, gi = gradIn + p * h * w
            for oy in 0..<oh {
                let r0 = gi + ty.i0[oy] * w, r1 = gi + ty.i1[oy] * w
                let (a0, a1) = (ty.w0[oy], ty.w1[oy])
                for ox in 0..<ow {
                    let (c0, c1, b0, b1) = (tx.i0[ox], tx.i1[ox], tx.w0[ox], tx.w1[ox])
                    let g = go[oy * ow + ox]
                    r0[c0] += a0 * b0 * g; r0[c1] += a0 * b1 * g
                    r1[c0] += a1 * b0 * g; r1[c1] += a1 * b1 * g
                }
            }
        }
    }
}
