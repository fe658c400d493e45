import StrataCore

/// Lowers the rates when a metric stops improving (PyTorch's
/// `ReduceLROnPlateau`), stepped once per epoch with the metric:
///
///     better = mode min, rel: metric < best * (1 - threshold)
///              mode min, abs: metric < best - threshold
///              mode max, rel: metric > best * (1 + threshold)
///              mode max, abs: metric > best + threshold
///     better ? (best = metric, numBadEpochs = 0) : numBadEpochs += 1
///     in cooldown (cooldownCounter > 0): cooldownCounter -= 1, numBadEpochs = 0
///     numBadEpochs > patience: each group's lr = max(lr * factor, minLR),
///         kept unchanged when that lowers it by eps or less;
///         cooldownCounter = cooldown, numBadEpochs = 0
///
/// It changes the groups' current rates, so it composes with nothing that
/// sets them from a closed form (PyTorch's SequentialLR refuses it too).
public final class ReduceLROnPlateau: CheckpointableScheduler {
    public enum Mode: String, Sendable { case min, max }
    public enum ThresholdMode: String, Sendable { case rel, abs }

    public let optimizer: any Optimizer
    public let mode: Mode
    public let factor: Double
    public let patience: Int
    public let threshold: Double
    public let thresholdMode: ThresholdMode
    public let cooldown: Int
    /// The lowest rate of each group.
    public let minLRs: [Double]
    public let eps: Double
    /// Number of `step(metric:)` calls so far.
    public private(set) var lastEpoch = 0
    /// Best metric so far (+infinity for `min`, -infinity for `max` before the first step).
    public private(set) var best: Double
    public private(set) var numBadEpochs = 0
    public private(set) var cooldownCounter = 0

    public convenience init(
        _ optimizer: any Optimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
        threshold: Double = 1e-4, thresholdMode: ThresholdMode = .rel, cooldown: Int = 0, minLR: Double = 0,
        eps: Double = 1e-8
    ) {
        self.init(
            optimizer, mode: mode, factor: factor, patience: patience, threshold: threshold,
            thresholdMode: thresholdMode, cooldown: cooldown,
            minLRs: Array(repeating: minLR, count: optimizer.paramGroups.count), eps: eps)
    }

    /// With a lowest rate per parameter group.
    public init(
        _ optimizer: any Optimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
        threshold: Double = 1e-4, thresholdMode: ThresholdMode = .rel, cooldown: Int = 0, minLRs: [Double],
        eps: Double = 1e-8
    ) {
        strataCheck(factor < 1, "ReduceLROnPlateau: factor should be < 1.0, got \(factor)")
        strataCheck(patience >= 0 && cooldown >= 0, "ReduceLROnPlateau: patience and cooldown must be >= 0")
        strataCheck(
            minLRs.count == optimizer.paramGroups.count,
            "ReduceLROnPlateau: \(minLRs.count) minLRs for \(optimizer.paramGroups.count) parameter groups")
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minLRs = minLRs
        self.eps = eps
        best = mode == .min ? .infinity : -.infinity
    }

    /// Whether `metric` counts as an improvement on `best`.
    public func isBetter(_ metric: Double, than best: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .rel): return metric < best * (1 - threshold)
        case (.min, .abs): return metric < best - threshold
        case (.max, .rel): return metric > best * (threshold + 1)
        case (.max, .abs): return metric > best + threshold
        }
    }

    /// Records one epoch's metric and lowers the rates after `patience`
    /// epochs without improvement.
    public func step(metric: Double) {
        lastEpoch += 1
        if isBetter(metric, than: best) {
            best = metric
            numBadEpochs = 0
        } else {
            numBadEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            numBadEpochs = 0
        }
        if numBadEpochs > patience {
            var groups = optimizer.paramGroups
            for i in groups.indices {
                let old = Double(groups[i].learningRate ?? 0)
                let new = Swift.max(old * factor, minLRs[i])
                if old - new > eps { groups[i].learningRate = Float(new) }
            }
            optimizer.paramGroups = groups
            cooldownCounter = cooldown
            numBadEpochs = 0
        }
    }

    /// The first group's rate now.
    public var lastLearningRate: Float { optimizer.learningRate }

    public func schedulerState() -> [(String, Double)] {
        [
            ("last_epoch", Double(lastEpoch)), ("best", best), ("num_bad_epochs", Double(numBadEpochs)),
            ("cooldown_counter", Double(cooldownCounter)),
        ]
    }

    /// The rates themselves are the optimiser's (restore it too).
    public func loadSchedulerState(_ state: [String: Double]) throws {
        try checkSchedulerKeys(state, expected: schedulerState().map(\.0), scheduler: self)
        let epoch = try schedulerCount(state, "last_epoch"), bad = try schedulerCount(state, "num_bad_epochs")
        let cool = try schedulerCount(state, "cooldown_counter")
        let saved = state["best"] ?? .nan
        guard !saved.isNaN else { throw StrataError.checkpoint("ReduceLROnPlateau state best is NaN") }
        lastEpoch = epoch
        numBadEpochs = bad
        cooldownCounter = cool
        best = saved
    }
}
