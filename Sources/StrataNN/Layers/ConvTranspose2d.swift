import StrataCore

/// 2-D transposed convolution over NCHW input (PyTorch's
/// `nn.ConvTranspose2d`), the adjoint of `Conv2d` ("deconvolution", the
/// usual learnt upsampling of decoders and GAN generators).
///
/// - Input: [N, inputChannels, H, W]. Output: [N, outputChannels, OH, OW] with
///   OH = (H - 1)*stride.h - 2*padding.h + dilation.h*(kh - 1) + outputPadding.h + 1
///   (likewise OW).
/// - `weight`: [inputChannels, outputChannels/groups, kh, kw] (input channels
///   first, as PyTorch); `bias`: [outputChannels] or nil. Keys "weight" and
///   "bias".
/// - `padding` removes that many rows/columns from each side of the full
///   output; `outputPadding` (smaller than the stride or the dilation) adds
///   rows/columns at the bottom/right, to pick among the sizes a strided
///   Conv2d maps to the same H.
/// - Initialisation as PyTorch: weight and bias ~ U(-1/sqrt(fanIn),
///   1/sqrt(fanIn)) with PyTorch's fanIn for this weight layout,
///   outputChannels/groups * kh * kw.
///
/// The computation (Conv2d's kernels with forward and backward-data
/// swapped) is described at `convTranspose2d`.
public final class ConvTranspose2d: Module, ListsOwnState {
    public var training = true
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Size2
    public let stride: Size2
    public let padding: Size2
    public let outputPadding: Size2
    public let groups: Int
    public let dilation: Size2
    public let weight: Tensor
    public let bias: Tensor?

    /// Sizes take an `Int`, a `Size2` or an `[Int]` (`Size2Convertible`), literal or variable.
    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: some Size2Convertible,
        stride: some Size2Convertible = 1, padding: some Size2Convertible = 0, outputPadding: some Size2Convertible = 0,
        groups: Int = 1, bias: Bool = true, dilation: some Size2Convertible = 1, generator: RandomGenerator = .global
    ) {
        let kernelSize = kernelSize.size2, stride = stride.size2, padding = padding.size2
        let outputPadding = outputPadding.size2, dilation = dilation.size2
        let name = "ConvTranspose2d(\(inputChannels), \(outputChannels), kernelSize: \(kernelSize))"
        checkConvLayerArguments(
            name, inputChannels: inputChannels, outputChannels: outputChannels, kernel: kernelSize,
            stride: stride, dilation: dilation, groups: groups)
        strataCheck(padding.height >= 0 && padding.width >= 0, "\(name): padding \(padding) must not be negative")
        strataCheck(
            outputPadding.height >= 0 && outputPadding.width >= 0
                && outputPadding.height < max(stride.height, dilation.height)
                && outputPadding.width < max(stride.width, dilation.width),
            "\(name): outputPadding \(outputPadding) must be smaller than the stride \(stride) or the dilation \(dilation)")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.groups = groups
        self.dilation = dilation
        (weight, self.bias) = uniformConvParameters(
            weightShape: [inputChannels, outputChannels / groups, kernelSize.height, kernelSize.width],
            fanIn: outputChannels / groups * kernelSize.height * kernelSize.width,
            biasCount: bias ? outputChannels : nil, generator: generator)
    }

    /// `ConvTranspose2d(16, 8, kernelSize: 2, stride: 2)`: the channel counts unlabelled.
    public convenience init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: some Size2Convertible,
        stride: some Size2Convertible = 1, padding: some Size2Convertible = 0, outputPadding: some Size2Convertible = 0,
        groups: Int = 1, bias: Bool = true, dilation: some Size2Convertible = 1, generator: RandomGenerator = .global
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize,
            stride: stride, padding: padding, outputPadding: outputPadding, groups: groups,
            bias: bias, dilation: dilation, generator: generator)
    }

    public var ownParameters: [(String, Tensor)] { weightAndBias(weight, bias) }

    /// PyTorch's line: `16, 8, kernel_size=(2, 2), stride=(2, 2), output_padding=(1, 1)`.
    public var extraRepresentation: String {
        convExtraRepresentation(
            inputChannels, outputChannels, kernel: [kernelSize.height, kernelSize.width],
            stride: [stride.height, stride.width], padding: .explicit(padding),
            dilation: [dilation.height, dilation.width],
            outputPadding: [outputPadding.height, outputPadding.width], groups: groups, hasBias: bias != nil)
    }

    var name: String {
        "ConvTranspose2d(\(inputChannels), \(outputChannels), kernelSize: \(kernelSize), stride: \(stride), padding: \(padding)"
            + (outputPadding == 0 ? "" : ", outputPadding: \(outputPadding)")
            + (dilation == 1 ? "" : ", dilation: \(dilation)") + (groups == 1 ? "" : ", groups: \(groups)") + ")"
    }

    /// Throws when `shape` is not [N, inputChannels, H, W] or the output
    /// would be empty.
    public func validate(inputShape shape: [Int]) throws {
        _ = try transposedConvGeometry(
            op: name, inputShape: shape, weightShape: weight.shape, stride: stride,
            padding: padding, outputPadding: outputPadding, groups: groups, dilation: dilation)
    }

    /// [N, inputChannels, H, W] -> [N, outputChannels, OH, OW].
    public func forward(_ x: Tensor) -> Tensor { forward(x, weight: weight) }

    /// The forward with `weight` (same shape) in place of the layer's own
    /// (`SpectralNorm`, `WeightNorm`).
    public func forward(_ x: Tensor, weight: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return convTranspose2d(
            x, weight: weight, bias: bias, stride: stride, padding: padding,
            outputPadding: outputPadding, groups: groups, dilation: dilation)
    }
}
