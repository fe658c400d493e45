import StrataCore

/// What Conv1d, Conv2d and ConvTranspose2d share: argument checks, PyTorch's
/// default initialisation and the parameter list.

/// Traps, naming the layer `name`, unless channel counts, kernel, stride and
/// dilation are positive and `groups` divides both channel counts.
func checkConvLayerArguments(
    _ name: String, inputChannels: Int, outputChannels: Int, kernel: Size2, stride: Size2, dilation: Size2, groups: Int
) {
    strataCheck(inputChannels > 0 && outputChannels > 0, "\(name): channel counts must be positive")
    strataCheck(
        groups > 0 && inputChannels % groups == 0 && outputChannels % groups == 0,
        "\(name): groups = \(groups) must divide both inputChannels and outputChannels")
    strataCheck(kernel.height > 0 && kernel.width > 0, "\(name): kernel size must be positive")
    strataCheck(stride.height > 0 && stride.width > 0, "\(name): stride \(stride) must be positive")
    strataCheck(dilation.height > 0 && dilation.width > 0, "\(name): dilation \(dilation) must be positive")
}

/// PyTorch's default convolution initialisation (kaiming_uniform with
/// a = sqrt(5), and its bias rule): weight of `weightShape` and, with
/// `biasCount`, a bias, all ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
func uniformConvParameters(weightShape: [Int], fanIn: Int, biasCount: Int?, generator: RandomGenerator) -> (Tensor, Tensor?) {
    let bound = 1 / Float(fanIn).squareRoot()
    let weight = Tensor.rand(weightShape, low: -bound, high: bound, generator: generator, requiresGrad: true)
    let bias = biasCount.map { Tensor.rand([$0], low: -bound, high: bound, generator: generator, requiresGrad: true) }
    return (weight, bias)
}

/// [("weight", w), ("bias", b)], without the bias when there is none.
func weightAndBias(_ weight: Tensor, _ bias: Tensor?) -> [(String, Tensor)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
}

/// PyTorch's `_ConvNd.extra_repr` (`3, 16, kernel_size=(3, 3), stride=(1, 1),
/// padding=(1, 1), bias=False`): sizes as tuples of the layer's rank; a
/// field shows only when it differs from PyTorch's default.
func convExtraRepresentation(
    _ inputChannels: Int, _ outputChannels: Int, kernel: [Int], stride: [Int], padding: ConvPadding,
    dilation: [Int], outputPadding: [Int] = [], groups: Int, hasBias: Bool, paddingMode: ConvPaddingMode = .zeros
) -> String {
    var s = "\(inputChannels), \(outputChannels), kernel_size=\(PythonRepr.tuple(kernel)), stride=\(PythonRepr.tuple(stride))"
    switch padding {
    case .explicit(let p):
        let values = kernel.count == 1 ? [p.width] : [p.height, p.width]
        if values.contains(where: { $0 != 0 }) { s += ", padding=\(PythonRepr.tuple(values))" }
    case .same: s += ", padding=same"
    case .valid: s += ", padding=valid"
    }
    if dilation.contains(where: { $0 != 1 }) { s += ", dilation=\(PythonRepr.tuple(dilation))" }
    if outputPadding.contains(where: { $0 != 0 }) { s += ", output_padding=\(PythonRepr.tuple(outputPadding))" }
    if groups != 1 { s += ", groups=\(groups)" }
    if !hasBias { s += ", bias=False" }
    if paddingMode != .zeros { s += ", padding_mode=\(paddingMode.rawValue)" }
    return s
}
