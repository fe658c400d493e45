import StrataCore

/// y = x W^T + b (PyTorch's `nn.Linear`).
///
/// - Input: [N, inFeatures]. Output: [N, outFeatures].
/// - `weight`: [outFeatures, inFeatures]; `bias`: [outFeatures].
/// - Initialisation as PyTorch: weight ~ U(-1/sqrt(in), 1/sqrt(in))
///   (kaiming_uniform with a = sqrt(5)), and the same bound for the bias.
///
/// Forward and backward are one sgemm each per product; the weight
/// gradient accumulates straight into `weight.grad` (beta = 1).
public final class Linear: Module, ListsOwnState {
    public var training = true
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: RandomGenerator = .global) {
        strataCheck(inFeatures > 0 && outFeatures > 0, "Linear: features must be positive, got \(inFeatures) -> \(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Tensor.rand([outFeatures, inFeatures], low: -bound, high: bound, generator: generator, requiresGrad: true)
        self.bias = bias ? Tensor.rand([outFeatures], low: -bound, high: bound, generator: generator, requiresGrad: true) : nil
    }

    public var ownParameters: [(String, Tensor)] {
        var p = [("weight", weight)]
        if let b = bias { p.append(("bias", b)) }
        return p
    }

    public var extraRepresentation: String {
        "in_features=\(inFeatures), out_features=\(outFeatures), bias=\(PythonRepr.bool(bias != nil))"
    }

    /// Throws when `shape` is not [N, inFeatures].
    public func validate(inputShape shape: [Int]) throws {
        guard shape.count == 2, shape[1] == inFeatures else {
            throw StrataError.shapeMismatch(op: "Linear(\(inFeatures), \(outFeatures))", expected: "[N, \(inFeatures)]", actual: shape)
        }
    }

    public func forward(_ x: Tensor) -> Tensor { forward(x, weight: weight) }

    /// The forward with `weight` (same shape) in place of the layer's own
    /// (`SpectralNorm`, `WeightNorm`).
    public func forward(_ x: Tensor, weight: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return linear(x, weight: weight, bias: bias)
    }
}
