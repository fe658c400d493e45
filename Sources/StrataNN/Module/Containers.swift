import StrataCore

/// Layers applied one after another (PyTorch's `nn.Sequential`); children
/// are named "0", "1", ... as in PyTorch.
public final class Sequential: Module, ListsOwnState {
    public var training = true
    /// The layers in order.
    public private(set) var layers: [any Module]

    public init(_ layers: [any Module]) { self.layers = layers }
    public convenience init(_ layers: any Module...) { self.init(layers) }

    public var children: [(String, any Module)] { layers.enumerated().map { ("\($0.offset)", $0.element) } }

    /// Appends a layer.
    public func append(_ layer: any Module) { layers.append(layer) }

    /// Calls the layers in order. A BatchNorm directly followed by a ReLU
    /// runs as one fused op (`fusedBatchNorm`): same result, one pass fewer;
    /// with a MaxPool2d(2) after the ReLU, the pooling joins the op.
    public func forward(_ input: Tensor) -> Tensor {
        var x = input
        var i = 0
        while i < layers.count {
            if let bn = layers[i] as? BatchNormBase, i + 1 < layers.count, let relu = layers[i + 1] as? ReLU {
                if i + 2 < layers.count, let pool = layers[i + 2] as? MaxPool2d {
                    x = fusedBatchNorm(bn, x, relu: relu, maxPool: pool)
                    i += 3
                } else {
                    x = fusedBatchNorm(bn, x, relu: relu)
                    i += 2
                }
            } else {
                x = layers[i](x)
                i += 1
            }
        }
        return x
    }
}

/// Modules held in a list, named "0", "1", ... (PyTorch's `nn.ModuleList`).
/// Reflection presents a stored array of modules as one of these, so
/// `let layer1: [BasicBlock]` has keys `layer1.0.conv1.weight`, .... Like
/// PyTorch's, it has no forward of its own: call its modules.
public final class ModuleList: Module, ListsOwnState {
    public var training = true
    /// The modules in order.
    public private(set) var modules: [any Module]

    public init(_ modules: [any Module]) { self.modules = modules }

    public var children: [(String, any Module)] { modules.enumerated().map { ("\($0.offset)", $0.element) } }

    /// Appends a module.
    public func append(_ module: any Module) { modules.append(module) }

    public func forward(_ input: Tensor) -> Tensor {
        strataFatal("ModuleList has no forward (as PyTorch's nn.ModuleList): call its modules one by one")
    }
}

/// Parameters held in a list, named "0", "1", ... (PyTorch's
/// `nn.ParameterList`). Reflection presents a stored `[Tensor]` as one of
/// these. It has no forward of its own.
public final class ParameterList: Module, ListsOwnState {
    public var training = true
    /// The parameters in order.
    public private(set) var tensors: [Tensor]

    public init(_ tensors: [Tensor]) { self.tensors = tensors }

    public var ownParameters: [(String, Tensor)] { tensors.enumerated().map { ("\($0.offset)", $0.element) } }

    /// PyTorch's lines, `(0): Parameter containing: [torch.float32 of size 2x3]`.
    public var extraRepresentation: String {
        tensors.enumerated().map { i, t in
            "  (\(i)): Parameter containing: [torch.float32 of size \(t.shape.map(String.init).joined(separator: "x"))]"
        }.joined(separator: "\n")
    }

    public func forward(_ input: Tensor) -> Tensor {
        strataFatal("ParameterList has no forward (as PyTorch's nn.ParameterList): use its tensors")
    }
}
