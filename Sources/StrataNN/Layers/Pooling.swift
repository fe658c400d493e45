import StrataCore

/// Pooling layers over NCHW input, each with its op (forward and backward
/// side by side). Loops live in Kernels/PoolingKernels.swift; the N*C planes
/// are split over `Threading.parallelFor` workers.

/// What MaxPool2d and AvgPool2d share: a kernelSize x kernelSize window
/// moved by `stride` (default: the kernel size, as PyTorch) over input
/// padded by `padding` (at most half the kernel), in floor mode or, with
/// `ceilMode`, rounding the output size up (PyTorch's `ceil_mode`).
///
/// - Input: [N, C, H, W]. Output: [N, C, OH, OW] with
///   OH = (H + 2*padding.h - dilation.h*(kernel.h-1) - 1) / stride.h + 1
///   (likewise OW); in ceil mode the division rounds up, but the last window
///   must start inside the input or its top/left padding.
public class WindowPool2d: Module, ListsOwnState {
    public var training = true
    public let kernelSize: Size2
    public let stride: Size2
    public let padding: Size2
    /// Spacing of the window taps (MaxPool2d only; 1 for AvgPool2d, as PyTorch).
    public let dilation: Size2
    /// Round the output size up instead of down (PyTorch's `ceil_mode`).
    public let ceilMode: Bool
    /// Layer name for messages.
    var typeName: String { "Pool2d" }

    init(window kernelSize: Size2, stride: Size2?, padding: Size2, dilation: Size2 = 1, ceilMode: Bool = false) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.dilation = dilation
        self.ceilMode = ceilMode
        checkPoolArguments(typeName, kernelSize, self.stride, padding, dilation: dilation)
    }

    /// `kernel_size=2, stride=2, padding=0` (subclasses add PyTorch's other fields).
    public var extraRepresentation: String {
        "kernel_size=\(PythonRepr.size(kernelSize)), stride=\(PythonRepr.size(stride)), padding=\(PythonRepr.size(padding))"
    }

    /// Throws when `shape` is not [N, C, H, W] or the window does not fit.
    public func validate(inputShape shape: [Int]) throws {
        _ = try poolGeometry(
            op: "\(typeName)(kernelSize: \(kernelSize), stride: \(stride), padding: \(padding))",
            inputShape: shape, kernel: kernelSize, stride: stride, padding: padding,
            dilation: dilation, ceilMode: ceilMode)
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return pool(x)
    }

    /// The pooling op itself, after validation.
    func pool(_ x: Tensor) -> Tensor { strataFatal("\(typeName): pool(_:) must be overridden") }
}

/// Max pooling (PyTorch's `nn.MaxPool2d`); padding pads with -infinity and
/// window taps are `dilation` apart.
///
/// Backward routes each output gradient to the position of its window's
/// maximum. Ties: the first maximum in row-major window order receives the
/// whole gradient (as PyTorch's CPU kernel). A NaN counts as the maximum; of
/// several NaNs the last one in window order wins (as PyTorch).
public final class MaxPool2d: WindowPool2d {
    /// Sizes take an `Int`, a `Size2` or an `[Int]` (`Size2Convertible`),
    /// literal or variable; the stride defaults to the kernel size.
    public init(
        kernelSize: some Size2Convertible, stride: Size2? = nil, padding: some Size2Convertible = 0,
        dilation: some Size2Convertible = 1, ceilMode: Bool = false
    ) {
        super.init(window: kernelSize.size2, stride: stride, padding: padding.size2, dilation: dilation.size2, ceilMode: ceilMode)
    }
    /// The same with a stride from a variable (`stride: s`).
    public convenience init(
        kernelSize: some Size2Convertible, stride: some Size2Convertible, padding: some Size2Convertible = 0,
        dilation: some Size2Convertible = 1, ceilMode: Bool = false
    ) {
        self.init(kernelSize: kernelSize, stride: Optional(stride.size2), padding: padding, dilation: dilation, ceilMode: ceilMode)
    }
    override var typeName: String { "MaxPool2d" }
    override public var extraRepresentation: String {
        super.extraRepresentation + ", dilation=\(PythonRepr.size(dilation)), ceil_mode=\(ceilMode ? "True" : "False")"
    }
    override func pool(_ x: Tensor) -> Tensor {
        maxPool2d(x, kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
    }

    /// MaxPool2d(2): 2x2 windows, stride 2, no padding or dilation, floor
    /// mode; the pooling a BatchNorm + ReLU before it can run inside its op
    /// (`fusedBatchNorm(_:_:relu:maxPool:)`).
    var halves: Bool {
        kernelSize == Size2(2) && stride == Size2(2) && padding == Size2(0) && dilation == Size2(1) && !ceilMode
    }
}

/// Average pooling (PyTorch's `nn.AvgPool2d`, no divisor_override): each
/// output is the window sum divided by the window's size within the padded
/// input (`countIncludePad`, PyTorch's default; kh*kw except for partial
/// ceil-mode windows), or by the number of input pixels it covers.
public final class AvgPool2d: WindowPool2d {
    /// Whether padded zeros count in the divisor (PyTorch's `count_include_pad`).
    public let countIncludePad: Bool
    /// Sizes as `MaxPool2d`.
    public init(
        kernelSize: some Size2Convertible, stride: Size2? = nil, padding: some Size2Convertible = 0,
        ceilMode: Bool = false, countIncludePad: Bool = true
    ) {
        self.countIncludePad = countIncludePad
        super.init(window: kernelSize.size2, stride: stride, padding: padding.size2, ceilMode: ceilMode)
    }
    /// The same with a stride from a variable (`stride: s`).
    public convenience init(
        kernelSize: some Size2Convertible, stride: some Size2Convertible, padding: some Size2Convertible = 0,
        ceilMode: Bool = false, countIncludePad: Bool = true
    ) {
        self.init(
            kernelSize: kernelSize, stride: Optional(stride.size2), padding: padding, ceilMode: ceilMode,
            countIncludePad: countIncludePad)
    }
    override var typeName: String { "AvgPool2d" }
    override func pool(_ x: Tensor) -> Tensor {
        avgPool2d(x, kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad)
    }
}

/// What AdaptiveAvgPool2d and AdaptiveMaxPool2d share: the output size,
/// its check, the printed line and validation.
///
/// - Input: [N, C, H, W]. Output: [N, C, outputSize.h, outputSize.w].
/// - Output cell (i, j) covers rows floor(i*H/OH) ..< ceil((i+1)*H/OH) and
///   the columns likewise (bins may overlap when H is not a multiple of OH).
public class AdaptivePool2d: Module, ListsOwnState {
    public var training = true
    public let outputSize: Size2
    /// Layer name for messages.
    var typeName: String { "AdaptivePool2d" }

    init(adaptive outputSize: Size2) {
        self.outputSize = outputSize
        strataCheck(outputSize.height > 0 && outputSize.width > 0, "\(typeName): outputSize \(outputSize) must be positive")
    }

    public var extraRepresentation: String { "output_size=\(PythonRepr.size(outputSize))" }

    public func validate(inputShape shape: [Int]) throws {
        try checkAdaptivePool(op: "\(typeName)(outputSize: \(outputSize))", inputShape: shape, outputSize: outputSize)
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return pool(x)
    }

    /// The pooling op itself, after validation.
    func pool(_ x: Tensor) -> Tensor { strataFatal("\(typeName): pool(_:) must be overridden") }
}

/// Adaptive average pooling (PyTorch's `nn.AdaptiveAvgPool2d`): each output
/// cell averages its bin (see `AdaptivePool2d`). `outputSize: 1` is global
/// average pooling.
public final class AdaptiveAvgPool2d: AdaptivePool2d {
    public init(outputSize: some Size2Convertible) { super.init(adaptive: outputSize.size2) }
    override var typeName: String { "AdaptiveAvgPool2d" }
    override func pool(_ x: Tensor) -> Tensor { adaptiveAvgPool2d(x, outputSize: outputSize) }
}
