import CKernels

/// Geometry of one 2-D convolution (or pooling window walk) on one sample.
///
/// Input plane H x W per channel; kernel kh x kw with dilation (dh, dw),
/// stride (sh, sw); `padTop`/`padLeft` zeros before the input. Padding after
/// the input (bottom/right, possibly different for PyTorch's asymmetric
/// "same" rule) is implied by the output size:
///
///     outH = (H + padTop + padBottom - dh*(kh-1) - 1) / sh + 1
package struct ConvGeometry: Equatable, Sendable {
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

    /// Stride 1 and output width equal to the input width ("same"-like
    /// padding, any dilation): every column-matrix row is then the input
    /// plane shifted by a constant offset, so it can be copied as one flat
    /// run instead of row by row.
    var rowsAreShifts: Bool { strideH == 1 && strideW == 1 && outW == width }
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
        let flat = g.rowsAreShifts
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
                    if flat {
                        copyShiftedRows(plane + offH * w + offW, dst, width: ow, height: oh, rows: rows, cols: cols)
                        continue
                    }
                    if rows.lowerBound > 0 { dst.update(repeating: 0, count: rows.lowerBound * ow) }
                    if rows.upperBound < oh {
                        (dst + rows.upperBound * ow).update(repeating: 0, count: (oh - rows.upperBound) * ow)
                    }
                    if cols.isEmpty {
                        (dst + rows.lowerBound * ow).update(repeating: 0, count: rows.count * ow)
                        continue
                    }
                    if g.strideW == 2, !rows.isEmpty {
                        // Every other float of each row, in one C call (shuffles).
                        for y in rows { zeroOutside(cols, of: dst + y * ow, width: ow) }
                        let s = plane + (rows.lowerBound * g.strideH + offH) * w + offW + 2 * cols.lowerBound
                        strata_gather_even(
                            s, Int64(g.strideH * w), dst + rows.lowerBound * ow + cols.lowerBound, Int64(ow),
                            Int64(rows.count), Int64(cols.count))
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
    ///
    /// When the geometry allows the flat fast path, the padded positions of
    /// `column` are overwritten with zeros (the buffer is scratch).
    static func col2im(
        _ column: UnsafeMutablePointer<Float>, ldColumn: Int, _ g: ConvGeometry,
        inputGrad: UnsafeMutablePointer<Float>
    ) {
        let (oh, ow, h, w) = (g.outH, g.outW, g.height, g.width)
        let flat = g.rowsAreShifts
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
                    if cols.isEmpty || rows.isEmpty { continue }
                    if flat {
                        addShiftedRows(src, plane + offH * w + offW, width: ow, rows: rows, cols: cols)
                        continue
                    }
                    if g.strideW == 2 {
                        let d = plane + (rows.lowerBound * g.strideH + offH) * w + offW + 2 * cols.lowerBound
                        strata_scatter_add_even(
                            src + rows.lowerBound * ow + cols.lowerBound, Int64(ow), d, Int64(g.strideH * w),
                            Int64(rows.count), Int64(cols.count))
                        continue
                    }
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

/// One column-matrix row on the flat path: dst[y*width + x] =
/// src[y*width + x] for y in `rows`, x in `cols` (src already offset by the
/// kernel tap's shift), zero elsewhere. The valid part is one contiguous
/// copy; the columns it wraps into are zeroed afterwards.
@inline(__always)
func copyShiftedRows(
    _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
    width: Int, height: Int, rows: Range<Int>, cols: Range<Int>
) {
    if rows.isEmpty || cols.isEmpty {
        dst.update(repeating: 0, count: height * width)
        return
    }
    if rows.lowerBound > 0 { dst.update(repeating: 0, count: rows.lowerBound * width) }
    if rows.upperBound < height {
        (dst + rows.upperBound * width).update(repeating: 0, count: (height - rows.upperBound) * width)
    }
    let start = rows.lowerBound * width + cols.lowerBound
    let end = (rows.upperBound - 1) * width + cols.upperBound
    (dst + start).update(from: src + start, count: end - start)
    if cols.count < width {
        for y in rows { zeroOutside(cols, of: dst + y * width, width: width) }
    }
}

/// The adjoint of `copyShiftedRows`: dst[y*width + x] += src[y*width + x]
/// for y in `rows`, x in `cols`. The entries of `src` outside `cols` are
/// zeroed first so that one contiguous add can run over the whole block.
@inline(__always)
func addShiftedRows(
    _ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
    width: Int, rows: Range<Int>, cols: Range<Int>
) {
    let start = rows.lowerBound * width + cols.lowerBound
    let end = (rows.upperBound - 1) * width + cols.upperBound
    if cols.count < width {
        for y in rows { zeroOutside(cols, of: src + y * width, width: width) }
    }
    let (d, s) = (dst + start, src + start)
    for i in 0..<(end - start) { d[i] += s[i] }
}

/// row[x] = 0 for x outside `cols`. Padding is usually one or two columns;
/// single stores avoid the library call a zeroing loop would become.
@inline(__always)
func zeroOutside(_ cols: Range<Int>, of row: UnsafeMutablePointer<Float>, width: Int) {
    zeroFew(row, cols.lowerBound)
    zeroFew(row + cols.upperBound, width - cols.upperBound)
}

/// p[0..<n] = 0 with plain stores for n <= 2 (a loop would be turned into
/// a memset call, which costs more than the stores).
@inline(__always)
func zeroFew(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    if n <= 0 { return }
    p[0] = 0
    if n == 1 { return }
    p[1] = 0
    if n > 2 { (p + 2).update(repeating: 0, count: n - 2) }
}
