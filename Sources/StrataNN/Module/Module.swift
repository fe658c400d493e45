import StrataCore
/// A layer or a network of layers (PyTorch's `nn.Module`).
///
/// A module declares what it owns; the protocol extension derives the
/// rest:
/// - `ownParameters`: trainable tensors, the only ones optimisers see.
/// - `ownBuffers`: state that is saved and loaded but never optimised
///   (BatchNorm's running statistics).
/// - `children`: sub-modules, named as PyTorch names them (`"0"`, `"fc"`), so
///   that dotted keys such as `0.weight` or `features.1.running_mean` match
///   PyTorch's `state_dict()`.
/// - `training`: this module's own flag; `train()`/`eval()` set it
///   recursively. There is no global mode.
public protocol Module: AnyObject {
    /// Computes the output for `input`. Shapes are documented per layer.
    func forward(_ input: Tensor) -> Tensor
    /// Train mode (true) or eval mode (false) of this module alone.
    var training: Bool { get set }
    /// This module's own trainable tensors, by local name.
    var ownParameters: [(String, Tensor)] { get }
    /// This module's own non-trainable state, by local name.
    var ownBuffers: [(String, Tensor)] { get }
    /// Sub-modules, by local name.
    var children: [(String, any Module)] { get }
}

extension Module {
    public var ownParameters: [(String, Tensor)] { [] }
    public var ownBuffers: [(String, Tensor)] { [] }
    public var children: [(String, any Module)] { [] }

    /// `forward(input)`.
    public func callAsFunction(_ input: Tensor) -> Tensor { forward(input) }

    /// Every module of the tree in depth-first pre-order with its dotted name
    /// (the root has the empty name).
    public func namedModules() -> [(String, any Module)] {
        var result: [(String, any Module)] = []
        var stack: [(String, any Module)] = [("", self)]
        while let (name, m) = stack.popLast() {
            result.append((name, m))
            for (child, sub) in m.children.reversed() {
                stack.append((name.isEmpty ? child : "\(name).\(child)", sub))
            }
        }
        return result
    }

    /// Every parameter of the tree with its PyTorch key (`0.weight`).
    public func namedParameters() -> [(String, Tensor)] {
        namedModules().flatMap { prefix, m in
            m.ownParameters.map { (prefix.isEmpty ? $0.0 : "\(prefix).\($0.0)", $0.1) }
        }
    }

    /// Every buffer of the tree with its PyTorch key (`1.running_mean`).
    public func namedBuffers() -> [(String, Tensor)] {
        namedModules().flatMap { prefix, m in
            m.ownBuffers.map { (prefix.isEmpty ? $0.0 : "\(prefix).\($0.0)", $0.1) }
        }
    }

    /// Every parameter of the tree, for an optimiser.
    public func parameters() -> [Tensor] { namedParameters().map(\.1) }

    /// Parameters and buffers by key, in PyTorch's `state_dict()` order
    /// (per module: parameters, then buffers).
    public func stateDict() -> [(String, Tensor)] {
        namedModules().flatMap { prefix, m in
            (m.ownParameters + m.ownBuffers).map { (prefix.isEmpty ? $0.0 : "\(prefix).\($0.0)", $0.1) }
        }
    }

    /// Sets train mode (`true`) or eval mode on this module and all below it.
    public func train(_ mode: Bool = true) {
        for (_, m) in namedModules() { m.training = mode }
    }

    /// Sets eval mode on this module and all below it.
    public func eval() { train(false) }

    /// Clears the gradients of every parameter.
    public func zeroGrad() {
        for p in parameters() { p.grad = nil }
    }

    /// Number of trainable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }
}

/// Layers applied one after another (PyTorch's `nn.Sequential`); children
/// are named "0", "1", ... as in PyTorch.
public final class Sequential: Module {
    public var training = true
    /// The layers in order.
    public private(set) var layers: [any Module]

    public init(_ layers: [any Module]) { self.layers = layers }
    public convenience init(_ layers: any Module...) { self.init(layers) }

    public var children: [(String, any Module)] { layers.enumerated().map { ("\($0.offset)", $0.element) } }

    /// Appends a layer.
    public func append(_ layer: any Module) { layers.append(layer) }

    public func forward(_ input: Tensor) -> Tensor {
        var x = input
        for layer in layers { x = layer(x) }
        return x
    }
}
