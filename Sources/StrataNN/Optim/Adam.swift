import Foundation
import StrataCore

/// Adam and AdamW with PyTorch's semantics (`torch.optim.Adam`, `AdamW`):
///
///     Adam:  g = grad + weightDecay * p          (L2 penalty in the gradient)
///     AdamW: p = p * (1 - lr * weightDecay)      (decoupled decay)
///     m = beta1 * m + (1 - beta1) * g
///     v = beta2 * v + (1 - beta2) * g^2
///     vmax = max(vmax, v)                        (amsgrad; then v = vmax below)
///     p = p - lr * (m / (1 - beta1^t)) / (sqrt(v) / sqrt(1 - beta2^t) + eps)
///
/// `learningRate`, `betas`, `epsilon` and `weightDecay` can differ per
/// parameter group; `amsgrad` applies to all. State keys: `i.exp_avg`,
/// `i.exp_avg_sq`, `i.step`, with amsgrad `i.max_exp_avg_sq`.
public class Adam: Optimizer {
    /// Constructor values, the defaults of every group.
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    /// Decoupled weight decay (AdamW) instead of an L2 term in the gradient.
    public let decoupledWeightDecay: Bool
    /// Keep the running maximum of `v` (Reddi et al. 2018).
    public let amsgrad: Bool
    fileprivate var groups: [ParameterGroup]
    private var m: [Tensor]
    private var v: [Tensor]
    private var vMax: [Tensor]
    private var steps: [Int]

    public var paramGroups: [ParameterGroup] {
        get { groups }
        set { groups = checkedReplacement(of: groups, with: newValue, optimizer: typeName, validate: Self.groupProblem) }
    }

    private var typeName: String { String(describing: type(of: self)) }

    /// One group of `parameters`.
    public init(
        parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        epsilon: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false, amsgrad: Bool = false
    ) {
        let defaults = ParameterGroup(
            [], learningRate: learningRate, weightDecay: weightDecay, betas: betas, epsilon: epsilon)
        groups = resolveOrStop(
            [ParameterGroup(parameters)], defaults: defaults, optimizer: decoupledWeightDecay ? "AdamW" : "Adam",
            validate: Self.groupProblem)
        beta1 = betas.0
        beta2 = betas.1
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        self.amsgrad = amsgrad
        m = parameters.map { Tensor(zeros: $0.shape) }
        v = parameters.map { Tensor(zeros: $0.shape) }
        vMax = amsgrad ? parameters.map { Tensor(zeros: $0.shape) } : []
        steps = Array(repeating: 0, count: parameters.count)
    }

    /// Parameter groups; a group's nil options take these values. Throws
    /// for a parameter listed twice, an option Adam does not use, or an
    /// invalid value.
    public convenience init(
        groups: [ParameterGroup], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        epsilon: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false, amsgrad: Bool = false
    ) throws {
        let defaults = ParameterGroup(
            [], learningRate: learningRate, weightDecay: weightDecay, betas: betas, epsilon: epsilon)
        let resolved = try resolveGroups(
            groups, defaults: defaults, optimizer: decoupledWeightDecay ? "AdamW" : "Adam", validate: Self.groupProblem)
        self.init(
            parameters: resolved.flatMap(\.parameters), learningRate: learningRate, betas: betas, epsilon: epsilon,
            weightDecay: weightDecay, decoupledWeightDecay: decoupledWeightDecay, amsgrad: amsgrad)
        self.groups = resolved
    }

    static func groupProblem(_ g: ParameterGroup) -> String? {
        if let problem = g.negativeOption(["lr", "eps"]) { return problem }
        let b = g.betas ?? (0, 0)
        if !((0..<1).contains(b.0) && (0..<1).contains(b.1)) { return "betas must be in [0, 1), got \(b)" }
        return nil
    }

    public func problem(with group: ParameterGroup) -> String? { Self.groupProblem(group) }

    public func step() {
        var i = 0
        for group in groups {
            let lr = group.learningRate ?? 0, (b1, b2) = group.betas ?? (0, 0)
            let eps = group.epsilon ?? 0, wd = group.weightDecay ?? 0
            for p in group.parameters {
                defer { i += 1 }
                guard let grad = p.grad else { continue }
                steps[i] += 1
                let t = Double(steps[i])
                let bc1 = Float(1 - Foundation.pow(Double(b1), t))
                let bc2 = Float(1 - Foundation.pow(Double(b2), t))
                let pp = p.data, pg = grad.data, pm = m[i].data, pv = v[i].data
                let stepSize = lr / bc1, bc2Root = bc2.squareRoot()
                if decoupledWeightDecay && wd != 0 {
                    let k = 1 - lr * wd
                    for j in 0..<p.count { pp[j] *= k }
                }
                let pmax = amsgrad ? vMax[i].data : pv
                for j in 0..<p.count {
                    let g = decoupledWeightDecay ? pg[j] : pg[j] + wd * pp[j]
                    pm[j] = b1 * pm[j] + (1 - b1) * g
                    pv[j] = b2 * pv[j] + (1 - b2) * g * g
                    if amsgrad { pmax[j] = max(pmax[j], pv[j]) }
                    pp[j] -= stepSize * pm[j] / (pmax[j].squareRoot() / bc2Root + eps)
                }
            }
        }
    }

    private var slotNames: [String] { amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"] }

    public func stateDict() -> [(String, Tensor)] {
        slotEntries([("exp_avg", m), ("exp_avg_sq", v)] + (amsgrad ? [("max_exp_avg_sq", vMax)] : []), steps: steps)
    }

    /// Every parameter needs `i.exp_avg`, `i.exp_avg_sq` (with amsgrad
    /// `i.max_exp_avg_sq`) and `i.step` (a whole number in 0...2^24). In
    /// non-strict mode a parameter whose entries are missing keeps its
    /// current state.
    @discardableResult
    public func loadStateDict(_ state: [String: Tensor], strict: Bool) throws -> OptimizerStateReport {
        let names = slotNames
        let (report, loaded) = try loadSlots(
            state, parameters: parameters, optimizer: typeName + (amsgrad ? "(amsgrad: true)" : ""), strict: strict,
            withStep: true, slots: { _ in names })
        for (i, l) in loaded.enumerated() {
            guard let l else { continue }
            steps[i] = l.step
            m[i] = l.tensors["exp_avg"] ?? m[i]
            v[i] = l.tensors["exp_avg_sq"] ?? v[i]
            if amsgrad { vMax[i] = l.tensors["max_exp_avg_sq"] ?? vMax[i] }
        }
        return report
    }
}

/// AdamW: Adam with decoupled weight decay and PyTorch's default decay 0.01.
public final class AdamW: Adam {
    public init(
        parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        epsilon: Float = 1e-8, weightDecay: Float = 1e-2, amsgrad: Bool = false
    ) {
        super.init(
            parameters: parameters, learningRate: learningRate, betas: betas, epsilon: epsilon,
            weightDecay: weightDecay, decoupledWeightDecay: true, amsgrad: amsgrad)
    }

    /// Parameter groups (see `Adam.init(groups:...)`).
    public convenience init(
        groups: [ParameterGroup], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        epsilon: Float = 1e-8, weightDecay: Float = 1e-2, amsgrad: Bool = false
    ) throws {
        let defaults = ParameterGroup(
            [], learningRate: learningRate, weightDecay: weightDecay, betas: betas, epsilon: epsilon)
        let resolved = try resolveGroups(groups, defaults: defaults, optimizer: "AdamW", validate: Adam.groupProblem)
        self.init(
            parameters: resolved.flatMap(\.parameters), learningRate: learningRate, betas: betas, epsilon: epsilon,
            weightDecay: weightDecay, amsgrad: amsgrad)
        self.groups = resolved
    }
}
