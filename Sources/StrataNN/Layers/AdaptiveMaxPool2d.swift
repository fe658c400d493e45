import StrataCore

/// Adaptive max pooling (PyTorch's `nn.AdaptiveMaxPool2d`, without
/// `return_indices`).
///
/// - Input: [N, C, H, W]. Output: [N, C, outputSize.h, outputSize.w].
/// - Output cell (i, j) is the maximum over rows floor(i*H/OH) ..<
///   ceil((i+1)*H/OH) and the columns likewise, the bins of
///   `AdaptiveAvgPool2d`. Ties and NaNs as `MaxPool2d`.
public final class AdaptiveMaxPool2d: Module, ListsOwnState {
    public var training = true
    public let outputSize: Size2

    public init(outputSize: some Size2Convertible) {
        let outputSize = outputSize.size2
        strataCheck(outputSize.height > 0 && outputSize.width > 0, "AdaptiveMaxPool2d: outputSize \(outputSize) must be positive")
        self.outputSize = outputSize
    }

    public var extraRepresentation: String { "output_size=\(PythonRepr.size(outputSize))" }

    public func validate(inputShape shape: [Int]) throws {
        try checkAdaptivePool(op: "AdaptiveMaxPool2d(outputSize: \(outputSize))", inputShape: shape, outputSize: outputSize)
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return adaptiveMaxPool2d(x, outputSize: outputSize)
    }
}
