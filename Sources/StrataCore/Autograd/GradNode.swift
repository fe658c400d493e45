/// One recorded op of the autograd graph.
///
/// A node belongs to the tensor the op produced. It keeps the op's inputs
/// (to walk the graph) and a backward closure that receives the gradient of
/// the loss with respect to the op's output and *accumulates* into the
/// inputs' gradients (`Tensor.accumulateGrad`). The closure captures the
/// inputs and whatever the forward pass saved, never the output tensor, so
/// the graph has no reference cycles.
///
/// `backward()` frees a node (drops its closure, its saved tensors and its
/// inputs) unless called with `retainGraph: true`. The freed node stays on
/// its tensor as a marker, so a later backward through it is refused with a
/// message naming the op instead of silently skipping that part of the graph.
final class GradNode {
    /// Name of the op, for error messages and the non-finite guard.
    let op: String
    /// The op's inputs that require gradients.
    var inputs: [Tensor]
    /// Receives d(loss)/d(output) and accumulates into the inputs' `grad`;
    /// nil once an earlier backward freed the node.
    var backward: ((Tensor) -> Void)?

    /// Whether an earlier `backward()` released this node's saved state.
    var isFreed: Bool { backward == nil }

    init(op: String, inputs: [Tensor], backward: @escaping (Tensor) -> Void) {
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }

    /// Drops the closure (and with it the saved tensors) and the inputs.
    func free() {
        backward = nil
        inputs = []
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

    /// The gradient buffer for a kernel that can either add to it or write
    /// all of it: when absent it is created uninitialised and `fresh` is
    /// true (the kernel must then write every element, which saves the pass
    /// that zeroes it); otherwise the existing buffer, to add to.
    func gradBufferForWriting() -> (buffer: Tensor, fresh: Bool) {
        if let g = grad { return (g, false) }
        let g = Tensor(uninitialized: shape)
        grad = g
        return (g, true)
    }

    /// Checks that `backward(gradient)` can run from this tensor, without
    /// running it: the tensor requires grad, the gradient has its shape (or
    /// the tensor has one element), and no part of its graph was freed by
    /// an earlier backward. Throws `StrataError.invalidArgument` naming the
    /// problem (and the op whose saved state is gone); `backward` traps with
    /// the same message.
    public func validateBackward(_ gradient: Tensor? = nil) throws {
        _ = try backwardOrder(gradient)
    }

    /// The tensors of the graph in topological order (inputs before
    /// outputs, this tensor last), after checking the call is valid.
    /// Iterative post-order DFS, so deep graphs cannot overflow the stack.
    func backwardOrder(_ gradient: Tensor?) throws -> [Tensor] {
        guard requiresGrad else {
            throw StrataError.invalidArgument("backward: tensor does not require grad (no input of its graph requires grad)")
        }
        if let g = gradient {
            guard g.shape == shape else {
                throw StrataError.invalidArgument("backward: gradient shape \(g.shape) does not match tensor shape \(shape)")
            }
        } else if count != 1 {
            throw StrataError.invalidArgument("backward: implicit gradient only for a one-element tensor, this one has shape \(shape)")
        }
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
                if node.isFreed {
                    throw StrataError.invalidArgument(
                        "backward: trying to backward through the graph a second time: the saved values of op \"\(node.op)\" "
                            + "(output shape \(t.shape)) were freed by an earlier backward(). Call the first backward(retainGraph: true) "
                            + "to keep the graph for another pass, or sum the losses and call backward() once")
                }
                for input in node.inputs where !visited.contains(ObjectIdentifier(input)) {
                    stack.append((input, false))
                }
            }
        }
        return order
    }

    /// Back-propagates from this tensor. Without `gradient`, the tensor must
    /// hold one element and its gradient is 1 (a scalar loss).
    ///
    /// The graph is walked in reverse topological order. Gradients of leaves
    /// accumulate into `grad` across calls (as in PyTorch); intermediate
    /// gradients are dropped unless `retainsGrad`. Gradient hooks
    /// (`registerHook`) see each tensor's gradient of this pass and may
    /// replace it. No graph is recorded while the backward closures run.
    ///
    /// Afterwards the graph is freed (saved tensors released), unless
    /// `retainGraph` (PyTorch's `retain_graph=True`): then another backward
    /// through the same graph is possible, for example
    /// `l1.backward(retainGraph: true); l2.backward()` for two losses on a
    /// shared trunk, which accumulates the same gradients as
    /// `(l1 + l2).backward()`. A backward through a freed graph traps with a
    /// message naming the op (`validateBackward` checks without trapping).
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) {
        let order = strataTry { try backwardOrder(gradient) }
        // The seed is only read by the backward closures, so a caller's
        // gradient is used as is (no copy) unless it must be stored in `grad`.
        let seed = gradient ?? Tensor.full(shape, 1)
        let seedIsOwned = gradient == nil
        withNoGrad { runBackward(order: order, seed: seed, seedIsOwned: seedIsOwned, retainGraph: retainGraph) }
    }

    private func runBackward(order: [Tensor], seed: Tensor, seedIsOwned: Bool, retainGraph: Bool) {
        // A tensor whose gradient of this pass must be seen on its own (a
        // non-leaf, or a tensor with hooks) collects it in a fresh `grad`;
        // what `grad` held before is set aside and added back afterwards.
        var setAside: [ObjectIdentifier: Tensor] = [:]
        for t in order where t.gradNode != nil || !t.gradHooks.isEmpty {
            if let g = t.grad { setAside[ObjectIdentifier(t)] = g }
            t.grad = nil
        }
        if gradNode == nil && gradHooks.isEmpty { accumulateGrad(seed, owned: seedIsOwned) }

        for t in order.reversed() {
            let node = t.gradNode
            guard node != nil || !t.gradHooks.isEmpty else { continue }  // a plain leaf: already accumulated
            var g = t === self ? seed : t.grad
            var owned = t === self ? seedIsOwned : true
            t.grad = nil
            if var current = g {
                for hook in t.gradHooks {
                    guard let replaced = hook.body(current) else { continue }
                    strataCheck(
                        replaced.shape == t.shape,
                        "gradient hook: returned a gradient of shape \(replaced.shape) for a tensor of shape \(t.shape)")
                    current = replaced
                    owned = false
                }
                g = current
            }
            if let node {
                if let g, let fn = node.backward { fn(g) }
                if !retainGraph { node.free() }
            }
            let old = setAside[ObjectIdentifier(t)]
            guard node == nil || t.retainsGrad else { t.grad = nil; continue }
            // A leaf with hooks, or a retained non-leaf: old + this pass.
            if let g {
                if let old {
                    let d = old.data, s = g.data
                    for i in 0..<t.count { d[i] += s[i] }
                    t.grad = old
                } else {
                    t.grad = owned ? g : g.copy()
                }
            } else {
                t.grad = old
            }
        }
    }
}
