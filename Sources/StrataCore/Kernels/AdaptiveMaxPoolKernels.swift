extension PoolingKernels {
    /// Adaptive max pooling of [H, W] planes to [outH, outW]: the maximum of
    /// each `adaptiveBin` window and its flat index in the input plane, with
    /// `maxForward`'s tie and NaN rules (the first maximum wins; a NaN
    /// counts as the maximum).
    static func adaptiveMaxForward(
        _ input: UnsafePointer<Float>, height: Int, width: Int, outH: Int, outW: Int,
        planes: Range<Int>, out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>
    ) {
        for p in planes {
            let src = input + p * height * width
            let dst = out + p * outH * outW, idx = argmax + p * outH * outW
            for oy in 0..<outH {
                let ys = adaptiveBin(oy, outSize: outH, inSize: height)
                for ox in 0..<outW {
                    let xs = adaptiveBin(ox, outSize: outW, inSize: width)
                    var best = -Float.infinity
                    var bestIndex = ys.lowerBound * width + xs.lowerBound
                    for y in ys {
                        for x in xs {
                            let v = src[y * width + x]
                            let take = v > best || v != v
                            best = take ? v : best
                            bestIndex = take ? y * width + x : bestIndex
                        }
                    }
                    dst[oy * outW + ox] = best
                    idx[oy * outW + ox] = Int32(bestIndex)
                }
            }
        }
    }
}
