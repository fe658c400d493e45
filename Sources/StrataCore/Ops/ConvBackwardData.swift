/// How `conv2d`'s backward pass computes the input gradient dx.
enum ConvBackwardData: Sendable {
    /// dcol = W^T * G (sgemm with k = O/groups), then col2im scatters dcol
    /// into dx. Works for every geometry.
    case col2im
    /// Stride 1 only: dx is the convolution of G with the flipped,
    /// transposed kernel (`ConvPlan.flippedGeometry`): im2col of G, then one
    /// sgemm with k = O/groups*kh*kw that writes dx directly. No scatter,
    /// and the sgemm's inner dimension is kh*kw times longer.
    case flipped
}

extension ConvTuning {
    /// Forces the input-gradient path (tests and benchmarks); nil chooses
    /// automatically. `.flipped` falls back to `.col2im` where it does not
    /// apply (stride > 1, pointwise, padding beyond the dilated kernel).
    nonisolated(unsafe) static var forcedBackwardData: ConvBackwardData?

    /// `.col2im` unless forced. The flipped path is correct everywhere it
    /// applies (the tests run every shape through it) but measured no
    /// faster with im2col + sgemm: on ResNet-20's 3x3 16 -> 16 layer
    /// forward + backward was 3% faster, within the noise, and the whole
    /// training step 5-8% slower in three before/after pairs (the im2col of
    /// G and the packing of its larger k cost what the scatter saved); at
    /// O = 2C (conv2) 7% slower on one thread. It stays as the entry point
    /// for a 3x3 fast path (Winograd or direct), which the input gradient
    /// can then share with the forward. See Docs/Convolution.md.
    static func backwardData(_ plan: ConvPlan) -> ConvBackwardData {
        guard plan.flippedGeometry != nil, let f = forcedBackwardData else { return .col2im }
        return f
    }
}

extension ConvPlan {
    /// The geometry of dx = conv(G, flipped W) for a stride-1 convolution,
    /// or nil where that does not apply.
    ///
    /// With stride 1, padding (top, left, bottom, right) and dilated kernel
    /// extent spanH x spanW, every input pixel (i, j) receives
    ///
    ///     dx[c, i, j] = sum over o, u, v of G[o, i + top - u*dh, j + left - v*dw] * W[o, c, u, v]
    ///
    /// which is a stride-1 convolution of G (channels O, plane OH x OW) with
    /// W'[c, o, u, v] = W[o, c, kh-1-u, kw-1-v], dilation (dh, dw), padding
    /// spanH-1-top above and spanH-1-bottom below (likewise for columns), and
    /// output H x W. Those paddings must not be negative, so the original
    /// padding may not exceed the dilated kernel's extent minus one.
    var flippedGeometry: ConvGeometry? {
        let g = geometry
        guard !pointwise, g.strideH == 1, g.strideW == 1 else { return nil }
        let spanH = g.dilationH * (g.kernelH - 1) + 1, spanW = g.dilationW * (g.kernelW - 1) + 1
        // Stride 1: outH = H + top + bottom - spanH + 1 exactly.
        let bottom = g.outH - g.height - g.padTop + spanH - 1
        let right = g.outW - g.width - g.padLeft + spanW - 1
        guard g.padTop < spanH, g.padLeft < spanW, bottom < spanH, right < spanW else { return nil }
        return ConvGeometry(
            channels: outChannels, height: g.outH, width: g.outW,
            kernelH: g.kernelH, kernelW: g.kernelW, strideH: 1, strideW: 1,
            padTop: spanH - 1 - g.padTop, padLeft: spanW - 1 - g.padLeft,
            dilationH: g.dilationH, dilationW: g.dilationW,
            outH: g.height, outW: g.width)
    }

    /// Writes W' [C, O/groups, kh, kw] into `flipped`:
    /// W'[gi*C/G + c, o, u, v] = W[gi*O/G + o, c, kh-1-u, kw-1-v]. Group gi's
    /// block of W' is rows gi*C/G ..< (gi+1)*C/G, each O/G*kh*kw long, in
    /// the row order of the im2col of G's channels gi*O/G ..< (gi+1)*O/G.
    func flipWeight(_ w: UnsafePointer<Float>, into flipped: UnsafeMutablePointer<Float>) {
        let (kh, kw) = (geometry.kernelH, geometry.kernelW)
        let taps = kh * kw
        let groupIn = geometry.channels / groups
        for gi in 0..<groups {
            for c in 0..<groupIn {
                let dst = flipped + (gi * groupIn + c) * groupOut * taps
                for o in 0..<groupOut {
                    let src = w + ((gi * groupOut + o) * groupIn + c) * taps
                    let d = dst + o * taps
                    for t in 0..<taps { d[t] = src[taps - 1 - t] }
                }
            }
        }
    }

    /// dx[s] (+)= W' * im2col(G[s]) for one sample on the flipped path;
    /// `column` holds at least `flipped.columnRows * inPlane` floats and
    /// `flippedWeight` is `flipWeight`'s output. Overwrites dx[s] when
    /// `fresh` (beta 0: no zeroing pass), else accumulates.
    func inputGradientFlipped(
        gradOut gs: UnsafePointer<Float>, flippedWeight wf: UnsafePointer<Float>, flipped fg: ConvGeometry,
        column: UnsafeMutablePointer<Float>, dx dxs: UnsafeMutablePointer<Float>, fresh: Bool
    ) {
        let inPlane = geometry.inPlane
        let groupIn = geometry.channels / groups
        let k = fg.columnRows / groups
        Im2Col.im2col(gs, fg, column: column, ldColumn: inPlane)
        for gi in 0..<groups {
            BLAS.sgemm(
                transA: .none, transB: .none, m: groupIn, n: inPlane, k: k, alpha: 1,
                a: wf + gi * groupIn * k, lda: k,
                b: column + gi * k * inPlane, ldb: inPlane,
                beta: fresh ? 0 : 1, c: dxs + gi * groupIn * inPlane, ldc: inPlane)
        }
    }
}
