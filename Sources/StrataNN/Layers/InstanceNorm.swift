import StrataCore

/// Instance Normalization (Ulyanov et al. 2016, arXiv:1607.08022; PyTorch's
/// `nn.InstanceNorm2d`): statistics per (sample, channel) over H, W.
///
/// - Input [N, C, H, W]; output the same shape.
/// - PyTorch defaults: eps 1e-5, momentum 0.1, affine false,
///   trackRunningStats false. With `affine`, `weight` (ones) and `bias`
///   (zeros) of shape [C]. With `trackRunningStats`, buffers running_mean,
///   running_var (unbiased, averaged over the batch's instances) and
///   num_batches_tracked, used in eval mode; without it, eval mode also
///   normalises each instance by its own statistics. As in PyTorch,
///   num_batches_tracked stays 0 and `momentum: nil` leaves the running
///   statistics unchanged (PyTorch passes momentum 0 in that case).
///
/// Instance statistics are BatchNorm's kernel applied to the input seen as
/// [1, N*C, H*W]: each (sample, channel) pair is a channel of that view.
public final class InstanceNorm2d: Module, ListsOwnState {
    public var training = true
    public let numFeatures: Int
    public var eps: Float
    public var momentum: Float?
    public let affine: Bool
    public let trackRunningStats: Bool
    public let weight: Tensor?
    public let bias: Tensor?
    public let runningMean: Tensor?
    public let runningVar: Tensor?
    public let numBatchesTracked: Tensor?

    public init(
        _ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = false,
        trackRunningStats: Bool = false
    ) {
        strataCheck(numFeatures > 0, "InstanceNorm2d: numFeatures must be positive, got \(numFeatures)")
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.trackRunningStats = trackRunningStats
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

    public var extraRepresentation: String {
        normLine(numFeatures, eps: eps, momentum: momentum, affine: affine, trackRunningStats: trackRunningStats)
    }

    /// Throws unless `shape` is [N, C, H, W], or when instance statistics
    /// would be computed from one value (H*W == 1), as PyTorch.
    public func validate(inputShape shape: [Int]) throws {
        let name = "InstanceNorm2d(\(numFeatures))"
        guard shape.count == 4, shape[1] == numFeatures else {
            throw StrataError.shapeMismatch(op: name, expected: "[N, \(numFeatures), H, W]", actual: shape)
        }
        if (training || !trackRunningStats) && shape[2] * shape[3] <= 1 {
            throw StrataError.invalidArgument(
                "\(name): expected more than 1 spatial element when training, got input of shape \(shape)")
        }
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        let (n, c, s) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let name = "InstanceNorm2d(\(numFeatures))"
        if !training, trackRunningStats, let rm = runningMean, let rv = runningVar {
            return fixedStatisticsNorm(
                x, geometry: ChannelGeometry(outer: n, channels: c, inner: s),
                weight: weight, bias: bias, mean: rm.data, variance: rv.data, eps: eps, op: name)
        }
        let (y, mean, variance) = batchStatisticsNorm(
            x, geometry: ChannelGeometry(outer: 1, channels: n * c, inner: s), affineChannels: c,
            weight: weight, bias: bias, eps: eps, renorm: nil, op: name)
        if training, trackRunningStats, let rm = runningMean, let rv = runningVar {
            // Average the instances' statistics over the batch, per channel.
            var mu = [Double](repeating: 0, count: c), v = [Double](repeating: 0, count: c)
            for k in 0..<(n * c) { mu[k % c] += Double(mean[k]) / Double(n); v[k % c] += Double(variance[k]) / Double(n) }
            // As PyTorch: num_batches_tracked is not incremented, and momentum nil means no update.
            updateRunningStatistics(
                runningMean: rm, runningVar: rv, numBatchesTracked: nil,
                momentum: momentum ?? 0, mean: mu, variance: v, count: s, unbiased: true)
        }
        return y
    }
}
