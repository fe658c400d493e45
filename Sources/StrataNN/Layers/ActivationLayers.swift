import StrataCore

/// Stateless layers wrapping the pointwise ops, shapes unchanged.
public final class ReLU: Module, ListsOwnState {
    public var training = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x.relu() }
}

/// LeakyReLU with PyTorch's default negative slope 0.01.
public final class LeakyReLU: Module, ListsOwnState {
    public var training = true
    public let negativeSlope: Float
    public init(negativeSlope: Float = 0.01) { self.negativeSlope = negativeSlope }
    public var extraRepresentation: String { "negative_slope=\(PythonRepr.float(negativeSlope))" }
    public func forward(_ x: Tensor) -> Tensor { x.leakyRelu(negativeSlope: negativeSlope) }
}

public final class Sigmoid: Module, ListsOwnState {
    public var training = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x.sigmoid() }
}

public final class Tanh: Module, ListsOwnState {
    public var training = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x.tanh() }
}

/// GELU, exact (erf) form as PyTorch's default.
public final class GELU: Module, ListsOwnState {
    public var training = true
    public init() {}
    public var extraRepresentation: String { "approximate='none'" }
    public func forward(_ x: Tensor) -> Tensor { x.gelu() }
}

/// Softmax along `axis` (PyTorch's `nn.Softmax(dim=)`).
public final class Softmax: Module, ListsOwnState {
    public var training = true
    public let axis: Int
    public init(axis: Int = -1) { self.axis = axis }
    public var extraRepresentation: String { "dim=\(axis)" }
    public func forward(_ x: Tensor) -> Tensor { x.softmax(axis: axis) }
}

/// Log-softmax along `axis`.
public final class LogSoftmax: Module, ListsOwnState {
    public var training = true
    public let axis: Int
    public init(axis: Int = -1) { self.axis = axis }
    public var extraRepresentation: String { "dim=\(axis)" }
    public func forward(_ x: Tensor) -> Tensor { x.logSoftmax(axis: axis) }
}

/// Flattens all dimensions from `startDim` on: [N, C, H, W] -> [N, C*H*W].
public final class Flatten: Module, ListsOwnState {
    public var training = true
    public let startDim: Int
    public init(startDim: Int = 1) { self.startDim = startDim }
    public var extraRepresentation: String { "start_dim=\(startDim), end_dim=-1" }
    public func forward(_ x: Tensor) -> Tensor { x.flattened(startDim: startDim) }
}

/// Zeroes each element with probability `p` in train mode and scales the
/// rest by 1/(1-p) (inverted dropout, as PyTorch); identity in eval mode.
public final class Dropout: Module, ListsOwnState {
    public var training = true
    public let p: Float
    let generator: RandomGenerator

    public init(p: Float = 0.5, generator: RandomGenerator = .global) {
        strataCheck(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got \(p)")
        self.p = p
        self.generator = generator
    }

    public var extraRepresentation: String { "p=\(PythonRepr.float(p)), inplace=False" }

    public func forward(_ x: Tensor) -> Tensor {
        if !training || p == 0 { return x }
        return x * dropoutMask(x.shape, p: p, generator: generator)
    }
}
