import Foundation
import StrataCore

/// A learning-rate schedule driving an optimiser's `learningRate`, with
/// PyTorch's `torch.optim.lr_scheduler` semantics: construction sets the
/// rate for step 0, and each `step()` advances `lastEpoch` by one and sets
/// the rate for the new position (call it once per epoch for StepLR and
/// CosineAnnealingLR, once per batch for OneCycleLR, after
/// `optimizer.step()`).
///
/// Rates are computed in Double from the closed form of each schedule, so
/// setting `lastEpoch` (when resuming from a checkpoint) gives exactly the
/// rate the uninterrupted run had.
public protocol LRScheduler: AnyObject {
    /// The optimiser whose `learningRate` is set.
    var optimizer: any Optimizer { get }
    /// Number of `step()` calls so far; setting it applies that position's rate.
    var lastEpoch: Int { get set }
    /// The rate at position `epoch`.
    func learningRate(at epoch: Int) -> Double
}

extension LRScheduler {
    /// Advances one position and sets the optimiser's rate.
    public func step() { lastEpoch += 1 }

    /// The rate the optimiser has now (PyTorch's `get_last_lr()[0]`).
    public var lastLearningRate: Float { optimizer.learningRate }

    func apply() { optimizer.learningRate = Float(learningRate(at: lastEpoch)) }
}

/// lr = baseLR * gamma ^ floor(epoch / stepSize) (PyTorch's `StepLR`).
public final class StepLR: LRScheduler {
    public let optimizer: any Optimizer
    public let stepSize: Int
    public let gamma: Double
    /// The rate at construction (PyTorch's `initial_lr`).
    public let baseLR: Double
    public var lastEpoch: Int = 0 { didSet { apply() } }

    public init(_ optimizer: any Optimizer, stepSize: Int, gamma: Double = 0.1) {
        strataCheck(stepSize > 0, "StepLR: stepSize must be positive, got \(stepSize)")
        self.optimizer = optimizer
        self.stepSize = stepSize
        self.gamma = gamma
        baseLR = Double(optimizer.learningRate)
        apply()
    }

    public func learningRate(at epoch: Int) -> Double {
        baseLR * Foundation.pow(gamma, Double(epoch / stepSize))
    }
}

/// lr = baseLR * gamma ^ (number of milestones <= epoch) (PyTorch's
/// `MultiStepLR`). A milestone listed twice decays twice at that epoch, as
/// in PyTorch.
public final class MultiStepLR: LRScheduler {
    public let optimizer: any Optimizer
    /// Epochs at which the rate is multiplied by `gamma`, ascending.
    public let milestones: [Int]
    public let gamma: Double
    /// The rate at construction (PyTorch's `initial_lr`).
    public let baseLR: Double
    public var lastEpoch: Int = 0 { didSet { apply() } }

    public init(_ optimizer: any Optimizer, milestones: [Int], gamma: Double = 0.1) {
        strataCheck(milestones.allSatisfy { $0 > 0 }, "MultiStepLR: milestones must be positive, got \(milestones)")
        self.optimizer = optimizer
        self.milestones = milestones.sorted()
        self.gamma = gamma
        baseLR = Double(optimizer.learningRate)
        apply()
    }

    public func learningRate(at epoch: Int) -> Double {
        baseLR * Foundation.pow(gamma, Double(milestones.filter { $0 <= epoch }.count))
    }
}

/// lr = etaMin + (baseLR - etaMin) * (1 + cos(pi * epoch / tMax)) / 2
/// (PyTorch's `CosineAnnealingLR`; past `tMax` the curve continues
/// periodically, as PyTorch's recursive form does).
public final class CosineAnnealingLR: LRScheduler {
    public let optimizer: any Optimizer
    public let tMax: Int
    public let etaMin: Double
    public let baseLR: Double
    public var lastEpoch: Int = 0 { didSet { apply() } }

    public init(_ optimizer: any Optimizer, tMax: Int, etaMin: Double = 0) {
        strataCheck(tMax > 0, "CosineAnnealingLR: tMax must be positive, got \(tMax)")
        self.optimizer = optimizer
        self.tMax = tMax
        self.etaMin = etaMin
        baseLR = Double(optimizer.learningRate)
        apply()
    }

    public func learningRate(at epoch: Int) -> Double {
        etaMin + (baseLR - etaMin) * (1 + Foundation.cos(Double.pi * Double(epoch) / Double(tMax))) / 2
    }
}

/// The 1cycle policy (Smith & Topin 2018; PyTorch's `OneCycleLR` with
/// `anneal_strategy="cos"`, `three_phase=False`): the rate rises from
/// maxLR / divFactor to maxLR over the first `pctStart` of `totalSteps`
/// and falls to maxLR / (divFactor * finalDivFactor) by the last step,
/// both with cosine annealing. Momentum is not cycled (PyTorch with
/// `cycle_momentum=False`). Stepping beyond `totalSteps` is an error, as
/// in PyTorch.
public final class OneCycleLR: LRScheduler {
    public let optimizer: any Optimizer
    public let maxLR: Double
    public let totalSteps: Int
    public let pctStart: Double
    public let initialLR: Double
    public let minLR: Double
    public var lastEpoch: Int = 0 { didSet { apply() } }

    public init(
        _ optimizer: any Optimizer, maxLR: Double, totalSteps: Int, pctStart: Double = 0.3,
        divFactor: Double = 25, finalDivFactor: Double = 1e4
    ) {
        strataCheck(totalSteps > 0, "OneCycleLR: totalSteps must be positive, got \(totalSteps)")
        strataCheck(pctStart > 0 && pctStart < 1, "OneCycleLR: pctStart must be in (0, 1), got \(pctStart)")
        self.optimizer = optimizer
        self.maxLR = maxLR
        self.totalSteps = totalSteps
        self.pctStart = pctStart
        initialLR = maxLR / divFactor
        minLR = initialLR / finalDivFactor
        apply()
    }

    /// Convenience for `epochs * stepsPerEpoch` total steps.
    public convenience init(
        _ optimizer: any Optimizer, maxLR: Double, epochs: Int, stepsPerEpoch: Int,
        pctStart: Double = 0.3, divFactor: Double = 25, finalDivFactor: Double = 1e4
    ) {
        self.init(
            optimizer, maxLR: maxLR, totalSteps: epochs * stepsPerEpoch, pctStart: pctStart,
            divFactor: divFactor, finalDivFactor: finalDivFactor)
    }

    private static func cosAnneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        end + (start - end) / 2 * (Foundation.cos(Double.pi * pct) + 1)
    }

    public func learningRate(at epoch: Int) -> Double {
        strataCheck(
            epoch <= totalSteps,
            "OneCycleLR: stepped \(epoch) times, more than totalSteps \(totalSteps)")
        // Phase ends as in PyTorch: float(pct_start * total_steps) - 1, then total_steps - 1.
        let warmEnd = pctStart * Double(totalSteps) - 1
        let lastEnd = Double(totalSteps) - 1
        let t = Double(epoch)
        if t <= warmEnd {
            return Self.cosAnneal(initialLR, maxLR, t / warmEnd)
        }
        return Self.cosAnneal(maxLR, minLR, (t - warmEnd) / (lastEnd - warmEnd))
    }
}
