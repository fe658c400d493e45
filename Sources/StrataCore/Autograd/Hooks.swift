/// Gradient hooks on tensors (PyTorch's `Tensor.register_hook`).

import Foundation

/// One registered hook: called with a tensor's gradient during backward.
struct GradHook {
    let id: Int
    let body: (Tensor) -> Tensor?
}

/// Removes the hook it was returned for (PyTorch's `RemovableHandle`).
/// Dropping the handle does not remove the hook.
public final class HookHandle {
    private weak var tensor: Tensor?
    private let id: Int

    init(tensor: Tensor, id: Int) {
        self.tensor = tensor
        self.id = id
    }

    /// Unregisters the hook; calling it again does nothing.
    public func remove() {
        tensor?.gradHooks.removeAll { $0.id == id }
    }
}

/// Hook ids, unique per process so a handle never removes another hook.
private let hookIDs = HookIDCounter()

private final class HookIDCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    func take() -> Int {
        lock.lock(); defer { lock.unlock() }
        next += 1
        return next
    }
}

extension Tensor {
    /// Registers `hook`, called during every later `backward()` with this
    /// tensor's gradient of that pass (same shape as the tensor). Returning
    /// a tensor replaces the gradient: for a leaf, what accumulates into
    /// `grad`; for an intermediate tensor, what flows on to its inputs (and
    /// into `grad` when `retainsGrad`). Return nil to leave it unchanged.
    /// Hooks run in registration order, each seeing the previous one's
    /// result; they run without recording a graph.
    ///
    ///     let h = hidden.registerHook { g in g * 0.5 }     // halve what flows back
    ///     let watch = w.registerHook { g in print(g.scalars); return nil }
    ///     loss.backward()
    ///     h.remove()
    ///
    /// The tensor must require gradients. The tensor keeps its hooks alive:
    /// a hook that needs the tensor itself should capture it `[weak t]`, or
    /// the two keep each other alive.
    @discardableResult
    public func registerHook(_ hook: @escaping (Tensor) -> Tensor?) -> HookHandle {
        strataCheck(requiresGrad, "registerHook: cannot register a hook on a tensor (shape \(shape)) that does not require grad")
        let id = hookIDs.take()
        gradHooks.append(GradHook(id: id, body: hook))
        return HookHandle(tensor: self, id: id)
    }
}
