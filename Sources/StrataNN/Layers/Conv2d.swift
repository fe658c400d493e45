import StrataCore

/// 2-D convolution over NCHW input (PyTorch's `nn.Conv2d`, cross-correlation).
///
/// - Input: [N, inputChannels, H, W]. Output: [N, outputChannels, OH, OW] with
///   OH = (H + padTop + padBottom - dilation.h*(kernel.h-1) - 1) / stride.h + 1
///   (likewise OW).
/// - `weight`: [outputChannels, inputChannels/groups, kh, kw]; `bias`:
///   [outputChannels] or nil. Keys "weight" and "bias", as PyTorch.
/// - `groups` splits input and output channels into that many independent
///   convolutions; groups == inputChannels is a depthwise convolution.
/// - `paddingMode` (PyTorch's `padding_mode`): zeros by default; reflect,
///   replicate or circular pad the input first, then convolve without padding.
/// - Initialisation as PyTorch: weight and bias ~ U(-1/sqrt(fanIn),
///   1/sqrt(fanIn)), fanIn = inputChannels/groups * kh * kw (kaiming_uniform
///   with a = sqrt(5)).
///
/// The computation (im2col + sgemm, threading) is described at `conv2d`.
public final class Conv2d: Module, ListsOwnState {
    public var training = true
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Size2
    public let stride: Size2
    public let padding: ConvPadding
    public let dilation: Size2
    public let groups: Int
    public let paddingMode: ConvPaddingMode
    public let weight: Tensor
    public let bias: Tensor?

    /// Sizes take an `Int`, a `Size2` or an `[Int]` (`Size2Convertible`),
    /// literal or variable; `padding` also `.same` or `.valid`.
    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: some Size2Convertible,
        stride: some Size2Convertible = 1, padding: ConvPadding = 0, dilation: some Size2Convertible = 1, groups: Int = 1,
        bias: Bool = true, paddingMode: ConvPaddingMode = .zeros, generator: RandomGenerator = .global
    ) {
        let kernelSize = kernelSize.size2, stride = stride.size2, dilation = dilation.size2
        let name = "Conv2d(\(inputChannels), \(outputChannels), kernelSize: \(kernelSize))"
        checkConvLayerArguments(
            name, inputChannels: inputChannels, outputChannels: outputChannels, kernel: kernelSize,
            stride: stride, dilation: dilation, groups: groups)
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
        self.paddingMode = paddingMode
        (weight, self.bias) = uniformConvParameters(
            weightShape: [outputChannels, inputChannels / groups, kernelSize.height, kernelSize.width],
            fanIn: inputChannels / groups * kernelSize.height * kernelSize.width,
            biasCount: bias ? outputChannels : nil, generator: generator)
    }

    /// `Conv2d(1, 32, kernelSize: 3, padding: 1)`: the channel counts unlabelled.
    public convenience init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: some Size2Convertible,
        stride: some Size2Convertible = 1, padding: ConvPadding = 0, dilation: some Size2Convertible = 1, groups: Int = 1,
        bias: Bool = true, paddingMode: ConvPaddingMode = .zeros, generator: RandomGenerator = .global
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize,
            stride: stride, padding: padding, dilation: dilation, groups: groups, bias: bias,
            paddingMode: paddingMode, generator: generator)
    }

    /// The same with an explicit padding from a variable (`padding: k / 2`).
    public convenience init(
        inputChannels: Int, outputChannels: Int, kernelSize: some Size2Convertible,
        stride: some Size2Convertible = 1, padding: some Size2Convertible, dilation: some Size2Convertible = 1, groups: Int = 1,
        bias: Bool = true, paddingMode: ConvPaddingMode = .zeros, generator: RandomGenerator = .global
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize,
            stride: stride, padding: .explicit(padding.size2), dilation: dilation, groups: groups, bias: bias,
            paddingMode: paddingMode, generator: generator)
    }

    /// The same with an explicit padding from a variable, channel counts unlabelled.
    public convenience init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: some Size2Convertible,
        stride: some Size2Convertible = 1, padding: some Size2Convertible, dilation: some Size2Convertible = 1, groups: Int = 1,
        bias: Bool = true, paddingMode: ConvPaddingMode = .zeros, generator: RandomGenerator = .global
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize,
            stride: stride, padding: .explicit(padding.size2), dilation: dilation, groups: groups, bias: bias,
            paddingMode: paddingMode, generator: generator)
    }

    public var ownParameters: [(String, Tensor)] { weightAndBias(weight, bias) }

    /// PyTorch's line: `3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False`.
    public var extraRepresentation: String {
        convExtraRepresentation(
            inputChannels, outputChannels, kernel: [kernelSize.height, kernelSize.width],
            stride: [stride.height, stride.width], padding: padding,
            dilation: [dilation.height, dilation.width], groups: groups, hasBias: bias != nil,
            paddingMode: paddingMode)
    }

    var name: String {
        "Conv2d(\(inputChannels), \(outputChannels), kernelSize: \(kernelSize), stride: \(stride), padding: \(padding)"
            + (dilation == 1 ? "" : ", dilation: \(dilation)") + (groups == 1 ? "" : ", groups: \(groups)") + ")"
    }

    /// Throws when `shape` is not [N, inputChannels, H, W], the (dilated)
    /// kernel does not fit in the padded input, or `paddingMode` cannot pad it.
    public func validate(inputShape shape: [Int]) throws {
        _ = try convGeometry(
            op: name, inputShape: shape, weightShape: weight.shape,
            stride: stride, padding: padding, dilation: dilation, groups: groups)
        try checkConvPaddingMode(op: name, inputShape: shape, padding: padding, kernel: kernelSize, dilation: dilation, mode: paddingMode)
    }

    /// [N, inputChannels, H, W] -> [N, outputChannels, OH, OW].
    public func forward(_ x: Tensor) -> Tensor { forward(x, weight: weight) }

    /// The forward with `weight` (same shape) in place of the layer's own
    /// (`SpectralNorm`, `WeightNorm`).
    public func forward(_ x: Tensor, weight: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        if paddingMode != .zeros {
            let padded = padForConvolution(x, padding: padding, kernel: kernelSize, dilation: dilation, mode: paddingMode)
            return conv2d(padded, weight: weight, bias: bias, stride: stride, padding: .valid, dilation: dilation, groups: groups)
        }
        return conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}
