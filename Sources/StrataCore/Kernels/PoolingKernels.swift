import CKernels

/// Window geometry of a 2-D pooling over one [H, W] plane: kernel kh x kw
/// with taps `dilation` apart, stride (sh, sw), `padH`/`padW` before the
/// input; output outH x outW (in ceil mode the last windows may reach past
/// the padded input; only their taps inside the input are read).
package struct PoolGeometry: Equatable, Sendable {
    var height: Int, width: Int
    var kernelH: Int, kernelW: Int
    var strideH: Int, strideW: Int
    var padH: Int, padW: Int
    var outH: Int, outW: Int
    var dilationH = 1, dilationW = 1
    var inPlane: Int { height * width }
    var outPlane: Int { outH * outW }

    /// MaxPool2d(2)'s windows: 2x2, stride 2, no padding or dilation, the
    /// output half the input (rounded down); a fresh input gradient of these
    /// is written by `strata_maxpool2x2_backward`.
    var isHalvingMax: Bool {
        kernelH == 2 && kernelW == 2 && strideH == 2 && strideW == 2 && padH == 0 && padW == 0
            && dilationH == 1 && dilationW == 1 && outH == height / 2 && outW == width / 2
    }
}

/// Plain loops over NCHW planes for max, average and adaptive average
/// pooling. Each function handles `planes` consecutive [H, W] planes (one
/// per (n, c)); callers split the planes over workers with
/// `Threading.parallelFor`.
enum PoolingKernels {
    /// Max over each window; padding counts as -infinity. Writes the
    /// maximum to `out` and its flat index in the input plane to `argmax`.
    /// Ties: the first maximum in row-major window order wins (strict `>`),
    /// as PyTorch's CPU kernel. A NaN counts as the maximum (the last NaN of
    /// the window, as PyTorch). The general loop's selects may compile to
    /// branches; 2x2 windows without padding run in C
    /// (`strata_maxpool2x2`), on vector selects.
    static func maxForward(
        _ input: UnsafePointer<Float>, _ g: PoolGeometry, planes: Range<Int>,
        out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>
    ) {
        let windowsInside = (g.outH - 1) * g.strideH + g.kernelH <= g.height && (g.outW - 1) * g.strideW + g.kernelW <= g.width
        if g.padH == 0 && g.padW == 0 && g.kernelH == 2 && g.kernelW == 2 && g.dilationH == 1 && g.dilationW == 1 && windowsInside {
            // A C loop that clang vectorises (Swift's selects became branches).
            strata_maxpool2x2(
                input + planes.lowerBound * g.inPlane, Int64(planes.count), Int64(g.height), Int64(g.width),
                Int64(g.strideH), Int64(g.strideW), Int64(g.outH), Int64(g.outW),
                out + planes.lowerBound * g.outPlane, argmax + planes.lowerBound * g.outPlane)
            return
        }
        for p in planes {
            let src = input + p * g.inPlane
            let dst = out + p * g.outPlane, idx = argmax + p * g.outPlane
            for oy in 0..<g.outH {
                let y0 = oy * g.strideH - g.padH
                let rows = windowTaps(start: y0, kernel: g.kernelH, dilation: g.dilationH, size: g.height)
                for ox in 0..<g.outW {
                    let x0 = ox * g.strideW - g.padW
                    let cols = windowTaps(start: x0, kernel: g.kernelW, dilation: g.dilationW, size: g.width)
                    var best = -Float.infinity
                    var bestIndex = (y0 + rows.lowerBound * g.dilationH) * g.width + x0 + cols.lowerBound * g.dilationW
                    for ky in rows {
                        let y = y0 + ky * g.dilationH
                        let row = src + y * g.width
                        for kx in cols {
                            let x = x0 + kx * g.dilationW
                            let v = row[x]
                            let take = v > best || v != v
                            best = take ? v : best
                            bestIndex = take ? y * g.width + x : bestIndex
                        }
                    }
                    dst[oy * g.outW + ox] = best
                    idx[oy * g.outW + ox] = Int32(bestIndex)
                }
            }
        }
    }

    /// The taps k in 0..<kernel of a window starting at `start` whose
    /// positions start + k*dilation lie in 0..<size.
    @inline(__always)
    static func windowTaps(start: Int, kernel: Int, dilation: Int, size: Int) -> Range<Int> {
        let lo = start < 0 ? (-start + dilation - 1) / dilation : 0
        let hi = start < size ? min(kernel, (size - 1 - start) / dilation + 1) : 0
        return lo..<max(lo, hi)
    }

    /// Whether no input pixel lies in two windows (stride at least the
    /// kernel, no dilation): then `maxBackward(fresh: true)` can write the input
    /// gradient without zeroing it first.
    static func windowsDisjoint(_ g: PoolGeometry) -> Bool {
        g.dilationH == 1 && g.dilationW == 1 && g.strideH >= g.kernelH && g.strideW >= g.kernelW
    }

    /// Routes each output gradient to its window's argmax: added to
    /// `gradIn`, or with `fresh` (windows that do not overlap,
    /// `windowsDisjoint`) written into it, zero elsewhere: the rows of each
    /// band of windows are zeroed just before its gradients land there,
    /// while they are in cache, instead of zeroing the whole buffer in a
    /// separate pass. MaxPool2d(2)'s (`isHalvingMax`) go to the C kernel,
    /// which writes each window's four floats by selects.
    static func maxBackward(
        _ gradOut: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, _ g: PoolGeometry, planes: Range<Int>,
        gradIn: UnsafeMutablePointer<Float>, fresh: Bool = false
    ) {
        if fresh && g.isHalvingMax {
            // MaxPool2d(2): the kernel the fused BatchNorm + ReLU + MaxPool2d uses too.
            strata_maxpool2x2_backward(
                gradOut + planes.lowerBound * g.outPlane, argmax + planes.lowerBound * g.outPlane, Int64(planes.count),
                Int64(g.height), Int64(g.width), gradIn + planes.lowerBound * g.inPlane)
            return
        }
        for p in planes {
            let go = gradOut + p * g.outPlane, idx = argmax + p * g.outPlane
            let gi = gradIn + p * g.inPlane
            guard fresh else {
                for i in 0..<g.outPlane { gi[Int(idx[i])] += go[i] }
                continue
            }
            var zeroedRows = 0
            for oy in 0..<g.outH {
                let bandEnd = min(max(oy * g.strideH - g.padH + g.kernelH, zeroedRows), g.height)
                (gi + zeroedRows * g.width).update(repeating: 0, count: (bandEnd - zeroedRows) * g.width)
                zeroedRows = bandEnd
                for i in oy * g.outW..<(oy + 1) * g.outW { gi[Int(idx[i])] = go[i] }
            }
            (gi + zeroedRows * g.width).update(repeating: 0, count: (g.height - zeroedRows) * g.width)
        }
    }

    /// The window [lo, hi) of output `o` clipped to the input, and the
    /// divisor PyTorch uses with count_include_pad = true: the window's size
    /// clipped to the padded input, before clipping to the input itself.
    @inline(__always)
    static func avgWindow(_ o: Int, stride: Int, pad: Int, kernel: Int, size: Int) -> (lo: Int, hi: Int, padded: Int) {
        let start = o * stride - pad
        let end = min(start + kernel, size + pad)
        return (max(start, 0), min(end, size), end - start)
    }

    /// The divisor of one average window: its size within the padded input
    /// with count_include_pad (PyTorch's default), else the input pixels it covers.
    @inline(__always)
    static func avgDivisor(_ wy: (lo: Int, hi: Int, padded: Int), _ wx: (lo: Int, hi: Int, padded: Int), countIncludePad: Bool) -> Float {
        Float(countIncludePad ? wy.padded * wx.padded : (wy.hi - wy.lo) * (wx.hi - wx.lo))
    }

    /// Average over each window, dividing by `avgDivisor`.
    static func avgForward(
        _ input: UnsafePointer<Float>, _ g: PoolGeometry, countIncludePad: Bool, planes: Range<Int>, out: UnsafeMutablePointer<Float>
    ) {
        for p in planes {
            let src = input + p * g.inPlane, dst = out + p * g.outPlane
            for oy in 0..<g.outH {
                let wy = avgWindow(oy, stride: g.strideH, pad: g.padH, kernel: g.kernelH, size: g.height)
                for ox in 0..<g.outW {
                    let wx = avgWindow(ox, stride: g.strideW, pad: g.padW, kernel: g.kernelW, size: g.width)
                    var sum: Float = 0
                    for y in wy.lo..<wy.hi {
                        for x in wx.lo..<wx.hi { sum += src[y * g.width + x] }
                    }
                    dst[oy * g.outW + ox] = sum / avgDivisor(wy, wx, countIncludePad: countIncludePad)
                }
            }
        }
    }

    /// Spreads each output gradient evenly (by the same divisor) over its window.
    static func avgBackward(
        _ gradOut: UnsafePointer<Float>, _ g: PoolGeometry, countIncludePad: Bool, planes: Range<Int>, gradIn: UnsafeMutablePointer<Float>
    ) {
        for p in planes {
            let go = gradOut + p * g.outPlane, gi = gradIn + p * g.inPlane
            for oy in 0..<g.outH {
                let wy = avgWindow(oy, stride: g.strideH, pad: g.padH, kernel: g.kernelH, size: g.height)
                for ox in 0..<g.outW {
                    let wx = avgWindow(ox, stride: g.strideW, pad: g.padW, kernel: g.kernelW, size: g.width)
                    let share = go[oy * g.outW + ox] / avgDivisor(wy, wx, countIncludePad: countIncludePad)
                    for y in wy.lo..<wy.hi {
                        for x in wx.lo..<wx.hi { gi[y * g.width + x] += share }
                    }
                }
            }
        }
    }

    /// PyTorch's adaptive bin of output `o` of `outSize` over `inSize`:
    /// [floor(o*in/out), ceil((o+1)*in/out)).
    @inline(__always)
    static func adaptiveBin(_ o: Int, outSize: Int, inSize: Int) -> Range<Int> {
        let lo = (o * inSize) / outSize
        let hi = ((o + 1) * inSize + outSize - 1) / outSize
        return lo..<hi
    }

    /// Adaptive average pooling of [H, W] planes to [outH, outW].
    static func adaptiveAvgForward(
        _ input: UnsafePointer<Float>, height: Int, width: Int, outH: Int, outW: Int,
        planes: Range<Int>, out: UnsafeMutablePointer<Float>
    ) {
        for p in planes {
            let src = input + p * height * width, dst = out + p * outH * outW
            for oy in 0..<outH {
                let ys = adaptiveBin(oy, outSize: outH, inSize: height)
                for ox in 0..<outW {
                    let xs = adaptiveBin(ox, outSize: outW, inSize: width)
                    var sum: Float = 0
                    for y in ys { for x in xs { sum += src[y * width + x] } }
                    dst[oy * outW + ox] = sum / Float(ys.count * xs.count)
                }
            }
        }
    }

    /// Spreads each output gradient evenly over its adaptive bin.
    static func adaptiveAvgBackward(
        _ gradOut: UnsafePointer<Float>, height: Int, width: Int, outH: Int, outW: Int,
        planes: Range<Int>, gradIn: UnsafeMutablePointer<Float>
    ) {
        for p in planes {
            let go = gradOut + p * outH * outW, gi = gradIn + p * height * width
            for oy in 0..<outH {
                let ys = adaptiveBin(oy, outSize: outH, inSize: height)
                for ox in 0..<outW {
                    let xs = adaptiveBin(ox, outSize: outW, inSize: width)
                    let share = go[oy * outW + ox] / Float(ys.count * xs.count)
                    for y in ys { for x in xs { gi[y * width + x] += share } }
                }
            }
        }
    }
}
