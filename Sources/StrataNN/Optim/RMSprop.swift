import StrataCore

/// RMSprop with PyTorch's `torch.optim.RMSprop` semantics:
///
///     g = grad + weightDecay * p
///     s = alpha * s + (1 - alpha) * g^2                  (square_avg)
///     centered: a = alpha * a + (1 - alpha) * g          (grad_avg)
///               d = sqrt(s - a^2) + eps,  else d = sqrt(s) + eps
///     momentum > 0: b = momentum * b + g / d; p -= lr * b   (momentum_buffer)
///     otherwise:    p -= lr * g / d
///
/// `learningRate`, `alpha`, `epsilon`, `weightDecay` and `momentum` can
/// differ per parameter group; `centered` applies to all. State keys:
/// `i.step`, `i.square_avg`, with momentum `i.momentum_buffer`, centered
/// `i.grad_avg`.
public final class RMSprop: Optimizer {
    public let centered: Bool
    private var groups: [ParameterGroup]
    private var squareAvg: [Tensor]
    private var gradAvg: [Tensor]
    private var momentumBuffer: [Tensor]
    private var steps: [Int]

    public var paramGroups: [ParameterGroup] {
        get { groups }
        set { groups = checkedReplacement(of: groups, with: newValue, optimizer: "RMSprop", validate: Self.groupProblem) }
    }

    /// One group of `parameters`.
    public convenience init(
        parameters: [Tensor], learningRate: Float = 1e-2, alpha: Float = 0.99, epsilon: Float = 1e-8,
        weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false
    ) {
        let defaults = Self.defaults(learningRate, alpha, epsilon, weightDecay, momentum)
        self.init(
            resolved: resolveOrStop(
                [ParameterGroup(parameters)], defaults: defaults, optimizer: "RMSprop", validate: Self.groupProblem),
            centered: centered)
    }

    /// Parameter groups; a group's nil options take these values. Throws
    /// for a parameter listed twice, an option RMSprop does not use, or an
    /// invalid value.
    public convenience init(
        groups: [ParameterGroup], learningRate: Float = 1e-2, alpha: Float = 0.99, epsilon: Float = 1e-8,
        weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false
    ) throws {
        let defaults = Self.defaults(learningRate, alpha, epsilon, weightDecay, momentum)
        self.init(
            resolved: try resolveGroups(groups, defaults: defaults, optimizer: "RMSprop", validate: Self.groupProblem),
            centered: centered)
    }

    private init(resolved: [ParameterGroup], centered: Bool) {
        groups = resolved
        self.centered = centered
        let params = resolved.flatMap(\.parameters)
        squareAvg = params.map { Tensor(zeros: $0.shape) }
        gradAvg = params.map { Tensor(zeros: $0.shape) }
        momentumBuffer = params.map { Tensor(zeros: $0.shape) }
        steps = Array(repeating: 0, count: params.count)
    }

    private static func defaults(_ lr: Float, _ alpha: Float, _ eps: Float, _ wd: Float, _ mu: Float) -> ParameterGroup {
        ParameterGroup([], learningRate: lr, weightDecay: wd, momentum: mu, epsilon: eps, alpha: alpha)
    }

    private static func groupProblem(_ g: ParameterGroup) -> String? {
        g.negativeOption(["lr", "alpha", "momentum", "eps"])
    }

    public func problem(with group: ParameterGroup) -> String? { Self.groupProblem(group) }

    public func step() {
        var i = 0
        for group in groups {
            let lr = group.learningRate ?? 0, alpha = group.alpha ?? 0, eps = group.epsilon ?? 0
            let wd = group.weightDecay ?? 0, mu = group.momentum ?? 0
            for p in group.parameters {
                defer { i += 1 }
                guard let grad = p.grad else { continue }
                steps[i] += 1
                let pp = p.data, pg = grad.data, ps = squareAvg[i].data, pa = gradAvg[i].data
                let pb = momentumBuffer[i].data
                for j in 0..<p.count {
                    let g = pg[j] + wd * pp[j]
                    ps[j] = alpha * ps[j] + (1 - alpha) * g * g
                    var d: Float
                    if centered {
                        pa[j] = alpha * pa[j] + (1 - alpha) * g
                        d = (ps[j] - pa[j] * pa[j]).squareRoot()
                    } else {
                        d = ps[j].squareRoot()
                    }
                    d += eps
                    if mu > 0 {
                        pb[j] = mu * pb[j] + g / d
                        pp[j] -= lr * pb[j]
                    } else {
                        pp[j] -= lr * (g / d)
                    }
                }
            }
        }
    }

    /// Slot names of each parameter, by its group's momentum.
    private var slotNames: [[String]] {
        groups.flatMap { g in
            g.parameters.map { _ in
                ["square_avg"] + ((g.momentum ?? 0) > 0 ? ["momentum_buffer"] : []) + (centered ? ["grad_avg"] : [])
            }
        }
    }

    public func stateDict() -> [(String, Tensor)] {
        let names = slotNames
        return steps.indices.flatMap { i in
            names[i].map { name in
                ("\(i).\(name)", name == "square_avg" ? squareAvg[i] : name == "grad_avg" ? gradAvg[i] : momentumBuffer[i])
            } + [("\(i).step", Tensor.scalar(Float(steps[i])))]
        }
    }

    /// Every parameter needs `i.square_avg` and `i.step`, plus
    /// `i.momentum_buffer` when its group has momentum and `i.grad_avg` when
    /// centered.
    @discardableResult
    public func loadStateDict(_ state: [String: Tensor], strict: Bool) throws -> OptimizerStateReport {
        let names = slotNames
        let (report, loaded) = try loadSlots(
            state, parameters: parameters, optimizer: centered ? "RMSprop(centered: true)" : "RMSprop", strict: strict,
            withStep: true, slots: { names[$0] })
        for (i, l) in loaded.enumerated() {
            guard let l else { continue }
            steps[i] = l.step
            squareAvg[i] = l.tensors["square_avg"] ?? squareAvg[i]
            gradAvg[i] = l.tensors["grad_avg"] ?? gradAvg[i]
            momentumBuffer[i] = l.tensors["momentum_buffer"] ?? momentumBuffer[i]
        }
        return report
    }
}
