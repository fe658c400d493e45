import StrataCore
/// An optimiser updates parameters in place from their `grad` (PyTorch's
/// `torch.optim`). It only ever sees parameters, never buffers.
public protocol Optimizer: AnyObject {
    /// The tensors this optimiser updates.
    var parameters: [Tensor] { get }
    /// Current learning rate (schedulers set it).
    var learningRate: Float { get set }
    /// Applies one update from the current gradients. Parameters without a
    /// gradient are skipped, as in PyTorch.
    func step()
    /// Per-parameter state (momentum buffers, moments, step counts) by key,
    /// so training can resume exactly.
    func stateDict() -> [(String, Tensor)]
    /// Restores what `stateDict()` returned; throws on missing or misshapen entries.
    func loadStateDict(_ state: [String: Tensor]) throws
}

extension Optimizer {
    /// Clears the gradients of every parameter (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for p in parameters { p.grad = nil }
    }
}

/// Copies a saved state tensor into `target`, checking the shape.
func restoreState(_ state: [String: Tensor], key: String, into target: Tensor) throws {
    guard let t = state[key] else { throw StrataError.checkpoint("optimizer state is missing \(key)") }
    guard t.shape == target.shape else {
        throw StrataError.checkpoint("optimizer state \(key) has shape \(t.shape), expected \(target.shape)")
    }
    target.assign(t)
}
