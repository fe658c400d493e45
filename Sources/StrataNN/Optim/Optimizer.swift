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
    /// Restores what `stateDict()` returned. Everything is checked before
    /// anything changes. With `strict` a missing, unknown or misshapen key is
    /// a thrown `StrataError.checkpoint` naming it (so a state saved by a
    /// different optimiser type fails on its keys); with `strict: false`
    /// missing and unknown keys are skipped and returned in the report
    /// (shapes and values must still be valid).
    @discardableResult
    func loadStateDict(_ state: [String: Tensor], strict: Bool) throws -> OptimizerStateReport
}

/// Keys that a non-strict optimiser load skipped.
public struct OptimizerStateReport: Equatable, Sendable {
    /// State keys the optimiser expected and the source did not provide.
    public let missingKeys: [String]
    /// Keys of the source that the optimiser does not use.
    public let unexpectedKeys: [String]
}

extension Optimizer {
    /// Strict load: missing, unknown and misshapen keys are errors.
    @discardableResult
    public func loadStateDict(_ state: [String: Tensor]) throws -> OptimizerStateReport {
        try loadStateDict(state, strict: true)
    }

    /// Clears the gradients of every parameter (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for p in parameters { p.grad = nil }
    }
}

/// Checks `state`'s keys against `required` (keys the optimiser needs) and
/// `known` (every key it can use, a superset of `required`). Throws in strict
/// mode on missing or unknown keys, naming them and the optimiser.
func checkStateKeys(
    _ state: [String: Tensor], optimizer: String, required: [String], known: Set<String>, strict: Bool
) throws -> OptimizerStateReport {
    let missing = required.filter { state[$0] == nil }
    let unexpected = state.keys.filter { !known.contains($0) }.sorted()
    if strict {
        var problems: [String] = []
        if !missing.isEmpty { problems.append("missing keys: " + missing.map { "\"\($0)\"" }.joined(separator: ", ")) }
        if !unexpected.isEmpty {
            problems.append("unexpected keys: " + unexpected.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        if !problems.isEmpty {
            throw StrataError.checkpoint("cannot load optimizer state into \(optimizer): " + problems.joined(separator: "; "))
        }
    }
    return OptimizerStateReport(missingKeys: missing, unexpectedKeys: unexpected)
}

/// Copies a saved state tensor into `target`, checking the shape.
func restoreState(_ state: [String: Tensor], key: String, into target: Tensor) throws {
    guard let t = state[key] else { throw StrataError.checkpoint("optimizer state is missing \(key)") }
    guard t.shape == target.shape else {
        throw StrataError.checkpoint("optimizer state \(key) has shape \(t.shape), expected \(target.shape)")
    }
    target.assign(t)
}
