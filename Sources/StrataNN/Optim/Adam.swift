import Foundation
import StrataCore

/// Adam and AdamW with PyTorch's semantics (`torch.optim.Adam`, `AdamW`):
///
///     Adam:  g = grad + weightDecay * p          (L2 penalty in the gradient)
///     AdamW: p = p * (1 - lr * weightDecay)      (decoupled decay)
///     m = beta1 * m + (1 - beta1) * g
///     v = beta2 * v + (1 - beta2) * g^2
///     p = p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
public class Adam: Optimizer {
    public let parameters: [Tensor]
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    /// Decoupled weight decay (AdamW) instead of an L2 term in the gradient.
    public let decoupledWeightDecay: Bool
    private var m: [Tensor]
    private var v: [Tensor]
    private var steps: [Int]

    public init(
        parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        epsilon: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false
    ) {
        strataCheck(learningRate >= 0, "Adam: learningRate must be >= 0, got \(learningRate)")
        strataCheck((0..<1).contains(betas.0) && (0..<1).contains(betas.1), "Adam: betas must be in [0, 1), got \(betas)")
        self.parameters = parameters
        self.learningRate = learningRate
        beta1 = betas.0
        beta2 = betas.1
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        m = parameters.map { Tensor(zeros: $0.shape) }
        v = parameters.map { Tensor(zeros: $0.shape) }
        steps = Array(repeating: 0, count: parameters.count)
    }

    public func step() {
        for (i, p) in parameters.enumerated() {
            guard let grad = p.grad else { continue }
            steps[i] += 1
            let t = Double(steps[i])
            let bc1 = Float(1 - Foundation.pow(Double(beta1), t))
            let bc2 = Float(1 - Foundation.pow(Double(beta2), t))
            let pp = p.data, pg = grad.data, pm = m[i].data, pv = v[i].data
            let lr = learningRate, b1 = beta1, b2 = beta2, eps = epsilon, wd = weightDecay
            let stepSize = lr / bc1, bc2Root = bc2.squareRoot()
            if decoupledWeightDecay && wd != 0 {
                let k = 1 - lr * wd
                for j in 0..<p.count { pp[j] *= k }
            }
            for j in 0..<p.count {
                let g = decoupledWeightDecay ? pg[j] : pg[j] + wd * pp[j]
                pm[j] = b1 * pm[j] + (1 - b1) * g
                pv[j] = b2 * pv[j] + (1 - b2) * g * g
                pp[j] -= stepSize * pm[j] / (pv[j].squareRoot() / bc2Root + eps)
            }
        }
    }

    public func stateDict() -> [(String, Tensor)] {
        parameters.indices.flatMap { i in
            [("\(i).exp_avg", m[i]), ("\(i).exp_avg_sq", v[i]), ("\(i).step", Tensor.scalar(Float(steps[i])))]
        }
    }

    /// Every parameter needs `i.exp_avg`, `i.exp_avg_sq` and `i.step` (a
    /// whole number in 0...2^24). In non-strict mode a parameter whose
    /// entries are missing keeps its current state.
    @discardableResult
    public func loadStateDict(_ state: [String: Tensor], strict: Bool) throws -> OptimizerStateReport {
        let names = ["exp_avg", "exp_avg_sq", "step"]
        let keys = parameters.indices.flatMap { i in names.map { "\(i).\($0)" } }
        let report = try checkStateKeys(
            state, optimizer: String(describing: type(of: self)),
            required: keys, known: Set(keys), strict: strict)
        var newSteps = steps, newM = m, newV = v
        for i in parameters.indices {
            let present = names.filter { state["\(i).\($0)"] != nil }
            if present.isEmpty { continue }
            guard present.count == names.count else {
                throw StrataError.checkpoint("optimizer state for parameter \(i) has only \(present.joined(separator: ", "))")
            }
            guard let s = state["\(i).step"], s.count == 1 else {
                throw StrataError.checkpoint("optimizer state \(i).step must hold one value")
            }
            let value = s.data[0]
            guard value.isFinite, value >= 0, value <= 16_777_216, value == value.rounded() else {
                throw StrataError.checkpoint("optimizer state \(i).step = \(value) is not a step count (a whole number in 0...2^24)")
            }
            newSteps[i] = Int(value)
            newM[i] = Tensor(zeros: parameters[i].shape)
            newV[i] = Tensor(zeros: parameters[i].shape)
            try restoreState(state, key: "\(i).exp_avg", into: newM[i])
            try restoreState(state, key: "\(i).exp_avg_sq", into: newV[i])
        }
        m = newM; v = newV; steps = newSteps
        return report
    }
}

/// AdamW: Adam with decoupled weight decay and PyTorch's default decay 0.01.
public final class AdamW: Adam {
    public init(
        parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        epsilon: Float = 1e-8, weightDecay: Float = 1e-2
    ) {
        super.init(
            parameters: parameters, learningRate: learningRate, betas: betas, epsilon: epsilon,
            weightDecay: weightDecay, decoupledWeightDecay: true)
    }
}
