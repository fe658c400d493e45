import StrataCore

/// 1-D convolution over [N, C, L] input (PyTorch's `nn.Conv1d`), computed
/// as `conv2d` over the input seen as [N, C, 1, L] with a 1 x k kernel.
///
/// - Input: [N, inputChannels, L]. Output: [N, outputChannels, OL] with
///   OL = (L + 2*padding - dilation*(kernelSize-1) - 1) / stride + 1.
/// - `weight`: [outputChannels, inputChannels/groups, kernelSize]; `bias`:
///   [outputChannels] or nil. Keys "weight" and "bias", as PyTorch.
/// - `padding`: a plain integer (`padding: 2`), `.same` (stride 1; an odd
///   total goes on the right, as PyTorch) or `.valid`.
/// - `paddingMode` as `Conv2d` (zeros, reflect, replicate, circular).
/// - Initialisation as PyTorch: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weight
///   and bias, fanIn = inputChannels/groups * kernelSize.
public final class Conv1d: Module, ListsOwnState {
    public var training = true
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: ConvPadding
    public let dilation: Int
    public let groups: Int
    public let paddingMode: ConvPaddingMode
    public let weight: Tensor
    public let bias: Tensor?

    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int,
        stride: Int = 1, padding: ConvPadding = 0, dilation: Int = 1, groups: Int = 1,
        bias: Bool = true, paddingMode: ConvPaddingMode = .zeros, generator: RandomGenerator = .global
    ) {
        let name = "Conv1d(\(inputChannels), \(outputChannels), kernelSize: \(kernelSize))"
        checkConvLayerArguments(
            name, inputChannels: inputChannels, outputChannels: outputChannels, kernel: Size2(1, kernelSize),
            stride: Size2(1, stride), dilation: Size2(1, dilation), groups: groups)
        if case .explicit(let p) = padding {
            strataCheck(p.height == p.width && p.width >= 0, "\(name): padding must be one non-negative integer, got \(p)")
        }
        strataCheck(padding != .same || stride == 1, "\(name): padding .same needs stride 1, got stride \(stride)")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.paddingMode = paddingMode
        (weight, self.bias) = uniformConvParameters(
            weightShape: [outputChannels, inputChannels / groups, kernelSize], fanIn: inputChannels / groups * kernelSize,
            biasCount: bias ? outputChannels : nil, generator: generator)
    }

    /// `Conv1d(16, 32, kernelSize: 3, padding: 1)`: the channel counts unlabelled.
    public convenience init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: Int,
        stride: Int = 1, padding: ConvPadding = 0, dilation: Int = 1, groups: Int = 1,
        bias: Bool = true, paddingMode: ConvPaddingMode = .zeros, generator: RandomGenerator = .global
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize, stride: stride,
            padding: padding, dilation: dilation, groups: groups, bias: bias, paddingMode: paddingMode, generator: generator)
    }

    /// The same with the padding from an `Int` variable (`padding: k / 2`).
    public convenience init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: Int,
        stride: Int = 1, padding: Int, dilation: Int = 1, groups: Int = 1,
        bias: Bool = true, paddingMode: ConvPaddingMode = .zeros, generator: RandomGenerator = .global
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize, stride: stride,
            padding: .explicit(Size2(padding)), dilation: dilation, groups: groups, bias: bias,
            paddingMode: paddingMode, generator: generator)
    }

    /// The same with the padding from an `Int` variable, channel counts labelled.
    public convenience init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int,
        stride: Int = 1, padding: Int, dilation: Int = 1, groups: Int = 1,
        bias: Bool = true, paddingMode: ConvPaddingMode = .zeros, generator: RandomGenerator = .global
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize, stride: stride,
            padding: .explicit(Size2(padding)), dilation: dilation, groups: groups, bias: bias,
            paddingMode: paddingMode, generator: generator)
    }

    public var ownParameters: [(String, Tensor)] { weightAndBias(weight, bias) }

    /// PyTorch's line: `16, 32, kernel_size=(3,), stride=(1,), padding=(1,)`.
    public var extraRepresentation: String {
        convExtraRepresentation(
            inputChannels, outputChannels, kernel: [kernelSize], stride: [stride], padding: padding,
            dilation: [dilation], groups: groups, hasBias: bias != nil, paddingMode: paddingMode)
    }

    var name: String {
        "Conv1d(\(inputChannels), \(outputChannels), kernelSize: \(kernelSize), stride: \(stride), padding: \(padding1d)"
            + (dilation == 1 ? "" : ", dilation: \(dilation)") + (groups == 1 ? "" : ", groups: \(groups)")
            + (paddingMode == .zeros ? "" : ", paddingMode: \(paddingMode.rawValue)") + ")"
    }

    private var padding1d: String {
        if case .explicit(let p) = padding { return "\(p.width)" }
        return "\(padding)"
    }

    /// The 2-D view of the padding: none along the unit height.
    private var padding2d: ConvPadding {
        if case .explicit(let p) = padding { return .explicit(Size2(0, p.width)) }
        return padding
    }

    /// Throws when `shape` is not [N, inputChannels, L], the dilated kernel
    /// does not fit in the padded input, or `paddingMode` cannot pad it.
    public func validate(inputShape shape: [Int]) throws {
        guard shape.count == 3, shape[1] == inputChannels else {
            throw StrataError.shapeMismatch(op: name, expected: "[N, \(inputChannels), L]", actual: shape)
        }
        let shape2d = [shape[0], shape[1], 1, shape[2]], kernel = Size2(1, kernelSize)
        _ = try convGeometry(
            op: name, inputShape: shape2d, weightShape: [outputChannels, inputChannels / groups, 1, kernelSize],
            stride: Size2(1, stride), padding: padding2d, dilation: Size2(1, dilation), groups: groups)
        try checkConvPaddingMode(
            op: name, inputShape: shape2d, padding: padding2d, kernel: kernel, dilation: Size2(1, dilation), mode: paddingMode)
    }

    /// [N, inputChannels, L] -> [N, outputChannels, OL].
    public func forward(_ x: Tensor) -> Tensor { forward(x, weight: weight) }

    /// The forward with `weight` (same shape) in place of the layer's own
    /// (`SpectralNorm`, `WeightNorm`).
    public func forward(_ x: Tensor, weight: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        var x2 = x.reshaped([x.shape[0], x.shape[1], 1, x.shape[2]])
        var pad = padding2d
        if paddingMode != .zeros {
            x2 = padForConvolution(x2, padding: pad, kernel: Size2(1, kernelSize), dilation: Size2(1, dilation), mode: paddingMode)
            pad = .valid
        }
        let w2 = weight.reshaped([outputChannels, inputChannels / groups, 1, kernelSize])
        let y = conv2d(x2, weight: w2, bias: bias, stride: Size2(1, stride), padding: pad, dilation: Size2(1, dilation), groups: groups)
        return y.reshaped([y.shape[0], y.shape[1], y.shape[3]])
    }
}
