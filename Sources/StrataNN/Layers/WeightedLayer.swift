import StrataCore

/// Layers whose weight can be re-parametrised (`SpectralNorm`, `WeightNorm`):
/// their forward runs with a computed weight of the same shape in place of
/// the stored one.

/// A layer with a `weight` whose forward can run with a stand-in for it.
/// Linear, Conv1d, Conv2d and ConvTranspose2d conform; a custom layer
/// conforms by giving `forward(_:weight:)` (its `forward(x)` is then
/// `forward(x, weight: weight)`).
public protocol WeightedLayer: Module {
    /// The stored weight (`weight_orig` / `weight_v` under a wrapper).
    var weight: Tensor { get }
    /// `forward(x)` computed with `weight` (same shape) instead of the stored one.
    func forward(_ x: Tensor, weight: Tensor) -> Tensor
    /// The weight dimension spectral normalisation keeps as the rows of its
    /// matrix by default: 0 (output channels), 1 for a transposed
    /// convolution (whose weight has the input channels first), as PyTorch.
    var spectralNormDimension: Int { get }
}

extension WeightedLayer {
    public var spectralNormDimension: Int { 0 }
}

extension Linear: WeightedLayer {}
extension Conv1d: WeightedLayer {}
extension Conv2d: WeightedLayer {}
extension ConvTranspose2d: WeightedLayer {
    public var spectralNormDimension: Int { 1 }
}

/// A module printed under another type's name: PyTorch's weight hooks leave
/// the module's type (and so its printed line) unchanged.
package protocol PrintedTypeName {
    var printedTypeName: String { get }
}

/// The module's own state with `weight` replaced by `replacement` (the
/// parameters first, PyTorch's order after `del module.weight` and the
/// new registrations), plus the layer's buffers and `extraBuffers`.
func reparametrisedState(
    _ layer: any Module, replacing replacement: [(String, Tensor)], extraBuffers: [(String, Tensor)] = []
) -> (parameters: [(String, Tensor)], buffers: [(String, Tensor)]) {
    (layer.ownParameters.filter { $0.0 != "weight" } + replacement, layer.ownBuffers + extraBuffers)
}
