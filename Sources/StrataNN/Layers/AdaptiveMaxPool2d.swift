import StrataCore

/// Adaptive max pooling (PyTorch's `nn.AdaptiveMaxPool2d`, without
/// `return_indices`): each output cell is the maximum over its bin, the bins
/// of `AdaptiveAvgPool2d` (see `AdaptivePool2d`). Ties and NaNs as
/// `MaxPool2d`.
public final class AdaptiveMaxPool2d: AdaptivePool2d {
    public init(outputSize: some Size2Convertible) { super.init(adaptive: outputSize.size2) }
    override var typeName: String { "AdaptiveMaxPool2d" }
    override func pool(_ x: Tensor) -> Tensor { adaptiveMaxPool2d(x, outputSize: outputSize) }
}
