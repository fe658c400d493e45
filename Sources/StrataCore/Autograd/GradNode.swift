/// One recorded op of the autograd graph.
///
/// A node belongs to the tensor the op produced. It keeps the op's inputs
/// (to walk the graph) and a backward closure that receives the gradient of
/// the loss with respect to the op's output and *accumulates* into the
/// inputs' gradients (`Tensor.accumulateGrad`). The closure captures the
/// inputs and whatever the forward pass saved, never the output tensor, so
/// the graph has no reference cycles; after `backward()` the nodes are
/// released, freeing the saved tensors.
final class GradNode {
    /// Name of the op, for error messages and the non-finite guard.
    let op: String
    /// The op's inputs that require gradients.
    var inputs: [Tensor]
    /// Receives d(loss)/d(output) and accumulates into the inputs' `grad`.
    var backward: ((Tensor) -> Void)?

    init(op: String, inputs: [Tensor], backward: @escaping (Tensor) -> Void) {
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }
}

/// Whether ops record the graph (PyTorch's grad mode). Task- and
/// thread-local, so a no-grad region on one thread does not affect another.
public enum GradMode {
    @TaskLocal static var enabled = true

    /// Whether ops currently record gradients.
    public static var isEnabled: Bool { enabled }
}

/// Runs `body` without recording the autograd graph (PyTorch's `torch.no_grad()`).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$enabled.withValue(false) { try body() }
}

extension Tensor {
    /// Attaches a node to `output` when grad mode is on and any input requires
    /// gradients. `backward` gets d(loss)/d(output).
    @discardableResult
    func recordOp(_ op: String, inputs: [Tensor], backward: @escaping (Tensor) -> Void) -> Tensor {
        guard GradMode.enabled else { return self }
        let tracked = inputs.filter { $0.requiresGrad }
        guard !tracked.isEmpty else { return self }
        requiresGrad = true
        gradNode = GradNode(op: op, inputs: tracked, backward: backward)
        return self
    }

    /// Adds `g` into `grad`. When `grad` is nil, `g` becomes it: pass
    /// `owned: true` only when no one else holds `g`; otherwise it is copied.
    package func accumulateGrad(_ g: Tensor, owned: Bool = false) {
        guard requiresGrad else { return }
        strataCheck(g.count == count, "accumulateGrad: gradient shape \(g.shape) does not match tensor shape \(shape)")
        if let existing = grad {
            let d = existing.data, s = g.data
            for i in 0..<count { d[i] += s[i] }
        } else if owned && g.shape == shape {
            grad = g
        } else {
            let c = Tensor(uninitialized: shape)
            if count > 0 { c.data.update(from: g.data, count: count) }
            grad = c
        }
    }

    /// The gradient buffer, created as zeros if absent, for kernels that
    /// accumulate into it directly (for example sgemm with beta = 1).
    func gradBuffer() -> Tensor {
        if let g = grad { return g }
        let g = Tensor(zeros: shape)
        grad = g
        return g
    }

    /// Back-propagates from this tensor. Without `gradient`, the tensor must
    /// hold one element and its gradient is 1 (a scalar loss).
    ///
    /// The graph is walked in reverse topological order, iteratively (deep
    /// networks cannot overflow the stack). Afterwards the graph is freed
    /// and intermediate gradients are dropped unless `retainsGrad`.
    public func backward(_ gradient: Tensor? = nil) {
        strataCheck(requiresGrad, "backward: tensor does not require grad (no input of its graph requires grad)")
        // The seed is only read by the backward closures, so a caller's
        // gradient is used as is (no copy) unless it must be stored in `grad`.
        let seed: Tensor
        let seedIsOwned: Bool
        if let g = gradient {
            strataCheck(g.shape == shape, "backward: gradient shape \(g.shape) does not match tensor shape \(shape)")
            seed = g
            seedIsOwned = false
        } else {
            strataCheck(count == 1, "backward: implicit gradient only for a one-element tensor, this one has shape \(shape)")
            seed = Tensor.full(shape, 1)
            seedIsOwned = true
        }

        // Iterative post-order DFS gives a topological order (inputs before outputs).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            let id = ObjectIdentifier(t)
            if visited.contains(id) { continue }
            visited.insert(id)
            stack.append((t, true))
            if let node = t.gradNode {
                for input in node.inputs where !visited.contains(ObjectIdentifier(input)) {
                    stack.append((input, false))
                }
            }
        }

        if isLeaf || retainsGrad { accumulateGrad(seed, owned: seedIsOwned) }
        for t in order.reversed() {
            guard let node = t.gradNode else { continue }
            let incoming = t === self ? seed : t.grad
            if let g = incoming, let fn = node.backward { fn(g) }
            node.backward = nil
            node.inputs = []
            t.gradNode = nil
            if !t.retainsGrad { t.grad = nil }
        }
    }
}
