import StrataCore
/// Pooling layers over NCHW input, each with its op (forward and backward
/// side by side). Loops live in Kernels/PoolingKernels.swift; the N*C planes
/// are split over `Threading.parallelFor` workers.

/// What MaxPool2d and AvgPool2d share: a kernelSize x kernelSize window
/// moved by `stride` (default: the kernel size, as PyTorch) over input
/// padded by `padding` (at most half the kernel), floor mode.
///
/// - Input: [N, C, H, W]. Output: [N, C, OH, OW] with
///   OH = (H + 2*padding.h - kernel.h) / stride.h + 1 (likewise OW).
public class WindowPool2d: Module, ListsOwnState {
    public var training = true
    public let kernelSize: Size2
    public let stride: Size2
    public let padding: Size2
    /// Layer name for messages.
    var typeName: String { "Pool2d" }

    init(window kernelSize: Size2, stride: Size2?, padding: Size2) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        checkPoolArguments(typeName, kernelSize, self.stride, padding)
    }

    /// `kernel_size=2, stride=2, padding=0` (subclasses add PyTorch's other fields).
    public var extraRepresentation: String {
        "kernel_size=\(PythonRepr.size(kernelSize)), stride=\(PythonRepr.size(stride)), padding=\(PythonRepr.size(padding))"
    }

    /// Throws when `shape` is not [N, C, H, W] or the window does not fit.
    public func validate(inputShape shape: [Int]) throws {
        _ = try poolGeometry(op: "\(typeName)(kernelSize: \(kernelSize), stride: \(stride), padding: \(padding))",
                             inputShape: shape, kernel: kernelSize, stride: stride, padding: padding)
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return pool(x)
    }

    /// The pooling op itself, after validation.
    func pool(_ x: Tensor) -> Tensor { strataFatal("\(typeName): pool(_:) must be overridden") }
}

/// Max pooling (PyTorch's `nn.MaxPool2d`, dilation 1, floor mode); padding
/// pads with -infinity.
///
/// Backward routes each output gradient to the position of its window's
/// maximum. Ties: the first maximum in row-major window order receives the
/// whole gradient (as PyTorch's CPU kernel). A NaN counts as the maximum; of
/// several NaNs the last one in window order wins (as PyTorch).
public final class MaxPool2d: WindowPool2d {
    public init(kernelSize: Size2, stride: Size2? = nil, padding: Size2 = 0) {
        super.init(window: kernelSize, stride: stride, padding: padding)
    }
    override var typeName: String { "MaxPool2d" }
    override public var extraRepresentation: String { super.extraRepresentation + ", dilation=1, ceil_mode=False" }
    override func pool(_ x: Tensor) -> Tensor {
        maxPool2d(x, kernelSize: kernelSize, stride: stride, padding: padding)
    }
}

/// Average pooling (PyTorch's `nn.AvgPool2d` with count_include_pad = true,
/// floor mode): each output is the window sum divided by kh*kw, padded
/// zeros included.
public final class AvgPool2d: WindowPool2d {
    public init(kernelSize: Size2, stride: Size2? = nil, padding: Size2 = 0) {
        super.init(window: kernelSize, stride: stride, padding: padding)
    }
    override var typeName: String { "AvgPool2d" }
    override func pool(_ x: Tensor) -> Tensor {
        avgPool2d(x, kernelSize: kernelSize, stride: stride, padding: padding)
    }
}

/// Adaptive average pooling (PyTorch's `nn.AdaptiveAvgPool2d`).
///
/// - Input: [N, C, H, W]. Output: [N, C, outputSize.h, outputSize.w].
/// - Output cell (i, j) averages rows floor(i*H/OH) ..< ceil((i+1)*H/OH) and
///   the columns likewise (bins may overlap when H is not a multiple of OH).
///   `outputSize: 1` is global average pooling.
public final class AdaptiveAvgPool2d: Module, ListsOwnState {
    public var training = true
    public let outputSize: Size2

    public init(outputSize: Size2) {
        strataCheck(outputSize.height > 0 && outputSize.width > 0, "AdaptiveAvgPool2d: outputSize \(outputSize) must be positive")
        self.outputSize = outputSize
    }

    public var extraRepresentation: String { "output_size=\(PythonRepr.size(outputSize))" }

    public func validate(inputShape shape: [Int]) throws {
        guard shape.count == 4, shape[2] > 0, shape[3] > 0 else {
            throw StrataError.shapeMismatch(op: "AdaptiveAvgPool2d(outputSize: \(outputSize))", expected: "[N, C, H, W]", actual: shape)
        }
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return adaptiveAvgPool2d(x, outputSize: outputSize)
    }
}
