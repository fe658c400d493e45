/// A (height, width) pair for kernel sizes, strides, dilations and padding.
///
/// Write `3` for a square value, `[3, 5]` or `Size2(3, 5)` for height 3 and
/// width 5 (PyTorch's `3` and `(3, 5)`); from an `Int` variable, `Size2(k)`.
public struct Size2: Hashable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    /// Both extents equal to `both`.
    public init(_ both: Int) { self.init(both, both) }

    public init(integerLiteral value: Int) { self.init(value, value) }

    /// `[height, width]`, or `[both]`.
    public init(arrayLiteral elements: Int...) {
        strataCheck(elements.count == 1 || elements.count == 2, "Size2: expected [height, width], got \(elements)")
        self.init(elements[0], elements[elements.count - 1])
    }

    public var description: String { "\(height)x\(width)" }
}

/// How a convolution pads its input (PyTorch's `padding=` argument).
public enum ConvPadding: Hashable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// Zeros on both sides of each spatial dimension: `height` rows above
    /// and below, `width` columns left and right.
    case explicit(Size2)
    /// Output the size of the input (stride 1 only). Total padding per
    /// dimension is dilation*(kernel-1); when that is odd (even kernels) the
    /// extra row/column goes at the bottom/right, as PyTorch does.
    case same
    /// No padding (PyTorch's `'valid'`).
    case valid

    public init(integerLiteral value: Int) { self = .explicit(Size2(value)) }
    public init(arrayLiteral elements: Int...) {
        strataCheck(elements.count == 1 || elements.count == 2, "ConvPadding: expected [height, width], got \(elements)")
        self = .explicit(Size2(elements[0], elements[elements.count - 1]))
    }

    public var description: String {
        switch self {
        case .explicit(let s): return "\(s)"
        case .same: return "same"
        case .valid: return "valid"
        }
    }

    /// Zeros before and after the input in each dimension: (top, left, bottom, right).
    func resolve(kernel: Size2, dilation: Size2) -> (top: Int, left: Int, bottom: Int, right: Int) {
        switch self {
        case .explicit(let p): return (p.height, p.width, p.height, p.width)
        case .valid: return (0, 0, 0, 0)
        case .same:
            let th = dilation.height * (kernel.height - 1), tw = dilation.width * (kernel.width - 1)
            return (th / 2, tw / 2, th - th / 2, tw - tw / 2)
        }
    }
}

/// 2-D convolution over NCHW input (PyTorch's `nn.Conv2d`, cross-correlation).
///
/// - Input: [N, inputChannels, H, W]. Output: [N, outputChannels, OH, OW] with
///   OH = (H + padTop + padBottom - dilation.h*(kernel.h-1) - 1) / stride.h + 1
///   (likewise OW).
/// - `weight`: [outputChannels, inputChannels/groups, kh, kw]; `bias`:
///   [outputChannels] or nil. Keys "weight" and "bias", as PyTorch.
/// - `groups` splits input and output channels into that many independent
///   convolutions; groups == inputChannels is a depthwise convolution.
/// - Initialisation as PyTorch: weight and bias ~ U(-1/sqrt(fanIn),
///   1/sqrt(fanIn)), fanIn = inputChannels/groups * kh * kw (kaiming_uniform
///   with a = sqrt(5)).
///
/// The computation (im2col + sgemm, threading) is described at `conv2d`.
public final class Conv2d: Module {
    public var training = true
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Size2
    public let stride: Size2
    public let padding: ConvPadding
    public let dilation: Size2
    public let groups: Int
    public let weight: Tensor
    public let bias: Tensor?

    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Size2,
        stride: Size2 = 1, padding: ConvPadding = 0, dilation: Size2 = 1, groups: Int = 1,
        bias: Bool = true, generator: RandomGenerator = .global
    ) {
        let name = "Conv2d(\(inputChannels), \(outputChannels), kernelSize: \(kernelSize))"
        strataCheck(inputChannels > 0 && outputChannels > 0, "\(name): channel counts must be positive")
        strataCheck(groups > 0 && inputChannels % groups == 0 && outputChannels % groups == 0,
                    "\(name): groups = \(groups) must divide both inputChannels and outputChannels")
        strataCheck(kernelSize.height > 0 && kernelSize.width > 0, "\(name): kernel size must be positive")
        strataCheck(stride.height > 0 && stride.width > 0, "\(name): stride \(stride) must be positive")
        strataCheck(dilation.height > 0 && dilation.width > 0, "\(name): dilation \(dilation) must be positive")
        if case .explicit(let p) = padding {
            strataCheck(p.height >= 0 && p.width >= 0, "\(name): padding \(p) must not be negative")
        }
        strataCheck(padding != .same || stride == 1, "\(name): padding .same needs stride 1, got stride \(stride)")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        let fanIn = inputChannels / groups * kernelSize.height * kernelSize.width
        let bound = 1 / Float(fanIn).squareRoot()
        weight = Tensor.rand([outputChannels, inputChannels / groups, kernelSize.height, kernelSize.width],
                             low: -bound, high: bound, generator: generator, requiresGrad: true)
        self.bias = bias ? Tensor.rand([outputChannels], low: -bound, high: bound, generator: generator, requiresGrad: true) : nil
    }

    /// `Conv2d(1, 32, kernelSize: 3, padding: 1)`: the channel counts unlabelled.
    public convenience init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: Size2,
        stride: Size2 = 1, padding: ConvPadding = 0, dilation: Size2 = 1, groups: Int = 1,
        bias: Bool = true, generator: RandomGenerator = .global
    ) {
        self.init(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize,
                  stride: stride, padding: padding, dilation: dilation, groups: groups, bias: bias, generator: generator)
    }

    public var ownParameters: [(String, Tensor)] {
        var p = [("weight", weight)]
        if let b = bias { p.append(("bias", b)) }
        return p
    }

    var name: String {
        "Conv2d(\(inputChannels), \(outputChannels), kernelSize: \(kernelSize), stride: \(stride), padding: \(padding)"
            + (dilation == 1 ? "" : ", dilation: \(dilation)") + (groups == 1 ? "" : ", groups: \(groups)") + ")"
    }

    /// Throws when `shape` is not [N, inputChannels, H, W] or the (dilated)
    /// kernel does not fit in the padded input.
    public func validate(inputShape shape: [Int]) throws {
        _ = try convGeometry(op: name, inputShape: shape, weightShape: weight.shape,
                             stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    /// [N, inputChannels, H, W] -> [N, outputChannels, OH, OW].
    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// The geometry of a convolution of `inputShape` [N, C, H, W] with a weight
/// of `weightShape` [O, C/groups, kh, kw]; throws a message naming `op`.
func convGeometry(
    op: String, inputShape shape: [Int], weightShape w: [Int],
    stride: Size2, padding: ConvPadding, dilation: Size2, groups: Int
) throws -> ConvGeometry {
    let channels = w[1] * groups
    guard shape.count == 4, shape[1] == channels else {
        throw StrataError.shapeMismatch(op: op, expected: "[N, \(channels), H, W]", actual: shape)
    }
    let kernel = Size2(w[2], w[3])
    let pad = padding.resolve(kernel: kernel, dilation: dilation)
    let paddedH = shape[2] + pad.top + pad.bottom, paddedW = shape[3] + pad.left + pad.right
    let spanH = dilation.height * (kernel.height - 1) + 1, spanW = dilation.width * (kernel.width - 1) + 1
    guard spanH <= paddedH, spanW <= paddedW else {
        throw StrataError.invalidArgument(
            "\(op): kernel \(kernel) (dilated extent \(spanH)x\(spanW)) is larger than the padded input \(paddedH)x\(paddedW) (input \(shape))")
    }
    return ConvGeometry(
        channels: channels, height: shape[2], width: shape[3],
        kernelH: kernel.height, kernelW: kernel.width,
        strideH: stride.height, strideW: stride.width,
        padTop: pad.top, padLeft: pad.left,
        dilationH: dilation.height, dilationW: dilation.width,
        outH: (paddedH - spanH) / stride.height + 1, outW: (paddedW - spanW) / stride.width + 1)
}
