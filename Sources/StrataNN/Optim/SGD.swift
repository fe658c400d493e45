import StrataCore

/// Stochastic gradient descent with PyTorch's `torch.optim.SGD` semantics:
///
///     g = grad + weightDecay * p
///     b = momentum * b + (1 - dampening) * g     (b = g on the first step)
///     g = nesterov ? g + momentum * b : b        (when momentum != 0)
///     p = p - lr * g
///
/// `learningRate`, `momentum`, `dampening` and `weightDecay` can differ per
/// parameter group; `nesterov` applies to all.
public final class SGD: Optimizer {
    /// Constructor values, the defaults of every group.
    public let momentum: Float
    public let dampening: Float
    public let weightDecay: Float
    public let nesterov: Bool
    private var groups: [ParameterGroup]
    private var buffers: [Tensor?]

    public var paramGroups: [ParameterGroup] {
        get { groups }
        set { groups = checkedReplacement(of: groups, with: newValue, optimizer: "SGD", validate: problem(with:)) }
    }

    /// One group of `parameters`.
    public convenience init(
        parameters: [Tensor], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
        weightDecay: Float = 0, nesterov: Bool = false
    ) {
        self.init(
            checkedGroups: nil, parameters: parameters, learningRate: learningRate, momentum: momentum,
            dampening: dampening, weightDecay: weightDecay, nesterov: nesterov)
    }

    /// Parameter groups; a group's nil options take these values. Throws
    /// for a parameter listed twice (in one group or two), an option SGD
    /// does not use, or an invalid value.
    public convenience init(
        groups: [ParameterGroup], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
        weightDecay: Float = 0, nesterov: Bool = false
    ) throws {
        let defaults = ParameterGroup(
            [], learningRate: learningRate, weightDecay: weightDecay, momentum: momentum, dampening: dampening)
        let resolved = try resolveGroups(
            groups, defaults: defaults, optimizer: "SGD", validate: { Self.groupProblem($0, nesterov: nesterov) })
        self.init(
            checkedGroups: resolved, parameters: [], learningRate: learningRate, momentum: momentum,
            dampening: dampening, weightDecay: weightDecay, nesterov: nesterov)
    }

    private init(
        checkedGroups: [ParameterGroup]?, parameters: [Tensor], learningRate: Float, momentum: Float,
        dampening: Float, weightDecay: Float, nesterov: Bool
    ) {
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        let defaults = ParameterGroup(
            [], learningRate: learningRate, weightDecay: weightDecay, momentum: momentum, dampening: dampening)
        groups =
            checkedGroups
            ?? resolveOrStop(
                [ParameterGroup(parameters)], defaults: defaults, optimizer: "SGD",
                validate: { Self.groupProblem($0, nesterov: nesterov) })
        buffers = Array(repeating: nil, count: groups.reduce(0) { $0 + $1.parameters.count })
    }

    private static func groupProblem(_ g: ParameterGroup, nesterov: Bool) -> String? {
        if let problem = g.negativeOption(["lr", "momentum"]) { return problem }
        let mu = g.momentum ?? 0, damp = g.dampening ?? 0
        if nesterov && !(mu > 0 && damp == 0) { return "nesterov needs momentum > 0 and dampening 0" }
        return nil
    }

    public func problem(with group: ParameterGroup) -> String? { Self.groupProblem(group, nesterov: nesterov) }

    public func step() {
        var i = 0
        for group in groups {
            let lr = group.learningRate ?? 0, mu = group.momentum ?? 0, wd = group.weightDecay ?? 0
            let damp = 1 - (group.dampening ?? 0)
            for p in group.parameters {
                defer { i += 1 }
                guard let grad = p.grad else { continue }
                let pp = p.data, pg = grad.data, n = p.count
                if mu == 0 {
                    for j in 0..<n { pp[j] -= lr * (pg[j] + wd * pp[j]) }
                    continue
                }
                if let b = buffers[i] {
                    let pb = b.data
                    for j in 0..<n {
                        let g = pg[j] + wd * pp[j]
                        let v = mu * pb[j] + damp * g
                        pb[j] = v
                        pp[j] -= lr * (nesterov ? g + mu * v : v)
                    }
                } else {
                    let b = Tensor(uninitialized: p.shape)
                    let pb = b.data
                    for j in 0..<n {
                        let g = pg[j] + wd * pp[j]
                        pb[j] = g
                        pp[j] -= lr * (nesterov ? g + mu * g : g)
                    }
                    buffers[i] = b
                }
            }
        }
    }

    public func stateDict() -> [(String, Tensor)] {
        buffers.enumerated().compactMap { i, b in b.map { ("\(i).momentum_buffer", $0) } }
    }

    /// With momentum, a parameter has a buffer once it has been stepped; a
    /// strict load of a non-empty state needs one for every parameter whose
    /// group has momentum (load state of partly frozen models with
    /// `strict: false`). Without momentum there is no state, and any key is
    /// unexpected.
    @discardableResult
    public func loadStateDict(_ state: [String: Tensor], strict: Bool) throws -> OptimizerStateReport {
        let hasMomentum = groups.flatMap { g in g.parameters.map { _ in (g.momentum ?? 0) != 0 } }
        let (report, loaded) = try loadSlots(
            state, parameters: parameters, optimizer: "SGD(momentum: \(momentum))", strict: strict, withStep: false,
            emptyIsFresh: true, slots: { hasMomentum[$0] ? ["momentum_buffer"] : [] })
        for (i, l) in loaded.enumerated() {
            if let b = l?.tensors["momentum_buffer"] { buffers[i] = b }
        }
        return report
    }
}
