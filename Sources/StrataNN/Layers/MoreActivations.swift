import StrataCore

/// More activation layers (PyTorch names and defaults), shapes unchanged;
/// each wraps the op of the same name in StrataCore/Ops/ActivationsExtra.swift.
/// Only PReLU has a parameter. Printed lines as PyTorch's `extra_repr`.

/// x * sigmoid(x) (PyTorch's `nn.SiLU`).
public final class SiLU: Module, ListsOwnState {
    public var training = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x.silu() }
}

/// x for x > 0, alpha * (e^x - 1) otherwise (PyTorch's `nn.ELU`, alpha 1).
public final class ELU: Module, ListsOwnState {
    public var training = true
    public let alpha: Float
    public init(alpha: Float = 1) { self.alpha = alpha }
    public var extraRepresentation: String { "alpha=\(PythonRepr.float(alpha))" }
    public func forward(_ x: Tensor) -> Tensor { x.elu(alpha: alpha) }
}

/// min(max(x, minValue), maxValue) (PyTorch's `nn.Hardtanh(min_val=-1, max_val=1)`).
public final class Hardtanh: Module, ListsOwnState {
    public var training = true
    public let minValue: Float
    public let maxValue: Float
    public init(minValue: Float = -1, maxValue: Float = 1) {
        strataCheck(minValue <= maxValue, "Hardtanh: minValue \(minValue) must not exceed maxValue \(maxValue)")
        self.minValue = minValue
        self.maxValue = maxValue
    }
    public var extraRepresentation: String { "min_val=\(PythonRepr.float(minValue)), max_val=\(PythonRepr.float(maxValue))" }
    public func forward(_ x: Tensor) -> Tensor { x.hardtanh(minValue: minValue, maxValue: maxValue) }
}

/// min(max(x, 0), 6) (PyTorch's `nn.ReLU6`).
public final class ReLU6: Module, ListsOwnState {
    public var training = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x.relu6() }
}

/// x * relu6(x + 3) / 6 (PyTorch's `nn.Hardswish`).
public final class Hardswish: Module, ListsOwnState {
    public var training = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x.hardswish() }
}

/// relu6(x + 3) / 6 (PyTorch's `nn.Hardsigmoid`).
public final class Hardsigmoid: Module, ListsOwnState {
    public var training = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x.hardsigmoid() }
}

/// x * tanh(softplus(x)) (PyTorch's `nn.Mish`).
public final class Mish: Module, ListsOwnState {
    public var training = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x.mish() }
}

/// log(1 + e^(beta*x)) / beta, linear above `threshold` (PyTorch's
/// `nn.Softplus(beta=1, threshold=20)`).
public final class Softplus: Module, ListsOwnState {
    public var training = true
    public let beta: Float
    public let threshold: Float
    public init(beta: Float = 1, threshold: Float = 20) {
        strataCheck(beta != 0, "Softplus: beta must not be 0")
        self.beta = beta
        self.threshold = threshold
    }
    public var extraRepresentation: String { "beta=\(PythonRepr.float(beta)), threshold=\(PythonRepr.float(threshold))" }
    public func forward(_ x: Tensor) -> Tensor { x.softplus(beta: beta, threshold: threshold) }
}

/// max(0, x) + a * min(0, x) with a learnt slope (PyTorch's `nn.PReLU`).
///
/// - `weight`: [numParameters], initialised to `initialValue` (PyTorch's
///   `init`, default 0.25). numParameters is 1 (one slope shared by all
///   channels) or the number of channels C, dimension 1 of the input.
/// - Key "weight", as PyTorch. Input any shape [N, C, ...].
public final class PReLU: Module, ListsOwnState {
    public var training = true
    public let numParameters: Int
    public let weight: Tensor

    public init(numParameters: Int = 1, initialValue: Float = 0.25) {
        strataCheck(numParameters > 0, "PReLU: numParameters must be positive, got \(numParameters)")
        self.numParameters = numParameters
        weight = Tensor.full([numParameters], initialValue, requiresGrad: true)
    }

    public var ownParameters: [(String, Tensor)] { [("weight", weight)] }
    public var extraRepresentation: String { "num_parameters=\(numParameters)" }

    public func validate(inputShape shape: [Int]) throws {
        if numParameters != 1 && (shape.count < 2 || shape[1] != numParameters) {
            throw StrataError.shapeMismatch(
                op: "PReLU(numParameters: \(numParameters))",
                expected: "[N, \(numParameters), ...]", actual: shape)
        }
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return x.prelu(weight: weight)
    }
}

/// Returns its input unchanged (PyTorch's `nn.Identity`), a placeholder
/// where an architecture leaves a layer out.
public final class Identity: Module, ListsOwnState {
    public var training = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x }
}

/// Zeroes whole channels (PyTorch's `nn.Dropout2d`): in train mode each
/// (sample, channel) plane of an [N, C, H, W] input is zeroed with
/// probability `p` and the kept planes are scaled by 1/(1-p); identity in
/// eval mode. The masks are drawn from `generator` (one uniform number per
/// plane, in (n, c) order), as `Dropout` draws per element.
public final class Dropout2d: Module, ListsOwnState {
    public var training = true
    public let p: Float
    let generator: RandomGenerator

    public init(p: Float = 0.5, generator: RandomGenerator = .global) {
        strataCheck(p >= 0 && p <= 1, "Dropout2d: p must be in [0, 1], got \(p)")
        self.p = p
        self.generator = generator
    }

    public var extraRepresentation: String { "p=\(PythonRepr.float(p)), inplace=False" }

    public func validate(inputShape shape: [Int]) throws {
        guard shape.count == 4 else {
            throw StrataError.shapeMismatch(op: "Dropout2d(p: \(p))", expected: "[N, C, H, W]", actual: shape)
        }
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        if !training || p == 0 { return x }
        return x * dropoutMask([x.shape[0], x.shape[1], 1, 1], p: p, generator: generator)
    }
}

/// An inverted-dropout mask of `shape`: each element 0 with probability
/// `p`, else 1/(1-p), from one uniform draw per element of `generator`.
func dropoutMask(_ shape: [Int], p: Float, generator: RandomGenerator) -> Tensor {
    let mask = Tensor(uninitialized: shape)
    generator.fillUniform(mask.data, count: mask.count, low: 0, high: 1)
    let scale: Float = p == 1 ? 0 : 1 / (1 - p)
    for i in 0..<mask.count { mask.data[i] = mask.data[i] < p ? 0 : scale }
    return mask
}
