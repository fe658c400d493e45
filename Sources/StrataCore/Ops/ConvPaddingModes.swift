/// How a convolution fills the border it pads (PyTorch's `padding_mode`).
public enum ConvPaddingMode: String, Sendable {
    /// Zeros (PyTorch's default "zeros"); handled inside `conv2d` itself.
    case zeros
    /// Mirror image without repeating the edge: ... x2 x1 | x0 x1 x2 ...
    /// (padding must be smaller than the input extent).
    case reflect
    /// Copies of the edge value: ... x0 x0 | x0 x1 ...
    case replicate
    /// Wrap-around: ... x(n-2) x(n-1) | x0 x1 ... (padding at most the input extent).
    case circular
}

/// Throws when `mode` cannot pad `inputShape` [N, C, H, W] by `padding`
/// for a kernel `kernel` with `dilation` (reflect needs padding < extent,
/// circular padding <= extent, as PyTorch).
package func checkConvPaddingMode(
    op: String, inputShape shape: [Int], padding: ConvPadding, kernel: Size2, dilation: Size2, mode: ConvPaddingMode
) throws {
    guard mode != .zeros, shape.count == 4 else { return }
    let p = padding.resolve(kernel: kernel, dilation: dilation)
    let worstH = max(p.top, p.bottom), worstW = max(p.left, p.right)
    let fits =
        mode == .reflect
        ? (worstH < shape[2] && worstW < shape[3])
        : mode == .circular ? (worstH <= shape[2] && worstW <= shape[3]) : true
    if !fits {
        throw StrataError.invalidArgument(
            "\(op): padding \(padding) is too large for padding mode \(mode.rawValue) on input \(shape)"
                + (mode == .reflect ? " (reflect needs padding smaller than the input)" : " (circular needs padding at most the input)"))
    }
}

/// x [N, C, H, W] padded as a convolution with `padding`, `kernel` and
/// `dilation` would pad it (explicit, "same" or "valid"), but filled by
/// `mode`: the input of a zero-padding-free `conv2d` for `Conv2d`'s
/// `paddingMode`. Backward adds each padded pixel's gradient to the input
/// pixel it copies.
package func padForConvolution(
    _ x: Tensor, padding: ConvPadding, kernel: Size2, dilation: Size2, mode: ConvPaddingMode
) -> Tensor {
    strataCheck(x.rank == 4, "padForConvolution: expected input of shape [N, C, H, W], got \(x.shape)")
    strataTry {
        try checkConvPaddingMode(
            op: "padForConvolution", inputShape: x.shape, padding: padding,
            kernel: kernel, dilation: dilation, mode: mode)
    }
    let p = padding.resolve(kernel: kernel, dilation: dilation)
    let (h, w) = (x.shape[2], x.shape[3])
    let rows = ConvPadKernels.sourceIndices(size: h, before: p.top, after: p.bottom, mode: mode)
    let cols = ConvPadKernels.sourceIndices(size: w, before: p.left, after: p.right, mode: mode)
    let planes = x.shape[0] * x.shape[1]
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], rows.count, cols.count])
    let (xp, op) = (x.data, out.data)
    Threading.parallelFor(planes, minChunk: 16) { range in
        ConvPadKernels.gather(xp, height: h, width: w, rows: rows, cols: cols, planes: range, out: op)
    }
    return out.recordOp("pad_\(mode.rawValue)", inputs: [x]) { gradOut in
        let (gi, go) = (x.gradBuffer().data, gradOut.data)
        Threading.parallelFor(planes, minChunk: 16) { range in
            ConvPadKernels.scatter(go, height: h, width: w, rows: rows, cols: cols, planes: range, gradIn: gi)
        }
    }
}
