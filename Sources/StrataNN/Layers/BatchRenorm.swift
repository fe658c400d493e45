import StrataCore

/// Batch Renormalization (Ioffe 2017, arXiv:1702.03275).
///
/// In train mode, with sigma_B = sqrt(var_B + eps) and
/// sigma = sqrt(running_var + eps):
///
///     r = clip(sigma_B / sigma, 1/rmax, rmax)
///     d = clip((mu_B - running_mean) / sigma, -dmax, dmax)
///     y = weight * ((x - mu_B) / sigma_B * r + d) + bias
///
/// r and d are constants for backpropagation (no gradient through them),
/// so dx is BatchNorm's backward with gamma*r in place of gamma, and
/// dweight = r * sum(dy * xhat) + d * sum(dy). r and d use the running
/// statistics from before this batch's update; the running statistics are
/// then updated exactly as in BatchNorm. With rmax = 1 and dmax = 0 the
/// layer is BatchNorm; the paper starts there and relaxes to rmax = 3,
/// dmax = 5: set `rmax` and `dmax` between steps (or call
/// `setSchedule(step:)`) to schedule them. Eval mode uses the running
/// statistics, as BatchNorm. Keys are BatchNorm's.
public class BatchRenormBase: BatchNormBase {
    /// Upper clip for r (>= 1).
    public var rmax: Float { didSet { strataCheck(rmax >= 1, "\(typeName): rmax must be >= 1, got \(rmax)") } }
    /// Clip for |d| (>= 0).
    public var dmax: Float { didSet { strataCheck(dmax >= 0, "\(typeName): dmax must be >= 0, got \(dmax)") } }

    init(numFeatures: Int, eps: Float, momentum: Float?, affine: Bool, rmax: Float, dmax: Float) {
        strataCheck(rmax >= 1 && dmax >= 0, "BatchRenorm: need rmax >= 1 and dmax >= 0, got \(rmax), \(dmax)")
        self.rmax = rmax
        self.dmax = dmax
        super.init(
            numFeatures: numFeatures, eps: eps, momentum: momentum, affine: affine,
            trackRunningStats: true, unbiasedRunningVariance: true)
    }

    /// The paper's schedule (ImageNet, in steps): rmax = 1 and dmax = 0 for
    /// `warmup` steps, then rising linearly to `rmaxLimit` and `dmaxLimit`
    /// over `rampSteps`.
    public func setSchedule(
        step: Int, warmup: Int = 5000, rampSteps: Int = 35000,
        rmaxLimit: Float = 3, dmaxLimit: Float = 5
    ) {
        let t = Float(min(max(step - warmup, 0), rampSteps)) / Float(max(rampSteps, 1))
        rmax = 1 + t * (rmaxLimit - 1)
        dmax = t * dmaxLimit
    }

    /// BatchNorm's line and the clips (no PyTorch twin).
    override public var extraRepresentation: String {
        super.extraRepresentation + ", rmax=\(PythonRepr.float(rmax)), dmax=\(PythonRepr.float(dmax))"
    }

    override func renormCorrection() -> RenormCorrection? {
        guard let rm = runningMean, let rv = runningVar else { return nil }
        return RenormCorrection(runningMean: rm.scalars, runningVar: rv.scalars, rmax: rmax, dmax: dmax)
    }
}

/// Batch Renormalization over [N, C] or [N, C, L] input.
public final class BatchRenorm1d: BatchRenormBase {
    public init(
        _ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
        rmax: Float = 1, dmax: Float = 0
    ) {
        super.init(numFeatures: numFeatures, eps: eps, momentum: momentum, affine: affine, rmax: rmax, dmax: dmax)
    }
    override public var typeName: String { "BatchRenorm1d" }
    override func acceptsRank(_ rank: Int) -> Bool { rank == 2 || rank == 3 }
    override var shapeDescription: String { "[N, \(numFeatures)] or [N, \(numFeatures), L]" }
}

/// Batch Renormalization over [N, C, H, W] input.
public final class BatchRenorm2d: BatchRenormBase {
    public init(
        _ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
        rmax: Float = 1, dmax: Float = 0
    ) {
        super.init(numFeatures: numFeatures, eps: eps, momentum: momentum, affine: affine, rmax: rmax, dmax: dmax)
    }
    override public var typeName: String { "BatchRenorm2d" }
    override func acceptsRank(_ rank: Int) -> Bool { rank == 4 }
    override var shapeDescription: String { "[N, \(numFeatures), H, W]" }
}
