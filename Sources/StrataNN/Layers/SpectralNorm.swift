import StrataCore

/// Spectral normalization (Miyato et al. 2018, arXiv:1802.05957; PyTorch's
/// `torch.nn.utils.spectral_norm`, the hook form): the layer's weight is
/// divided by an estimate of its largest singular value, which bounds the
/// layer's Lipschitz constant (the GAN discriminator use).
///
///     W     = weight_orig seen as a matrix [h, w]: dimension `dim` as rows,
///             the others flattened in order as columns
///     v     = normalize(W^T u),  u = normalize(W v)    (train mode only)
///     sigma = u^T W v,           weight = weight_orig / sigma
///
/// - `normalize(x) = x / max(||x||, eps)`. The power iteration runs
///   `nPowerIterations` times per forward in train mode, without gradients,
///   and updates the buffers `u` and `v` in place; eval mode reuses them.
/// - Gradients flow through sigma with u and v held constant, as PyTorch's.
/// - Keys, PyTorch's after `spectral_norm(layer)`: the layer's other
///   parameters (`bias`), `weight_orig`, then buffers `weight_u` [h] and
///   `weight_v` [w]. No extra nesting level: `Sequential(spectralNorm(conv))`
///   has keys `0.bias`, `0.weight_orig`, `0.weight_u`, `0.weight_v`, and
///   prints as the wrapped layer, as PyTorch's does.
/// - `weight_orig` is the layer's own weight tensor; `weight` is the
///   normalised weight from the current u and v.
///
///     let d = Sequential(spectralNorm(Conv2d(3, 64, kernelSize: 4, stride: 2, padding: 1)), LeakyReLU(negativeSlope: 0.2))
public final class SpectralNorm<Layer: WeightedLayer>: Module, ListsOwnState, PrintedTypeName, ValidatesInput {
    /// The wrapped layer; its `weight` is `weight_orig`.
    public let layer: Layer
    public let nPowerIterations: Int
    public let eps: Float
    /// The weight dimension that gives the matrix rows.
    public let dim: Int
    /// Left singular vector estimate [h] (buffer `weight_u`).
    public let u: Tensor
    /// Right singular vector estimate [w] (buffer `weight_v`).
    public let v: Tensor
    /// For each flat element of the weight, its (row, column) in the matrix view.
    private let row: [Int], column: [Int]

    /// Wraps `layer`; `dim` nil is PyTorch's default (0, or 1 for
    /// ConvTranspose2d). u and v start as normalised N(0, 1) draws from
    /// `generator` (u first), as PyTorch's.
    public init(
        _ layer: Layer, nPowerIterations: Int = 1, eps: Float = 1e-12, dim: Int? = nil,
        generator: RandomGenerator = .global
    ) {
        let shape = layer.weight.shape
        let d = dim ?? layer.spectralNormDimension
        let name = "spectralNorm(\(type(of: layer)))"
        strataCheck(nPowerIterations > 0, "\(name): nPowerIterations must be positive, got \(nPowerIterations)")
        strataCheck(eps > 0, "\(name): eps must be positive, got \(eps)")
        strataCheck(d >= 0 && d < shape.count, "\(name): dim \(d) is not a dimension of the weight \(shape)")
        self.layer = layer
        self.nPowerIterations = nPowerIterations
        self.eps = eps
        self.dim = d
        (row, column) = matrixView(shape, rowDimension: d)
        let h = shape[d], w = shape.reduce(1, *) / shape[d]
        u = Tensor.randn([h], generator: generator)
        v = Tensor.randn([w], generator: generator)
        normalizeInPlace(u, eps: eps)
        normalizeInPlace(v, eps: eps)
    }

    public var training: Bool {
        get { layer.training }
        set { layer.training = newValue }
    }

    /// `weight_orig`: the layer's own weight, the trained tensor.
    public var weightOrig: Tensor { layer.weight }

    public var ownParameters: [(String, Tensor)] {
        reparametrisedState(layer, replacing: [("weight_orig", layer.weight)]).parameters
    }
    public var ownBuffers: [(String, Tensor)] {
        reparametrisedState(layer, replacing: [], extraBuffers: [("weight_u", u), ("weight_v", v)]).buffers
    }
    public var children: [(String, any Module)] { layer.children }
    public var extraRepresentation: String { layer.extraRepresentation }
    package var printedTypeName: String { String(describing: type(of: layer)) }

    /// The wrapped layer's input check, if it has one.
    public func validate(inputShape shape: [Int]) throws {
        try (layer as? any ValidatesInput)?.validate(inputShape: shape)
    }

    /// weight_orig / sigma from the current u and v (no power iteration).
    public var weight: Tensor { normalizedWeight() }

    /// The largest singular value estimate u^T W v from the current u and v.
    public var sigma: Float { withNoGrad { sigmaTensor().item } }

    /// In train mode, power iteration first (u, v updated); then the
    /// layer's forward with weight_orig / sigma.
    public func forward(_ x: Tensor) -> Tensor {
        if training { powerIteration() }
        return layer.forward(x, weight: normalizedWeight())
    }

    /// `nPowerIterations` steps v = normalize(W^T u), u = normalize(W v), in place.
    func powerIteration() {
        let w = layer.weight.data, pu = u.data, pv = v.data
        let count = row.count, h = u.count, cols = v.count
        for _ in 0..<nPowerIterations {
            var tv = [Double](repeating: 0, count: cols)
            for k in 0..<count { tv[column[k]] += Double(w[k]) * Double(pu[row[k]]) }
            for j in 0..<cols { pv[j] = Float(tv[j]) }
            normalizeInPlace(v, eps: eps)
            var tu = [Double](repeating: 0, count: h)
            for k in 0..<count { tu[row[k]] += Double(w[k]) * Double(pv[column[k]]) }
            for i in 0..<h { pu[i] = Float(tu[i]) }
            normalizeInPlace(u, eps: eps)
        }
    }

    /// sigma = sum_k W_k u_row(k) v_col(k) as a graph node of weight_orig
    /// (u v^T is a constant copy, so later in-place updates do not reach it).
    private func sigmaTensor() -> Tensor {
        let outer = Tensor(uninitialized: layer.weight.shape)
        let pu = u.data, pv = v.data, po = outer.data
        for k in 0..<row.count { po[k] = pu[row[k]] * pv[column[k]] }
        return (layer.weight * outer).sum()
    }

    private func normalizedWeight() -> Tensor { layer.weight / sigmaTensor() }
}

/// `SpectralNorm(layer, ...)`, spelled as PyTorch's `spectral_norm(module)`.
public func spectralNorm<Layer: WeightedLayer>(
    _ layer: Layer, nPowerIterations: Int = 1, eps: Float = 1e-12, dim: Int? = nil, generator: RandomGenerator = .global
) -> SpectralNorm<Layer> {
    SpectralNorm(layer, nPowerIterations: nPowerIterations, eps: eps, dim: dim, generator: generator)
}

/// For a tensor of `shape` seen as a matrix with dimension `d` as rows and
/// the other dimensions flattened in order as columns: each flat element's
/// row and column (PyTorch's `permute(d, others...).reshape(h, -1)`).
func matrixView(_ shape: [Int], rowDimension d: Int) -> (row: [Int], column: [Int]) {
    let count = shape.reduce(1, *)
    let inner = shape[(d + 1)...].reduce(1, *), extent = shape[d]
    var row = [Int](repeating: 0, count: count), column = row
    for k in 0..<count {
        let outerIndex = k / (extent * inner), r = (k / inner) % extent, innerIndex = k % inner
        row[k] = r
        column[k] = outerIndex * inner + innerIndex
    }
    return (row, column)
}

/// x / max(||x||, eps) in place (PyTorch's `F.normalize(x, dim=0, eps=eps)`).
func normalizeInPlace(_ x: Tensor, eps: Float) {
    let p = x.data
    var s: Double = 0
    for i in 0..<x.count { s += Double(p[i]) * Double(p[i]) }
    let scale = 1 / max(Float(s.squareRoot()), eps)
    for i in 0..<x.count { p[i] *= scale }
}
