import StrataCore

/// Weight normalization (Salimans & Kingma 2016, arXiv:1602.07868;
/// PyTorch's `torch.nn.utils.weight_norm`, the hook form): the weight is
/// split into a direction `v` and a magnitude `g`,
///
///     weight = g * v / ||v||
///
/// with the norm taken over every dimension but `dim`, per slice along
/// `dim` (dim 0: one norm per output channel). `dim: nil` is one norm over
/// the whole tensor.
///
/// - `g` (`weight_g`): shape of the weight with every dimension but `dim`
///   set to 1 ([out, 1, 1, 1] for a Conv2d with dim 0; [] for dim nil),
///   initialised to the norm of the layer's weight, so the layer computes
///   the same function at first.
/// - `v` (`weight_v`): the layer's own weight tensor.
/// - Keys, PyTorch's after `weight_norm(layer)`: the layer's other
///   parameters (`bias`), `weight_g`, `weight_v`; no extra nesting level,
///   printed as the wrapped layer.
public final class WeightNorm<Layer: WeightedLayer>: Module, ListsOwnState, PrintedTypeName, ValidatesInput {
    /// The wrapped layer; its `weight` is `weight_v`.
    public let layer: Layer
    /// The dimension kept by the norm (nil: the whole tensor).
    public let dim: Int?
    /// The magnitude (parameter `weight_g`).
    public let g: Tensor

    /// Wraps `layer`; `dim` 0 is PyTorch's default for every layer type.
    public init(_ layer: Layer, dim: Int? = 0) {
        let shape = layer.weight.shape
        if let d = dim {
            strataCheck(d >= 0 && d < shape.count, "weightNorm(\(type(of: layer))): dim \(d) is not a dimension of the weight \(shape)")
        }
        self.layer = layer
        self.dim = dim
        g = withNoGrad { normExceptDim(layer.weight, dim) }
        g.requiresGrad = true
    }

    public var training: Bool {
        get { layer.training }
        set { layer.training = newValue }
    }

    /// `weight_v`: the layer's own weight, the direction.
    public var v: Tensor { layer.weight }

    public var ownParameters: [(String, Tensor)] {
        reparametrisedState(layer, replacing: [("weight_g", g), ("weight_v", layer.weight)]).parameters
    }
    public var ownBuffers: [(String, Tensor)] { layer.ownBuffers }
    public var children: [(String, any Module)] { layer.children }
    public var extraRepresentation: String { layer.extraRepresentation }
    package var printedTypeName: String { String(describing: type(of: layer)) }

    /// The wrapped layer's input check, if it has one.
    public func validate(inputShape shape: [Int]) throws {
        try (layer as? any ValidatesInput)?.validate(inputShape: shape)
    }

    /// g * v / ||v||, a graph node of g and v.
    public var weight: Tensor {
        let v = layer.weight
        let norm = normExceptDim(v, dim)
        // A scalar g (dim nil) broadcasts as is; otherwise g and the norm share a shape.
        return v * (g / norm)
    }

    public func forward(_ x: Tensor) -> Tensor { layer.forward(x, weight: weight) }
}

/// `WeightNorm(layer, dim:)`, spelled as PyTorch's `weight_norm(module)`.
public func weightNorm<Layer: WeightedLayer>(_ layer: Layer, dim: Int? = 0) -> WeightNorm<Layer> {
    WeightNorm(layer, dim: dim)
}

/// The 2-norm of `v` over every dimension but `dim`, kept as extent 1
/// (PyTorch's `norm_except_dim(v, 2, dim)`); over everything, shape [], for nil.
func normExceptDim(_ v: Tensor, _ dim: Int?) -> Tensor {
    var squares = v * v
    guard let d = dim else { return squares.sum().sqrt() }
    for axis in 0..<v.shape.count where axis != d { squares = squares.sum(axis: axis, keepingDims: true) }
    return squares.sqrt()
}
