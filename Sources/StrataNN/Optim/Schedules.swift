import Foundation
import StrataCore

/// What a checkpoint saves of a scheduler (any of `LRScheduler` and
/// `ReduceLROnPlateau`).
public protocol CheckpointableScheduler: AnyObject {
    /// The optimiser whose group rates are set.
    var optimizer: any Optimizer { get }
    /// The state under PyTorch's names (`last_epoch`, `best`, ...; a
    /// child scheduler's as `children.<i>.<name>`).
    func schedulerState() -> [(String, Double)]
    /// Restores what `schedulerState()` returned: exactly those keys, each
    /// valid (positions whole numbers >= 0), or a thrown
    /// `StrataError.checkpoint` naming the key, with nothing changed.
    func loadSchedulerState(_ state: [String: Double]) throws
}

/// A learning-rate schedule driving an optimiser's group rates, with
/// PyTorch's `torch.optim.lr_scheduler` semantics: construction sets the
/// rates for step 0, and each `step()` advances `lastEpoch` by one and sets
/// the rates for the new position (call it once per epoch for StepLR and
/// CosineAnnealingLR, once per batch for OneCycleLR, after
/// `optimizer.step()`).
///
/// Each parameter group's rate follows the schedule from its own base rate
/// (PyTorch's `initial_lr`, recorded in the group by the first scheduler
/// built on the optimiser, so a second scheduler, as in `SequentialLR`,
/// scales the same base).
///
/// Rates are computed in Double from the closed form of each schedule, so
/// setting `lastEpoch` (when resuming from a checkpoint) gives exactly the
/// rates the uninterrupted run had.
public protocol LRScheduler: CheckpointableScheduler {
    /// Number of `step()` calls so far; setting it applies that position's rates.
    var lastEpoch: Int { get set }
    /// The rate of each parameter group at position `epoch`.
    func learningRates(at epoch: Int) -> [Double]
}

/// A schedule whose rate is the base rate times a factor of the position
/// (StepLR, MultiStepLR, ExponentialLR, LinearLR): these can be chained by
/// `ChainedScheduler`, which multiplies their factors.
public protocol MultiplicativeLRScheduler: LRScheduler {
    /// The rate divided by the base rate at position `epoch`.
    func factor(at epoch: Int) -> Double
}

extension MultiplicativeLRScheduler {
    public func learningRates(at epoch: Int) -> [Double] {
        let f = factor(at: epoch)
        return baseLRs.map { $0 * f }
    }

}

extension LRScheduler {
    /// Each group's base rate: its `initial_lr`, read from the optimiser (so
    /// a checkpoint that restores the groups restores the bases too).
    public var baseLRs: [Double] {
        optimizer.paramGroups.map { Double($0.initialLearningRate ?? $0.learningRate ?? 0) }
    }

    /// The first group's base rate.
    public var baseLR: Double { baseLRs.first ?? 0 }

    /// Advances one position and sets the optimiser's rates.
    public func step() { lastEpoch += 1 }

    /// The rate the optimiser's first group has now (PyTorch's `get_last_lr()[0]`).
    public var lastLearningRate: Float { optimizer.learningRate }

    /// Every group's rate now (PyTorch's `get_last_lr()`).
    public var lastLearningRates: [Float] { optimizer.learningRates }

    /// The first group's rate at position `epoch`.
    public func learningRate(at epoch: Int) -> Double { learningRates(at: epoch).first ?? 0 }

    public func schedulerState() -> [(String, Double)] { [("last_epoch", Double(lastEpoch))] }

    public func loadSchedulerState(_ state: [String: Double]) throws {
        try checkSchedulerKeys(state, expected: ["last_epoch"], scheduler: self)
        lastEpoch = try schedulerCount(state, "last_epoch")
    }

    func apply() { setRates(learningRates(at: lastEpoch), of: optimizer, by: self) }
}

/// Sets each group's rate.
func setRates(_ rates: [Double], of optimizer: any Optimizer, by scheduler: AnyObject) {
    var groups = optimizer.paramGroups
    strataCheck(
        rates.count == groups.count,
        "\(type(of: scheduler)): computed \(rates.count) rates for \(groups.count) parameter groups")
    for i in groups.indices { groups[i].learningRate = Float(rates[i]) }
    optimizer.paramGroups = groups
}

/// Records each group's current rate as its `initial_lr` where it has none
/// (PyTorch's `setdefault("initial_lr", lr)`).
func recordInitialRates(of optimizer: any Optimizer) {
    var groups = optimizer.paramGroups
    for i in groups.indices where groups[i].initialLearningRate == nil {
        groups[i].initialLearningRate = groups[i].learningRate
    }
    optimizer.paramGroups = groups
}

/// Checks `state` against what `scheduler.schedulerState()` writes: the
/// same keys, positions and counters (`last_epoch`, `num_bad_epochs`,
/// `cooldown_counter`, also of children) whole numbers >= 0, nothing NaN.
/// After it passes, `loadSchedulerState` does not throw.
package func validateSchedulerState(_ state: [String: Double], for scheduler: any CheckpointableScheduler) throws {
    try checkSchedulerKeys(state, expected: scheduler.schedulerState().map(\.0), scheduler: scheduler)
    for (k, v) in state {
        if isSchedulerCounter(k) {
            _ = try schedulerCount(state, k)
        } else if v.isNaN {
            throw StrataError.checkpoint("scheduler state \(k) is NaN")
        }
    }
}

/// Whether a scheduler state key holds a position or counter.
package func isSchedulerCounter(_ key: String) -> Bool {
    ["last_epoch", "num_bad_epochs", "cooldown_counter"].contains { key == $0 || key.hasSuffix(".\($0)") }
}

/// Throws unless `state` has exactly the keys `expected`.
func checkSchedulerKeys(_ state: [String: Double], expected: [String], scheduler: AnyObject) throws {
    let name = String(describing: type(of: scheduler))
    if let k = expected.first(where: { state[$0] == nil }) {
        throw StrataError.checkpoint("\(name) state is missing \(k)")
    }
    if let k = state.keys.sorted().first(where: { !expected.contains($0) }) {
        throw StrataError.checkpoint("\(name) state has unknown key \(k)")
    }
}

/// `state[key]` as a whole number in 0...2^31, or a thrown error naming it.
func schedulerCount(_ state: [String: Double], _ key: String) throws -> Int {
    let v = state[key] ?? -1
    guard v.isFinite, v >= 0, v <= 2_147_483_647, v == v.rounded() else {
        throw StrataError.checkpoint("scheduler state \(key) = \(v) is not a whole number >= 0")
    }
    return Int(v)
}

/// lr = baseLR * gamma ^ floor(epoch / stepSize) (PyTorch's `StepLR`).
public final class StepLR: MultiplicativeLRScheduler {
    public let optimizer: any Optimizer
    public let stepSize: Int
    public let gamma: Double
    public var lastEpoch: Int = 0 { didSet { apply() } }

    public init(_ optimizer: any Optimizer, stepSize: Int, gamma: Double = 0.1) {
        strataCheck(stepSize > 0, "StepLR: stepSize must be positive, got \(stepSize)")
        self.optimizer = optimizer
        self.stepSize = stepSize
        self.gamma = gamma
        recordInitialRates(of: optimizer)
        apply()
    }

    public func factor(at epoch: Int) -> Double { Foundation.pow(gamma, Double(epoch / stepSize)) }
}

/// lr = baseLR * gamma ^ (number of milestones <= epoch) (PyTorch's
/// `MultiStepLR`). A milestone listed twice decays twice at that epoch, as
/// in PyTorch.
public final class MultiStepLR: MultiplicativeLRScheduler {
    public let optimizer: any Optimizer
    /// Epochs at which the rate is multiplied by `gamma`, ascending.
    public let milestones: [Int]
    public let gamma: Double
    public var lastEpoch: Int = 0 { didSet { apply() } }

    public init(_ optimizer: any Optimizer, milestones: [Int], gamma: Double = 0.1) {
        strataCheck(milestones.allSatisfy { $0 > 0 }, "MultiStepLR: milestones must be positive, got \(milestones)")
        self.optimizer = optimizer
        self.milestones = milestones.sorted()
        self.gamma = gamma
        recordInitialRates(of: optimizer)
        apply()
    }

    public func factor(at epoch: Int) -> Double {
        Foundation.pow(gamma, Double(milestones.filter { $0 <= epoch }.count))
    }
}

/// lr = etaMin + (baseLR - etaMin) * (1 + cos(pi * epoch / tMax)) / 2
/// (PyTorch's `CosineAnnealingLR`; past `tMax` the curve continues
/// periodically, as PyTorch's recursive form does).
public final class CosineAnnealingLR: LRScheduler {
    public let optimizer: any Optimizer
    public let tMax: Int
    public let etaMin: Double
    /// Number of `step()` calls so far; setting it applies that position's rates.
    public var lastEpoch: Int = 0 { didSet { apply() } }

    public init(_ optimizer: any Optimizer, tMax: Int, etaMin: Double = 0) {
        strataCheck(tMax > 0, "CosineAnnealingLR: tMax must be positive, got \(tMax)")
        self.optimizer = optimizer
        self.tMax = tMax
        self.etaMin = etaMin
        recordInitialRates(of: optimizer)
        apply()
    }

    public func learningRates(at epoch: Int) -> [Double] {
        let c = 1 + Foundation.cos(Double.pi * Double(epoch) / Double(tMax))
        return baseLRs.map { etaMin + ($0 - etaMin) * c / 2 }
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

    /// The same rate for every group.
    public func learningRates(at epoch: Int) -> [Double] {
        Array(repeating: rate(at: epoch), count: optimizer.paramGroups.count)
    }

    private func rate(at epoch: Int) -> Double {
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
