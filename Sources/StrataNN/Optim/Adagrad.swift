import StrataCore

/// Adagrad with PyTorch's `torch.optim.Adagrad` semantics:
///
///     t += 1
///     g = grad + weightDecay * p
///     clr = lr / (1 + (t - 1) * lrDecay)
///     s = s + g^2                       (sum; starts at initialAccumulatorValue)
///     p = p - clr * g / (sqrt(s) + eps)
///
/// `learningRate`, `lrDecay`, `epsilon` and `weightDecay` can differ per
/// parameter group. State keys: `i.step`, `i.sum`.
public final class Adagrad: Optimizer {
    public let initialAccumulatorValue: Float
    private var groups: [ParameterGroup]
    private var sums: [Tensor]
    private var steps: [Int]

    public var paramGroups: [ParameterGroup] {
        get { groups }
        set { groups = checkedReplacement(of: groups, with: newValue, optimizer: "Adagrad", validate: Self.groupProblem) }
    }

    /// One group of `parameters`.
    public convenience init(
        parameters: [Tensor], learningRate: Float = 1e-2, lrDecay: Float = 0, weightDecay: Float = 0,
        initialAccumulatorValue: Float = 0, epsilon: Float = 1e-10
    ) {
        let defaults = ParameterGroup(
            [], learningRate: learningRate, weightDecay: weightDecay, epsilon: epsilon, lrDecay: lrDecay)
        self.init(
            resolved: resolveOrStop(
                [ParameterGroup(parameters)], defaults: defaults, optimizer: "Adagrad", validate: Self.groupProblem),
            initialAccumulatorValue: initialAccumulatorValue)
    }

    /// Parameter groups; a group's nil options take these values. Throws
    /// for a parameter listed twice, an option Adagrad does not use, or an
    /// invalid value.
    public convenience init(
        groups: [ParameterGroup], learningRate: Float = 1e-2, lrDecay: Float = 0, weightDecay: Float = 0,
        initialAccumulatorValue: Float = 0, epsilon: Float = 1e-10
    ) throws {
        let defaults = ParameterGroup(
            [], learningRate: learningRate, weightDecay: weightDecay, epsilon: epsilon, lrDecay: lrDecay)
        self.init(
            resolved: try resolveGroups(groups, defaults: defaults, optimizer: "Adagrad", validate: Self.groupProblem),
            initialAccumulatorValue: initialAccumulatorValue)
    }

    private init(resolved: [ParameterGroup], initialAccumulatorValue: Float) {
        strataCheck(
            initialAccumulatorValue >= 0,
            "Adagrad: initialAccumulatorValue must be >= 0, got \(initialAccumulatorValue)")
        groups = resolved
        self.initialAccumulatorValue = initialAccumulatorValue
        let params = resolved.flatMap(\.parameters)
        sums = params.map { Tensor.full($0.shape, initialAccumulatorValue) }
        steps = Array(repeating: 0, count: params.count)
    }

    private static func groupProblem(_ g: ParameterGroup) -> String? {
        g.negativeOption(["lr", "lr_decay", "eps"])
    }

    public func problem(with group: ParameterGroup) -> String? { Self.groupProblem(group) }

    public func step() {
        var i = 0
        for group in groups {
            let lr = group.learningRate ?? 0, decay = group.lrDecay ?? 0
            let eps = group.epsilon ?? 0, wd = group.weightDecay ?? 0
            for p in group.parameters {
                defer { i += 1 }
                guard let grad = p.grad else { continue }
                steps[i] += 1
                let clr = lr / (1 + Float(steps[i] - 1) * decay)
                let pp = p.data, pg = grad.data, ps = sums[i].data
                for j in 0..<p.count {
                    let g = pg[j] + wd * pp[j]
                    ps[j] += g * g
                    pp[j] -= clr * (g / (ps[j].squareRoot() + eps))
                }
            }
        }
    }

    public func stateDict() -> [(String, Tensor)] { slotEntries([("sum", sums)], steps: steps) }

    /// Every parameter needs `i.sum` and `i.step`.
    @discardableResult
    public func loadStateDict(_ state: [String: Tensor], strict: Bool) throws -> OptimizerStateReport {
        let (report, loaded) = try loadSlots(
            state, parameters: parameters, optimizer: "Adagrad", strict: strict, withStep: true, slots: { _ in ["sum"] })
        for (i, l) in loaded.enumerated() {
            guard let l else { continue }
            steps[i] = l.step
            sums[i] = l.tensors["sum"] ?? sums[i]
        }
        return report
    }
}
