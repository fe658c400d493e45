import StrataCore

/// Batch Normalization (Ioffe & Szegedy 2015, arXiv:1502.03167), with
/// PyTorch's semantics, names, defaults and state_dict keys.
///
///     y = (x - mean) / sqrt(var + eps) * weight + bias     per channel
///
/// Conventions (see Docs/Normalization.md for other frameworks):
/// - `momentum` is the weight of the NEW batch:
///   running = (1 - momentum) * running + momentum * batch. A framework that
///   speaks of a decay d (Keras 0.99, Caffe 0.999, the seed article's 0.9)
///   means momentum = 1 - d. `momentum: nil` is a cumulative moving average
///   (factor 1 / num_batches_tracked).
/// - Normalisation uses the biased batch variance (divide by m); the
///   running variance stores the UNBIASED one (m / (m - 1)) unless
///   `unbiasedRunningVariance` is false (the seed article, Keras, S4TF).
/// - Train mode normalises with batch statistics and updates the running
///   ones (num_batches_tracked += 1); eval mode uses the running ones, or
///   batch statistics when `trackRunningStats` is false.
/// - `freezeStatistics` keeps the running statistics fixed and uses them
///   even in train mode (fine-tuning); the affine parameters still train.
///
/// Keys, in PyTorch's order: weight, bias (when affine), running_mean,
/// running_var, num_batches_tracked (when tracking). PyTorch stores
/// num_batches_tracked as int64; here it is a one-element Float scalar
/// tensor (exact up to 2^24 batches), and checkpoint code maps the dtype.
public class BatchNormBase: Module, ListsOwnState {
    public var training = true
    /// Number of channels C.
    public let numFeatures: Int
    /// Added to the variance before the square root.
    public var eps: Float
    /// Weight of the new batch in the running averages; nil = cumulative average.
    public var momentum: Float?
    public let affine: Bool
    public let trackRunningStats: Bool
    /// Store the unbiased batch variance in running_var (PyTorch, default) or the biased one.
    public var unbiasedRunningVariance: Bool
    /// Use and keep the running statistics even in train mode (fine-tuning).
    public var freezeStatistics = false
    /// SyncBatchNorm: when set (and its world is larger than one process),
    /// batch statistics and the backward's gradient sums are pooled over
    /// every process of the reducer's group (StrataDistributed's
    /// `SyncBatchNorm.convert(_:group:)` sets it). The layer keeps its
    /// object, keys and state; nil (the default) is per-process BatchNorm.
    /// Eval mode and `freezeStatistics` never communicate.
    public var statisticsReducer: (any ChannelStatisticsReducer)?
    /// Whether batch statistics are pooled across processes on the next forward.
    var synchronizes: Bool { (statisticsReducer?.worldSize ?? 1) > 1 }
    /// gamma [C], ones; nil unless affine.
    public let weight: Tensor?
    /// beta [C], zeros; nil unless affine.
    public let bias: Tensor?
    /// [C], zeros; nil unless trackRunningStats.
    public let runningMean: Tensor?
    /// [C], ones; nil unless trackRunningStats.
    public let runningVar: Tensor?
    /// Scalar count of training batches seen; nil unless trackRunningStats.
    public let numBatchesTracked: Tensor?

    /// Layer name for messages, e.g. "BatchNorm2d".
    public var typeName: String { "BatchNorm" }
    /// "BatchNorm2d(64)", built once (forward runs often).
    lazy var layerName = "\(typeName)(\(numFeatures))"
    /// Whether the layer accepts inputs of `rank` dimensions ([N, C] and [N, C, L] for BatchNorm1d).
    func acceptsRank(_ rank: Int) -> Bool { rank >= 2 && rank <= 4 }
    var shapeDescription: String { "[N, \(numFeatures), ...]" }

    init(
        numFeatures: Int, eps: Float, momentum: Float?, affine: Bool, trackRunningStats: Bool,
        unbiasedRunningVariance: Bool
    ) {
        strataCheck(numFeatures > 0, "BatchNorm: numFeatures must be positive, got \(numFeatures)")
        strataCheck(eps >= 0, "BatchNorm: eps must be non-negative, got \(eps)")
        if let m = momentum { strataCheck(m >= 0 && m <= 1, "BatchNorm: momentum must be in [0, 1] or nil, got \(m)") }
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.trackRunningStats = trackRunningStats
        self.unbiasedRunningVariance = unbiasedRunningVariance
        weight = affine ? Tensor.ones([numFeatures], requiresGrad: true) : nil
        bias = affine ? Tensor.zeros([numFeatures], requiresGrad: true) : nil
        runningMean = trackRunningStats ? Tensor.zeros([numFeatures]) : nil
        runningVar = trackRunningStats ? Tensor.ones([numFeatures]) : nil
        numBatchesTracked = trackRunningStats ? Tensor.scalar(0) : nil
    }

    public var ownParameters: [(String, Tensor)] {
        guard let w = weight, let b = bias else { return [] }
        return [("weight", w), ("bias", b)]
    }

    public var ownBuffers: [(String, Tensor)] {
        guard let m = runningMean, let v = runningVar, let n = numBatchesTracked else { return [] }
        return [("running_mean", m), ("running_var", v), ("num_batches_tracked", n)]
    }

    /// PyTorch's line (`64, eps=1e-05, momentum=0.1, affine=True, bias=True,
    /// track_running_stats=True`), then Strata's options where they differ
    /// from PyTorch's behaviour.
    public var extraRepresentation: String {
        normLine(numFeatures, eps: eps, momentum: momentum, affine: affine, trackRunningStats: trackRunningStats)
            + (unbiasedRunningVariance ? "" : ", unbiased_running_variance=False")
            + (freezeStatistics ? ", freeze_statistics=True" : "")
    }

    /// Running mean 0, running variance 1, num_batches_tracked 0.
    public func resetRunningStats() {
        runningMean?.fill(0)
        runningVar?.fill(1)
        numBatchesTracked?.fill(0)
    }

    /// Whether the next forward normalises with batch statistics.
    public var usesBatchStatistics: Bool {
        !trackRunningStats || (training && !freezeStatistics)
    }

    /// Whether the next forward updates the running statistics.
    public var updatesRunningStatistics: Bool {
        trackRunningStats && training && !freezeStatistics
    }

    /// Throws when `shape` has the wrong rank or channel count, or when a
    /// forward with batch statistics would see one value per channel
    /// (PyTorch: "Expected more than 1 value per channel when training").
    public func validate(inputShape shape: [Int]) throws {
        guard acceptsRank(shape.count), shape[1] == numFeatures else {
            throw StrataError.shapeMismatch(op: layerName, expected: shapeDescription, actual: shape)
        }
        // As PyTorch, whenever batch statistics are used (also in eval mode
        // without running statistics).
        // Under SyncBatchNorm the count over all processes is checked by the op.
        if usesBatchStatistics && !synchronizes {
            let perChannel = shape.count == 0 ? 0 : shape.reduce(1, *) / numFeatures
            // An empty batch (0 values per channel) is allowed, as in PyTorch.
            if perChannel == 1 {
                throw StrataError.invalidArgument(
                    "\(layerName): expected more than 1 value per channel when training, got input of shape \(shape)")
            }
        }
    }

    /// The input as [N, C, inner].
    func geometry(_ shape: [Int]) -> ChannelGeometry {
        ChannelGeometry(outer: shape[0], channels: shape[1], inner: shape[2...].reduce(1, *))
    }

    /// Batch Renormalization's correction, or nil for plain BatchNorm.
    func renormCorrection() -> RenormCorrection? { nil }

    /// Input [N, C] or [N, C, L] (1d), [N, C, H, W] (2d); output the same shape.
    public func forward(_ x: Tensor) -> Tensor { forward(x, epilogue: .none) }

    /// The forward with `epilogue` (residual add, ReLU) fused into the
    /// output pass; SyncBatchNorm and an empty batch apply it as separate ops.
    func forward(_ x: Tensor, epilogue: NormEpilogue) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        let g = geometry(x.shape)
        let name = layerName
        if usesBatchStatistics && g.perChannel == 0 {
            // An empty batch, as PyTorch: an empty output (and zero parameter
            // gradients), running statistics unchanged, the batch counted.
            if updatesRunningStatistics { numBatchesTracked?.data[0] += 1 }
            let zero = Tensor(zeros: [numFeatures]), one = Tensor.ones([numFeatures])
            return withExtendedLifetime((zero, one)) {
                fixedStatisticsNorm(
                    x, geometry: g, weight: weight, bias: bias,
                    mean: zero.data, variance: one.data, eps: eps, epilogue: epilogue, op: name)
            }
        }
        if usesBatchStatistics {
            let update = updatesRunningStatistics
            let renorm = update ? renormCorrection() : nil
            if let reducer = statisticsReducer, synchronizes {
                let (y, mean, variance, count) = syncBatchStatisticsNorm(
                    x, geometry: g, weight: weight, bias: bias, eps: eps, renorm: renorm,
                    shift: runningMean?.scalars, reducer: reducer, op: name)
                if update, let rm = runningMean, let rv = runningVar {
                    updateRunningStatistics(
                        runningMean: rm, runningVar: rv, numBatchesTracked: numBatchesTracked, momentum: momentum,
                        mean: mean, variance: variance, count: count, unbiased: unbiasedRunningVariance)
                }
                return epilogue.applied(to: y, op: name)
            }
            let (y, mean, variance) = batchStatisticsNorm(
                x, geometry: g, affineChannels: numFeatures, weight: weight, bias: bias,
                eps: eps, renorm: renorm, epilogue: epilogue, op: name)
            if update, let rm = runningMean, let rv = runningVar {
                updateRunningStatistics(
                    runningMean: rm, runningVar: rv, numBatchesTracked: numBatchesTracked, momentum: momentum,
                    mean: mean.array.map(Double.init), variance: variance.array.map(Double.init),
                    count: g.perChannel, unbiased: unbiasedRunningVariance)
            }
            return y
        }
        guard let rm = runningMean, let rv = runningVar else { strataFatal("\(name): no running statistics") }
        return fixedStatisticsNorm(
            x, geometry: g, weight: weight, bias: bias,
            mean: rm.data, variance: rv.data, eps: eps, epilogue: epilogue, op: name)
    }
}

/// BatchNorm over [N, C] or [N, C, L] input, statistics per channel C
/// (PyTorch's `nn.BatchNorm1d`).
public final class BatchNorm1d: BatchNormBase {
    /// - Parameters: as PyTorch: eps 1e-5, momentum 0.1 (weight of the new
    ///   batch; nil = cumulative average), affine, trackRunningStats.
    ///   The seed article's convention (decay 0.9, eps 1e-6, biased variance
    ///   stored) is `BatchNorm1d(c, eps: 1e-6, momentum: 0.1, unbiasedRunningVariance: false)`.
    public init(
        _ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
        trackRunningStats: Bool = true, unbiasedRunningVariance: Bool = true
    ) {
        super.init(
            numFeatures: numFeatures, eps: eps, momentum: momentum, affine: affine,
            trackRunningStats: trackRunningStats, unbiasedRunningVariance: unbiasedRunningVariance)
    }
    override public var typeName: String { "BatchNorm1d" }
    override func acceptsRank(_ rank: Int) -> Bool { rank == 2 || rank == 3 }
    override var shapeDescription: String { "[N, \(numFeatures)] or [N, \(numFeatures), L]" }
}

/// BatchNorm over [N, C, H, W] input, statistics per channel over N, H, W
/// (PyTorch's `nn.BatchNorm2d`).
public final class BatchNorm2d: BatchNormBase {
    /// - Parameters: as `BatchNorm1d`.
    public init(
        _ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
        trackRunningStats: Bool = true, unbiasedRunningVariance: Bool = true
    ) {
        super.init(
            numFeatures: numFeatures, eps: eps, momentum: momentum, affine: affine,
            trackRunningStats: trackRunningStats, unbiasedRunningVariance: unbiasedRunningVariance)
    }
    override public var typeName: String { "BatchNorm2d" }
    override func acceptsRank(_ rank: Int) -> Bool { rank == 4 }
    override var shapeDescription: String { "[N, \(numFeatures), H, W]" }
}

/// The configuration line PyTorch's BatchNorm and InstanceNorm share.
func normLine(_ numFeatures: Int, eps: Float, momentum: Float?, affine: Bool, trackRunningStats: Bool) -> String {
    "\(numFeatures), eps=\(PythonRepr.float(eps)), momentum=\(PythonRepr.float(momentum)), "
        + "affine=\(PythonRepr.bool(affine)), bias=\(PythonRepr.bool(affine)), track_running_stats=\(PythonRepr.bool(trackRunningStats))"
}
