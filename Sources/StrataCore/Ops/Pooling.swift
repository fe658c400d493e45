/// Pooling ops over NCHW input, forward and backward side by side. Loops
/// live in Kernels/PoolingKernels.swift; the N*C planes are split over
/// `Threading.parallelFor` workers. The layers are in StrataNN.

package func checkPoolArguments(_ name: String, _ kernel: Size2, _ stride: Size2, _ padding: Size2, dilation: Size2 = 1) {
    strataCheck(kernel.height > 0 && kernel.width > 0, "\(name): kernel size \(kernel) must be positive")
    strataCheck(stride.height > 0 && stride.width > 0, "\(name): stride \(stride) must be positive")
    strataCheck(dilation.height > 0 && dilation.width > 0, "\(name): dilation \(dilation) must be positive")
    // As PyTorch: at most half the dilated (effective) kernel.
    let spanH = dilation.height * (kernel.height - 1) + 1, spanW = dilation.width * (kernel.width - 1) + 1
    strataCheck(
        padding.height >= 0 && padding.width >= 0 && 2 * padding.height <= spanH && 2 * padding.width <= spanW,
        "\(name): padding \(padding) must be between 0 and half the kernel size \(kernel)"
            + (dilation == 1 ? "" : " (dilated extent \(spanH)x\(spanW))"))
}

/// PyTorch's pooling output size along one dimension: the number of window
/// starts o*stride - pad that fit span = dilation*(kernel-1)+1 in the padded
/// input, rounding up in ceil mode, where a last window must still start
/// inside the input or its left padding.
package func poolOutputSize(_ size: Int, kernel: Int, stride: Int, pad: Int, dilation: Int, ceilMode: Bool) -> Int {
    let room = size + 2 * pad - dilation * (kernel - 1) - 1
    var out = (room + (ceilMode ? stride - 1 : 0)) / stride + 1
    if ceilMode && (out - 1) * stride >= size + pad { out -= 1 }
    return out
}

/// Window geometry of pooling `inputShape` [N, C, H, W]; throws naming `op`.
package func poolGeometry(
    op: String, inputShape shape: [Int], kernel: Size2, stride: Size2, padding: Size2,
    dilation: Size2 = 1, ceilMode: Bool = false
) throws -> PoolGeometry {
    guard shape.count == 4 else {
        throw StrataError.shapeMismatch(op: op, expected: "[N, C, H, W]", actual: shape)
    }
    let ph = shape[2] + 2 * padding.height, pw = shape[3] + 2 * padding.width
    let spanH = dilation.height * (kernel.height - 1) + 1, spanW = dilation.width * (kernel.width - 1) + 1
    guard spanH <= ph, spanW <= pw else {
        throw StrataError.invalidArgument("\(op): kernel \(kernel) is larger than the padded input \(ph)x\(pw) (input \(shape))")
    }
    return PoolGeometry(
        height: shape[2], width: shape[3], kernelH: kernel.height, kernelW: kernel.width,
        strideH: stride.height, strideW: stride.width, padH: padding.height, padW: padding.width,
        outH: poolOutputSize(
            shape[2], kernel: kernel.height, stride: stride.height, pad: padding.height,
            dilation: dilation.height, ceilMode: ceilMode),
        outW: poolOutputSize(
            shape[3], kernel: kernel.width, stride: stride.width, pad: padding.width,
            dilation: dilation.width, ceilMode: ceilMode),
        dilationH: dilation.height, dilationW: dilation.width)
}

/// Minimum planes per worker: below this a pooling call stays on one thread.
let poolMinPlanes = 16

/// Max pooling op behind `MaxPool2d`: [N, C, H, W] -> [N, C, OH, OW].
/// Window taps are `dilation` apart; `ceilMode` rounds the output size up
/// (PyTorch's `ceil_mode`), the partial last windows reading only what
/// lies inside the input.
/// Sizes take an `Int`, a `Size2` or an `[Int]` (`Size2Convertible`).
public func maxPool2d(
    _ x: Tensor, kernelSize: some Size2Convertible, stride: Size2? = nil, padding: some Size2Convertible = 0,
    dilation: some Size2Convertible = 1, ceilMode: Bool = false
) -> Tensor {
    let kernelSize = kernelSize.size2, padding = padding.size2, dilation = dilation.size2
    let stride = stride ?? kernelSize
    checkPoolArguments("maxPool2d", kernelSize, stride, padding, dilation: dilation)
    let g = strataTry {
        try poolGeometry(
            op: "maxPool2d", inputShape: x.shape, kernel: kernelSize, stride: stride, padding: padding,
            dilation: dilation, ceilMode: ceilMode)
    }
    let planes = x.shape[0] * x.shape[1]
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], g.outH, g.outW])
    let argmax = IndexBuffer(count: out.count)
    let (xp, op, ip) = (x.data, out.data, argmax.pointer)
    Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
        PoolingKernels.maxForward(xp, g, planes: range, out: op, argmax: ip)
    }
    return out.recordOp("maxPool2d", inputs: [x]) { gradOut in
        // A first gradient for x through disjoint windows is written, not
        // accumulated into a zeroed buffer (one pass over dx fewer).
        let (buffer, fresh) = PoolingKernels.windowsDisjoint(g) ? x.gradBufferForWriting() : (x.gradBuffer(), false)
        let (gi, go) = (buffer.data, gradOut.data)
        Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
            PoolingKernels.maxBackward(go, argmax: argmax.pointer, g, planes: range, gradIn: gi, fresh: fresh)
        }
    }
}

/// The argmax positions a max pooling saves for its backward pass.
final class IndexBuffer {
    let pointer: UnsafeMutablePointer<Int32>
    init(count: Int) { pointer = .allocate(capacity: max(count, 1)) }
    deinit { pointer.deallocate() }
}

/// Average pooling op behind `AvgPool2d`. The divisor is the window's size
/// within the padded input with `countIncludePad` (PyTorch's default), or
/// the number of input pixels it covers without; `ceilMode` as `maxPool2d`.
/// Sizes as `maxPool2d`.
public func avgPool2d(
    _ x: Tensor, kernelSize: some Size2Convertible, stride: Size2? = nil, padding: some Size2Convertible = 0,
    ceilMode: Bool = false, countIncludePad: Bool = true
) -> Tensor {
    let kernelSize = kernelSize.size2, padding = padding.size2
    let stride = stride ?? kernelSize
    checkPoolArguments("avgPool2d", kernelSize, stride, padding)
    let g = strataTry {
        try poolGeometry(op: "avgPool2d", inputShape: x.shape, kernel: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode)
    }
    let planes = x.shape[0] * x.shape[1]
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], g.outH, g.outW])
    let (xp, op) = (x.data, out.data)
    Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
        PoolingKernels.avgForward(xp, g, countIncludePad: countIncludePad, planes: range, out: op)
    }
    return out.recordOp("avgPool2d", inputs: [x]) { gradOut in
        let (gi, go) = (x.gradBuffer().data, gradOut.data)
        Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
            PoolingKernels.avgBackward(go, g, countIncludePad: countIncludePad, planes: range, gradIn: gi)
        }
    }
}

/// Throws, naming `op`, unless `shape` is [N, C, H, W] with H, W > 0 and
/// `outputSize` is positive: the checks of the adaptive poolings.
package func checkAdaptivePool(op: String, inputShape shape: [Int], outputSize: Size2) throws {
    guard shape.count == 4, shape[2] > 0, shape[3] > 0 else {
        throw StrataError.shapeMismatch(op: op, expected: "[N, C, H, W]", actual: shape)
    }
    guard outputSize.height > 0, outputSize.width > 0 else {
        throw StrataError.invalidArgument("\(op): outputSize \(outputSize) must be positive")
    }
}

/// Adaptive average pooling op behind `AdaptiveAvgPool2d`:
/// [N, C, H, W] -> [N, C, outputSize.h, outputSize.w].
public func adaptiveAvgPool2d(_ x: Tensor, outputSize: some Size2Convertible) -> Tensor {
    let outputSize = outputSize.size2
    strataTry { try checkAdaptivePool(op: "adaptiveAvgPool2d", inputShape: x.shape, outputSize: outputSize) }
    let (h, w, oh, ow) = (x.shape[2], x.shape[3], outputSize.height, outputSize.width)
    let planes = x.shape[0] * x.shape[1]
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], oh, ow])
    let (xp, op) = (x.data, out.data)
    Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
        PoolingKernels.adaptiveAvgForward(xp, height: h, width: w, outH: oh, outW: ow, planes: range, out: op)
    }
    return out.recordOp("adaptiveAvgPool2d", inputs: [x]) { gradOut in
        let (gi, go) = (x.gradBuffer().data, gradOut.data)
        Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
            PoolingKernels.adaptiveAvgBackward(go, height: h, width: w, outH: oh, outW: ow, planes: range, gradIn: gi)
        }
    }
}

/// Adaptive max pooling op behind `AdaptiveMaxPool2d`:
/// [N, C, H, W] -> [N, C, outputSize.h, outputSize.w], each output the
/// maximum of PyTorch's adaptive bin (see `PoolingKernels.adaptiveBin`).
/// Backward routes each output gradient to its bin's argmax.
public func adaptiveMaxPool2d(_ x: Tensor, outputSize: some Size2Convertible) -> Tensor {
    let outputSize = outputSize.size2
    strataTry { try checkAdaptivePool(op: "adaptiveMaxPool2d", inputShape: x.shape, outputSize: outputSize) }
    let (h, w, oh, ow) = (x.shape[2], x.shape[3], outputSize.height, outputSize.width)
    let planes = x.shape[0] * x.shape[1]
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], oh, ow])
    let argmax = IndexBuffer(count: out.count)
    let (xp, op, ip) = (x.data, out.data, argmax.pointer)
    Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
        PoolingKernels.adaptiveMaxForward(xp, height: h, width: w, outH: oh, outW: ow, planes: range, out: op, argmax: ip)
    }
    // maxBackward reads only the plane sizes of the geometry.
    let planesOnly = PoolGeometry(
        height: h, width: w, kernelH: 1, kernelW: 1, strideH: 1, strideW: 1,
        padH: 0, padW: 0, outH: oh, outW: ow)
    return out.recordOp("adaptiveMaxPool2d", inputs: [x]) { gradOut in
        let (gi, go) = (x.gradBuffer().data, gradOut.data)
        Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
            PoolingKernels.maxBackward(go, argmax: argmax.pointer, planesOnly, planes: range, gradIn: gi)
        }
    }
}

/// `maxPool2d` with a stride from a variable (`stride: s`).
public func maxPool2d(
    _ x: Tensor, kernelSize: some Size2Convertible, stride: some Size2Convertible, padding: some Size2Convertible = 0,
    dilation: some Size2Convertible = 1, ceilMode: Bool = false
) -> Tensor {
    maxPool2d(x, kernelSize: kernelSize, stride: Optional(stride.size2), padding: padding, dilation: dilation, ceilMode: ceilMode)
}

/// `avgPool2d` with a stride from a variable (`stride: s`).
public func avgPool2d(
    _ x: Tensor, kernelSize: some Size2Convertible, stride: some Size2Convertible, padding: some Size2Convertible = 0,
    ceilMode: Bool = false, countIncludePad: Bool = true
) -> Tensor {
    avgPool2d(
        x, kernelSize: kernelSize, stride: Optional(stride.size2), padding: padding, ceilMode: ceilMode,
        countIncludePad: countIncludePad)
}
