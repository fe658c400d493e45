import StrataCore

/// Stochastic gradient descent with PyTorch's `torch.optim.SGD` semantics:
///
///     g = grad + weightDecay * p
///     b = momentum * b + (1 - dampening) * g     (b = g on the first step)
///     g = nesterov ? g + momentum * b : b        (when momentum != 0)
///     p = p - lr * g
public final class SGD: Optimizer {
    public let parameters: [Tensor]
    public var learningRate: Float
    public let momentum: Float
    public let dampening: Float
    public let weightDecay: Float
    public let nesterov: Bool
    private var buffers: [Tensor?]

    public init(
        parameters: [Tensor], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
        weightDecay: Float = 0, nesterov: Bool = false
    ) {
        strataCheck(learningRate >= 0, "SGD: learningRate must be >= 0, got \(learningRate)")
        strataCheck(momentum >= 0, "SGD: momentum must be >= 0, got \(momentum)")
        strataCheck(!nesterov || (momentum > 0 && dampening == 0), "SGD: nesterov needs momentum > 0 and dampening 0")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        buffers = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        let lr = learningRate, mu = momentum, wd = weightDecay, damp = 1 - dampening
        for (i, p) in parameters.enumerated() {
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

    public func stateDict() -> [(String, Tensor)] {
        buffers.enumerated().compactMap { i, b in b.map { ("\(i).momentum_buffer", $0) } }
    }

    /// With momentum, a parameter has a buffer once it has been stepped; a
    /// strict load of a non-empty state needs one for every parameter (load
    /// state of partly frozen models with `strict: false`). Without
    /// momentum there is no state, and any key is unexpected.
    @discardableResult
    public func loadStateDict(_ state: [String: Tensor], strict: Bool) throws -> OptimizerStateReport {
        let keys = parameters.indices.map { "\($0).momentum_buffer" }
        let report = try checkStateKeys(
            state, optimizer: "SGD(momentum: \(momentum))",
            required: momentum == 0 || state.isEmpty ? [] : keys,
            known: momentum == 0 ? [] : Set(keys), strict: strict)
        var restored = buffers
        if momentum != 0 {
            for (i, p) in parameters.enumerated() where state[keys[i]] != nil {
                let b = Tensor(zeros: p.shape)
                try restoreState(state, key: keys[i], into: b)
                restored[i] = b
            }
        }
        buffers = restored
        return report
    }
}
