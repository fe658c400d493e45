import StrataCore

/// Instance Normalization over [N, C, L] input (PyTorch's
/// `nn.InstanceNorm1d`): statistics per (sample, channel) over L.
///
/// Same defaults, parameters (weight, bias [C] with `affine`) and buffers
/// (running_mean, running_var, num_batches_tracked with
/// `trackRunningStats`) as `InstanceNorm2d`, which does the work on the
/// input seen as [N, C, L, 1]; the keys are PyTorch's.
public final class InstanceNorm1d: Module, ListsOwnState {
    /// The 2-D layer on the [N, C, L, 1] view; holds the tensors.
    private let core: InstanceNorm2d

    public init(
        _ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = false,
        trackRunningStats: Bool = false
    ) {
        strataCheck(numFeatures > 0, "InstanceNorm1d: numFeatures must be positive, got \(numFeatures)")
        core = InstanceNorm2d(numFeatures, eps: eps, momentum: momentum, affine: affine, trackRunningStats: trackRunningStats)
    }

    public var training: Bool {
        get { core.training }
        set { core.training = newValue }
    }
    public var numFeatures: Int { core.numFeatures }
    public var eps: Float {
        get { core.eps }
        set { core.eps = newValue }
    }
    public var momentum: Float? {
        get { core.momentum }
        set { core.momentum = newValue }
    }
    public var affine: Bool { core.affine }
    public var trackRunningStats: Bool { core.trackRunningStats }
    public var weight: Tensor? { core.weight }
    public var bias: Tensor? { core.bias }
    public var runningMean: Tensor? { core.runningMean }
    public var runningVar: Tensor? { core.runningVar }
    public var numBatchesTracked: Tensor? { core.numBatchesTracked }

    public var ownParameters: [(String, Tensor)] { core.ownParameters }
    public var ownBuffers: [(String, Tensor)] { core.ownBuffers }
    /// No children: the 2-D core is an implementation detail, its tensors are this layer's.
    public var children: [(String, any Module)] { [] }
    public var extraRepresentation: String { core.extraRepresentation }

    /// Throws unless `shape` is [N, C, L], or when instance statistics
    /// would be computed from one value (L == 1), as PyTorch.
    public func validate(inputShape shape: [Int]) throws {
        let name = "InstanceNorm1d(\(numFeatures))"
        guard shape.count == 3, shape[1] == numFeatures else {
            throw StrataError.shapeMismatch(op: name, expected: "[N, \(numFeatures), L]", actual: shape)
        }
        if (training || !trackRunningStats) && shape[2] <= 1 {
            throw StrataError.invalidArgument(
                "\(name): expected more than 1 spatial element when training, got input of shape \(shape)")
        }
    }

    /// [N, C, L] -> [N, C, L].
    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        let y = core.forward(x.reshaped([x.shape[0], x.shape[1], x.shape[2], 1]))
        return y.reshaped(x.shape)
    }
}
