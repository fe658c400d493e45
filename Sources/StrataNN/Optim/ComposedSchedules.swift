import Foundation
import StrataCore

/// lr = baseLR * gamma ^ epoch (PyTorch's `ExponentialLR`).
public final class ExponentialLR: MultiplicativeLRScheduler {
    public let optimizer: any Optimizer
    public let gamma: Double
    public var lastEpoch: Int = 0 { didSet { apply() } }

    public init(_ optimizer: any Optimizer, gamma: Double) {
        strataCheck(gamma > 0, "ExponentialLR: gamma must be positive, got \(gamma)")
        self.optimizer = optimizer
        self.gamma = gamma
        recordInitialRates(of: optimizer)
        apply()
    }

    public func factor(at epoch: Int) -> Double { Foundation.pow(gamma, Double(epoch)) }
}

/// Linear warm-up (PyTorch's `LinearLR`): the factor goes linearly from
/// `startFactor` at epoch 0 to `endFactor` at `totalIters` and stays there,
///
///     lr = baseLR * (startFactor + (endFactor - startFactor) * min(epoch, totalIters) / totalIters)
public final class LinearLR: MultiplicativeLRScheduler {
    public let optimizer: any Optimizer
    public let startFactor: Double
    public let endFactor: Double
    public let totalIters: Int
    public var lastEpoch: Int = 0 { didSet { apply() } }

    public init(_ optimizer: any Optimizer, startFactor: Double = 1.0 / 3, endFactor: Double = 1, totalIters: Int = 5) {
        strataCheck(
            startFactor > 0 && startFactor <= 1,
            "LinearLR: startFactor must be in (0, 1], got \(startFactor)")
        strataCheck(endFactor >= 0 && endFactor <= 1, "LinearLR: endFactor must be in [0, 1], got \(endFactor)")
        strataCheck(totalIters > 0, "LinearLR: totalIters must be positive, got \(totalIters)")
        self.optimizer = optimizer
        self.startFactor = startFactor
        self.endFactor = endFactor
        self.totalIters = totalIters
        recordInitialRates(of: optimizer)
        apply()
    }

    public func factor(at epoch: Int) -> Double {
        startFactor + (endFactor - startFactor) * Double(min(epoch, totalIters)) / Double(totalIters)
    }
}

/// Runs `schedulers` one after another (PyTorch's `SequentialLR`):
/// scheduler k is active from `milestones[k - 1]` (0 for the first) and
/// starts there from its own position 0, so `LinearLR` then `CosineAnnealingLR`
/// with milestone 5 is five epochs of warm-up followed by the cosine from
/// the base rate. All must drive `optimizer`.
public final class SequentialLR: LRScheduler {
    public let optimizer: any Optimizer
    public let schedulers: [any LRScheduler]
    /// Ascending, one fewer than `schedulers`.
    public let milestones: [Int]
    /// Setting it positions the active scheduler and applies its rates.
    public var lastEpoch: Int = 0 {
        didSet {
            let (k, position) = locate(lastEpoch)
            let active = schedulers[k]
            active.lastEpoch = position
        }
    }

    public init(_ optimizer: any Optimizer, schedulers: [any LRScheduler], milestones: [Int]) {
        strataCheck(!schedulers.isEmpty, "SequentialLR: needs at least one scheduler")
        strataCheck(
            milestones.count == schedulers.count - 1,
            "SequentialLR: needs \(schedulers.count - 1) milestones for \(schedulers.count) schedulers, got \(milestones.count)")
        strataCheck(
            zip(milestones, milestones.dropFirst()).allSatisfy { $0 < $1 } && milestones.allSatisfy { $0 > 0 },
            "SequentialLR: milestones must be positive and ascending, got \(milestones)")
        for (i, s) in schedulers.enumerated() {
            strataCheck(
                s.optimizer === optimizer,
                "SequentialLR: scheduler \(i) (\(type(of: s))) drives a different optimizer")
        }
        self.optimizer = optimizer
        self.schedulers = schedulers
        self.milestones = milestones
        let first = schedulers[0]
        first.lastEpoch = 0
    }

    /// The active scheduler at `epoch` and its position.
    private func locate(_ epoch: Int) -> (Int, Int) {
        let k = milestones.filter { $0 <= epoch }.count
        return (k, k == 0 ? epoch : epoch - milestones[k - 1])
    }

    public func learningRates(at epoch: Int) -> [Double] {
        let (k, position) = locate(epoch)
        return schedulers[k].learningRates(at: position)
    }

    /// `last_epoch` and every child's state as `children.<i>.<key>`.
    public func schedulerState() -> [(String, Double)] {
        [("last_epoch", Double(lastEpoch))] + childStates(schedulers)
    }

    public func loadSchedulerState(_ state: [String: Double]) throws {
        let position = try loadChildren(state, schedulers, parent: self)
        lastEpoch = position
    }
}

/// Applies several multiplicative schedules at once (PyTorch's
/// `ChainedScheduler`): each group's rate is its base rate times the
/// product of the schedules' factors, so `LinearLR` warm-up chained with
/// `ExponentialLR` decays while it warms up. `step()` steps every schedule.
public final class ChainedScheduler: LRScheduler {
    public let optimizer: any Optimizer
    public let schedulers: [any MultiplicativeLRScheduler]
    /// Every child is kept at this position.
    public var lastEpoch: Int = 0 {
        didSet {
            for s in schedulers { s.lastEpoch = lastEpoch }
            apply()
        }
    }

    public init(_ schedulers: [any MultiplicativeLRScheduler]) {
        strataCheck(!schedulers.isEmpty, "ChainedScheduler: needs at least one scheduler")
        let optimizer = schedulers[0].optimizer
        for (i, s) in schedulers.enumerated() {
            strataCheck(s.optimizer === optimizer, "ChainedScheduler: scheduler \(i) (\(type(of: s))) drives a different optimizer")
            strataCheck(
                s.lastEpoch == schedulers[0].lastEpoch,
                "ChainedScheduler: scheduler \(i) is at position \(s.lastEpoch), scheduler 0 at \(schedulers[0].lastEpoch)")
        }
        self.optimizer = optimizer
        self.schedulers = schedulers
        lastEpoch = schedulers[0].lastEpoch
        apply()
    }

    public func learningRates(at epoch: Int) -> [Double] {
        let f = schedulers.reduce(1.0) { $0 * $1.factor(at: epoch) }
        return schedulers[0].baseLRs.map { $0 * f }
    }

    /// `last_epoch` and every child's state as `children.<i>.<key>`.
    public func schedulerState() -> [(String, Double)] {
        [("last_epoch", Double(lastEpoch))] + childStates(schedulers)
    }

    public func loadSchedulerState(_ state: [String: Double]) throws {
        let position = try loadChildren(state, schedulers, parent: self)
        lastEpoch = position
    }
}

/// Children's states under `children.<i>.`.
private func childStates(_ children: [any LRScheduler]) -> [(String, Double)] {
    children.enumerated().flatMap { i, c in c.schedulerState().map { ("children.\(i).\($0.0)", $0.1) } }
}

/// Checks the parent's and children's keys and values, loads the children,
/// and returns the parent's `last_epoch`.
private func loadChildren(_ state: [String: Double], _ children: [any LRScheduler], parent: AnyObject) throws -> Int {
    let childKeys = childStates(children).map(\.0)
    try checkSchedulerKeys(state, expected: ["last_epoch"] + childKeys, scheduler: parent)
    for k in ["last_epoch"] + childKeys { _ = try schedulerCount(state, k) }
    for (i, c) in children.enumerated() {
        let prefix = "children.\(i)."
        var sub: [String: Double] = [:]
        for (k, v) in state where k.hasPrefix(prefix) { sub[String(k.dropFirst(prefix.count))] = v }
        try c.loadSchedulerState(sub)
    }
    return try schedulerCount(state, "last_epoch")
}
