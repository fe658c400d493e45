/// Pooling ops over NCHW input, forward and backward side by side. Loops
/// live in Kernels/PoolingKernels.swift; the N*C planes are split over
/// `Threading.parallelFor` workers. The layers are in StrataNN.

package func checkPoolArguments(_ name: String, _ kernel: Size2, _ stride: Size2, _ padding: Size2) {
    strataCheck(kernel.height > 0 && kernel.width > 0, "\(name): kernel size \(kernel) must be positive")
    strataCheck(stride.height > 0 && stride.width > 0, "\(name): stride \(stride) must be positive")
    strataCheck(padding.height >= 0 && padding.width >= 0 && 2 * padding.height <= kernel.height && 2 * padding.width <= kernel.width,
                "\(name): padding \(padding) must be between 0 and half the kernel size \(kernel)")
}

/// Window geometry of pooling `inputShape` [N, C, H, W]; throws naming `op`.
package func poolGeometry(op: String, inputShape shape: [Int], kernel: Size2, stride: Size2, padding: Size2) throws -> PoolGeometry {
    guard shape.count == 4 else {
        throw StrataError.shapeMismatch(op: op, expected: "[N, C, H, W]", actual: shape)
    }
    let ph = shape[2] + 2 * padding.height, pw = shape[3] + 2 * padding.width
    guard kernel.height <= ph, kernel.width <= pw else {
        throw StrataError.invalidArgument("\(op): kernel \(kernel) is larger than the padded input \(ph)x\(pw) (input \(shape))")
    }
    return PoolGeometry(height: shape[2], width: shape[3], kernelH: kernel.height, kernelW: kernel.width,
                        strideH: stride.height, strideW: stride.width, padH: padding.height, padW: padding.width,
                        outH: (ph - kernel.height) / stride.height + 1, outW: (pw - kernel.width) / stride.width + 1)
}

/// Minimum planes per worker: below this a pooling call stays on one thread.
private let poolMinPlanes = 16

/// Max pooling op behind `MaxPool2d`: [N, C, H, W] -> [N, C, OH, OW].
public func maxPool2d(_ x: Tensor, kernelSize: Size2, stride: Size2? = nil, padding: Size2 = 0) -> Tensor {
    let stride = stride ?? kernelSize
    checkPoolArguments("maxPool2d", kernelSize, stride, padding)
    let g = strataTry { try poolGeometry(op: "maxPool2d", inputShape: x.shape, kernel: kernelSize, stride: stride, padding: padding) }
    let planes = x.shape[0] * x.shape[1]
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], g.outH, g.outW])
    let argmax = IndexBuffer(count: out.count)
    let (xp, op, ip) = (x.data, out.data, argmax.pointer)
    Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
        PoolingKernels.maxForward(xp, g, planes: range, out: op, argmax: ip)
    }
    return out.recordOp("maxPool2d", inputs: [x]) { gradOut in
        let (gi, go) = (x.gradBuffer().data, gradOut.data)
        Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
            PoolingKernels.maxBackward(go, argmax: argmax.pointer, g, planes: range, gradIn: gi)
        }
    }
}

/// The argmax positions a max pooling saves for its backward pass.
final class IndexBuffer {
    let pointer: UnsafeMutablePointer<Int32>
    init(count: Int) { pointer = .allocate(capacity: max(count, 1)) }
    deinit { pointer.deallocate() }
}

/// Average pooling op behind `AvgPool2d` (count_include_pad = true).
public func avgPool2d(_ x: Tensor, kernelSize: Size2, stride: Size2? = nil, padding: Size2 = 0) -> Tensor {
    let stride = stride ?? kernelSize
    checkPoolArguments("avgPool2d", kernelSize, stride, padding)
    let g = strataTry { try poolGeometry(op: "avgPool2d", inputShape: x.shape, kernel: kernelSize, stride: stride, padding: padding) }
    let planes = x.shape[0] * x.shape[1]
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], g.outH, g.outW])
    let (xp, op) = (x.data, out.data)
    Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
        PoolingKernels.avgForward(xp, g, planes: range, out: op)
    }
    return out.recordOp("avgPool2d", inputs: [x]) { gradOut in
        let (gi, go) = (x.gradBuffer().data, gradOut.data)
        Threading.parallelFor(planes, minChunk: poolMinPlanes) { range in
            PoolingKernels.avgBackward(go, g, planes: range, gradIn: gi)
        }
    }
}

/// Adaptive average pooling op behind `AdaptiveAvgPool2d`:
/// [N, C, H, W] -> [N, C, outputSize.h, outputSize.w].
public func adaptiveAvgPool2d(_ x: Tensor, outputSize: Size2) -> Tensor {
    strataCheck(x.rank == 4 && x.shape[2] > 0 && x.shape[3] > 0, "adaptiveAvgPool2d: expected input of shape [N, C, H, W], got \(x.shape)")
    strataCheck(outputSize.height > 0 && outputSize.width > 0, "adaptiveAvgPool2d: outputSize \(outputSize) must be positive")
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
