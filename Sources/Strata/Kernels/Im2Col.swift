/// Geometry of one 2-D convolution (or pooling window walk) on one sample.
///
/// Input plane H x W per channel; kernel kh x kw with dilation (dh, dw),
/// stride (sh, sw); `padTop`/`padLeft` zeros before the input. Padding after
/// the input (bottom/right, possibly different for PyTorch's asymmetric
/// "same" rule) is implied by the output size:
///
///     outH = (H + padTop + padBottom - dh*(kh-1) - 1) / sh + 1
struct ConvGeometry: Equatable, Sendable {
    var channels: Int, height: Int, width: Int
    var kernelH: Int, kernelW: Int
    var strideH: Int, strideW: Int
    var padTop: Int, padLeft: Int
    var dilationH: Int, dilationW: Int
    var outH: Int, outW: Int

    /// Rows of the column matrix: channels * kh * kw.
    var columnRows: Int { channels * kernelH * kernelW }
    /// Pixels of one output plane.
    var outPlane: Int { outH * outW }
    /// Pixels of one input plane.
    var inPlane: Int { height * width }
}

/// Output positions o in 0..<count with 0 <= o * stride + offset < limit,
/// as a half-open range.
@inline(__always)
func validOutputRange(count: Int, stride: Int, offset: Int, limit: Int) -> Range<Int> {
    let lo = offset < 0 ? (-offset + stride - 1) / stride : 0
    let top = limit - offset  // need o * stride < top
    let hi = top > 0 ? (top - 1) / stride + 1 : 0
    let l = min(lo, count)
    return l..<min(max(hi, l), count)
}

/// im2col and col2im for NCHW convolution.
///
/// The column matrix of one sample has `columnRows` = C*kh*kw rows, ordered
/// (c, ki, kj) like the flattened weight [out, C, kh, kw], and outH*outW
/// columns ordered (oh, ow). `ldColumn` is its row stride, so that several
/// samples can sit side by side in one wide matrix [C*kh*kw, N*outH*outW]
/// (sample n starting at column n*outH*outW).
enum Im2Col {
    /// Writes the column matrix of `input` (one sample, [C, H, W]) into
    /// `column` (row stride `ldColumn`). Padded positions become 0.
    static func im2col(
        _ input: UnsafePointer<Float>, _ g: ConvGeometry,
        column: UnsafeMutablePointer<Float>, ldColumn: Int
    ) {
        let (oh, ow, h, w) = (g.outH, g.outW, g.height, g.width)
        var row = 0
        for c in 0..<g.channels {
            let plane = input + c * g.inPlane
            for ki in 0..<g.kernelH {
                let offH = ki * g.dilationH - g.padTop
                let rows = validOutputRange(count: oh, stride: g.strideH, offset: offH, limit: h)
                for kj in 0..<g.kernelW {
                    let offW = kj * g.dilationW - g.padLeft
                    let cols = validOutputRange(count: ow, stride: g.strideW, offset: offW, limit: w)
                    let dst = column + row * ldColumn
                    row += 1
                    if rows.lowerBound > 0 { dst.update(repeating: 0, count: rows.lowerBound * ow) }
                    if rows.upperBound < oh {
                        (dst + rows.upperBound * ow).update(repeating: 0, count: (oh - rows.upperBound) * ow)
                    }
                    if cols.isEmpty {
                        (dst + rows.lowerBound * ow).update(repeating: 0, count: rows.count * ow)
                        continue
                    }
                    for y in rows {
                        let d = dst + y * ow
                        let s = plane + (y * g.strideH + offH) * w + offW
                        for x in 0..<cols.lowerBound { d[x] = 0 }
                        for x in cols.upperBound..<ow { d[x] = 0 }
                        if g.strideW == 1 {
                            (d + cols.lowerBound).update(from: s + cols.lowerBound, count: cols.count)
                        } else {
                            let sw = g.strideW
                            for x in cols { d[x] = s[x * sw] }
                        }
                    }
                }
            }
        }
    }

    /// Adds the column-matrix gradient `column` back into `inputGrad` (one
    /// sample, [C, H, W]): each column entry is added to the input pixel it
    /// was copied from; entries of padded positions are dropped. `inputGrad`
    /// is accumulated into, not overwritten.
    static func col2im(
        _ column: UnsafePointer<Float>, ldColumn: Int, _ g: ConvGeometry,
        inputGrad: UnsafeMutablePointer<Float>
    ) {
        let (oh, ow, h, w) = (g.outH, g.outW, g.height, g.width)
        var row = 0
        for c in 0..<g.channels {
            let plane = inputGrad + c * g.inPlane
            for ki in 0..<g.kernelH {
                let offH = ki * g.dilationH - g.padTop
                let rows = validOutputRange(count: oh, stride: g.strideH, offset: offH, limit: h)
                for kj in 0..<g.kernelW {
                    let offW = kj * g.dilationW - g.padLeft
                    let cols = validOutputRange(count: ow, stride: g.strideW, offset: offW, limit: w)
                    let src = column + row * ldColumn
                    row += 1
                    if cols.isEmpty { continue }
                    for y in rows {
                        let s = src + y * ow
                        let d = plane + (y * g.strideH + offH) * w + offW
                        if g.strideW == 1 {
                            for x in cols { d[x] += s[x] }
                        } else {
                            let sw = g.strideW
                            for x in cols { d[x * sw] += s[x] }
                        }
                    }
                }
            }
        }
    }
}
