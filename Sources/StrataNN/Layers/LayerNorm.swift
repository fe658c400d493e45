import StrataCore

/// Layer Normalization (Ba, Kiros & Hinton 2016, arXiv:1607.06450;
/// PyTorch's `nn.LayerNorm`): statistics per sample over the trailing
/// `normalizedShape` dimensions, which are contiguous, so each sample is one
/// row of the row kernels. Independent of the batch size; the same in train
/// and eval mode.
///
/// - Input [*, normalizedShape...]; output the same shape.
/// - `weight` (ones) and `bias` (zeros) of shape `normalizedShape` when
///   `elementwiseAffine`: one gamma and beta per normalised element.
public final class LayerNorm: Module, ListsOwnState {
    public var training = true
    public let normalizedShape: [Int]
    public var eps: Float
    public let elementwiseAffine: Bool
    public let weight: Tensor?
    public let bias: Tensor?

    public init(normalizedShape: [Int], eps: Float = 1e-5, elementwiseAffine: Bool = true) {
        strataCheck(
            !normalizedShape.isEmpty && normalizedShape.allSatisfy { $0 > 0 },
            "LayerNorm: normalizedShape must be non-empty and positive, got \(normalizedShape)")
        self.normalizedShape = normalizedShape
        self.eps = eps
        self.elementwiseAffine = elementwiseAffine
        weight = elementwiseAffine ? Tensor.ones(normalizedShape, requiresGrad: true) : nil
        bias = elementwiseAffine ? Tensor.zeros(normalizedShape, requiresGrad: true) : nil
    }

    public var ownParameters: [(String, Tensor)] {
        guard let w = weight, let b = bias else { return [] }
        return [("weight", w), ("bias", b)]
    }

    public var extraRepresentation: String {
        "\(PythonRepr.tuple(normalizedShape)), eps=\(PythonRepr.float(eps)), "
            + "elementwise_affine=\(PythonRepr.bool(elementwiseAffine)), bias=\(PythonRepr.bool(elementwiseAffine))"
    }

    /// Throws unless `shape` ends with `normalizedShape`.
    public func validate(inputShape shape: [Int]) throws {
        let k = normalizedShape.count
        guard shape.count >= k, Array(shape.suffix(k)) == normalizedShape else {
            throw StrataError.shapeMismatch(
                op: "LayerNorm(\(normalizedShape))",
                expected: "[*, \(normalizedShape.map(String.init).joined(separator: ", "))]", actual: shape)
        }
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        let m = normalizedShape.reduce(1, *)
        let layout = RowLayout(rows: x.count / m, length: m, segment: 1, groups: 1)
        return rowNorm(x, layout: layout, weight: weight, bias: bias, eps: eps, op: "LayerNorm(\(normalizedShape))")
    }
}

/// Group Normalization (Wu & He 2018, arXiv:1803.08494; PyTorch's
/// `nn.GroupNorm`): channels split into `numGroups` groups; statistics per
/// (sample, group) over the group's channels and spatial positions, which
/// are contiguous in NCHW. Independent of the batch size; the same in train
/// and eval mode. GroupNorm with one group normalises like LayerNorm over
/// (C, H, W) (but with per-channel affine); with C groups, like InstanceNorm.
///
/// - Input [N, C, *]; output the same shape.
/// - `weight` (ones) and `bias` (zeros) of shape [C] when `affine`.
public final class GroupNorm: Module, ListsOwnState {
    public var training = true
    public let numGroups: Int
    public let numChannels: Int
    public var eps: Float
    public let affine: Bool
    public let weight: Tensor?
    public let bias: Tensor?

    public init(numGroups: Int, numChannels: Int, eps: Float = 1e-5, affine: Bool = true) {
        strataCheck(
            numGroups > 0 && numChannels > 0 && numChannels % numGroups == 0,
            "GroupNorm: numChannels (\(numChannels)) must be a positive multiple of numGroups (\(numGroups))")
        self.numGroups = numGroups
        self.numChannels = numChannels
        self.eps = eps
        self.affine = affine
        weight = affine ? Tensor.ones([numChannels], requiresGrad: true) : nil
        bias = affine ? Tensor.zeros([numChannels], requiresGrad: true) : nil
    }

    public var ownParameters: [(String, Tensor)] {
        guard let w = weight, let b = bias else { return [] }
        return [("weight", w), ("bias", b)]
    }

    public var extraRepresentation: String {
        "\(numGroups), \(numChannels), eps=\(PythonRepr.float(eps)), affine=\(PythonRepr.bool(affine)), bias=\(PythonRepr.bool(affine))"
    }

    /// Throws unless `shape` is [N, numChannels, *].
    public func validate(inputShape shape: [Int]) throws {
        guard shape.count >= 2, shape[1] == numChannels else {
            throw StrataError.shapeMismatch(
                op: "GroupNorm(\(numGroups), \(numChannels))",
                expected: "[N, \(numChannels), *]", actual: shape)
        }
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        let spatial = x.shape[2...].reduce(1, *)
        let layout = RowLayout(
            rows: x.shape[0] * numGroups, length: numChannels / numGroups * spatial,
            segment: spatial, groups: numGroups)
        return rowNorm(x, layout: layout, weight: weight, bias: bias, eps: eps, op: "GroupNorm(\(numGroups), \(numChannels))")
    }
}
