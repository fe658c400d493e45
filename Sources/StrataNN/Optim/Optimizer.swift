import StrataCore

/// An optimiser updates parameters in place from their `grad` (PyTorch's
/// `torch.optim`). It only ever sees parameters, never buffers.
public protocol Optimizer: AnyObject {
    /// The parameter groups with their hyperparameters, every option the
    /// optimiser uses filled in (PyTorch's `param_groups`). Options may be
    /// changed (schedulers set `learningRate`); the parameters of a group and
    /// which options it has may not.
    var paramGroups: [ParameterGroup] { get set }
    /// Applies one update from the current gradients. Parameters without a
    /// gradient are skipped, as in PyTorch.
    func step()
    /// Per-parameter state (momentum buffers, moments, step counts) by key
    /// `i.name`, `i` counting parameters across groups in order, so training
    /// can resume exactly.
    func stateDict() -> [(String, Tensor)]
    /// Restores what `stateDict()` returned. Everything is checked before
    /// anything changes. With `strict` a missing, unknown or misshapen key is
    /// a thrown `StrataError.checkpoint` naming it (so a state saved by a
    /// different optimiser type fails on its keys); with `strict: false`
    /// missing and unknown keys are skipped and returned in the report
    /// (shapes and values must still be valid).
    @discardableResult
    func loadStateDict(_ state: [String: Tensor], strict: Bool) throws -> OptimizerStateReport
    /// What is wrong with `group`'s option values for this optimiser (a
    /// negative rate, betas outside [0, 1)), or nil; checkpoints check
    /// saved groups with it before setting `paramGroups`.
    func problem(with group: ParameterGroup) -> String?
}

/// Keys that a non-strict optimiser load skipped.
public struct OptimizerStateReport: Equatable, Sendable {
    /// State keys the optimiser expected and the source did not provide.
    public let missingKeys: [String]
    /// Keys of the source that the optimiser does not use.
    public let unexpectedKeys: [String]
}

extension Optimizer {
    /// Every parameter of every group, in state-index order.
    public var parameters: [Tensor] { paramGroups.flatMap(\.parameters) }

    /// The first group's rate; setting it sets every group's rate (with one
    /// group, simply the rate). Schedulers set each group's own rate.
    public var learningRate: Float {
        get { paramGroups.first?.learningRate ?? 0 }
        set {
            var groups = paramGroups
            for i in groups.indices { groups[i].learningRate = newValue }
            paramGroups = groups
        }
    }

    /// Each group's rate.
    public var learningRates: [Float] { paramGroups.map { $0.learningRate ?? 0 } }

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

/// One parameter's state as read from a state dict: its step count (when
/// the optimiser keeps one) and its tensors by slot name.
struct LoadedSlots {
    var step: Int
    var tensors: [String: Tensor]
}

/// Checks and copies per-parameter state `i.<slot>` (tensors shaped like
/// parameter i) and, with `withStep`, `i.step` (a whole number in
/// 0...2^24). `slots(i)` names parameter i's slots. A parameter with none of
/// its keys gets nil (possible only with `strict: false`, or when
/// `emptyIsFresh` and the whole state is empty); one with only some is an
/// error. Nothing is changed: the caller assigns the copies.
func loadSlots(
    _ state: [String: Tensor], parameters: [Tensor], optimizer: String, strict: Bool, withStep: Bool,
    emptyIsFresh: Bool = false, slots: (Int) -> [String]
) throws -> (OptimizerStateReport, [LoadedSlots?]) {
    let names = parameters.indices.map { i in slots(i) + (withStep ? ["step"] : []) }
    let keys = parameters.indices.flatMap { i in names[i].map { "\(i).\($0)" } }
    let report = try checkStateKeys(
        state, optimizer: optimizer, required: emptyIsFresh && state.isEmpty ? [] : keys, known: Set(keys),
        strict: strict)
    var loaded: [LoadedSlots?] = []
    for (i, p) in parameters.enumerated() {
        let present = names[i].filter { state["\(i).\($0)"] != nil }
        if present.isEmpty {
            loaded.append(nil)
            continue
        }
        guard present.count == names[i].count else {
            throw StrataError.checkpoint("optimizer state for parameter \(i) has only \(present.joined(separator: ", "))")
        }
        var step = 0
        if withStep {
            guard let s = state["\(i).step"], s.count == 1 else {
                throw StrataError.checkpoint("optimizer state \(i).step must hold one value")
            }
            let value = s.data[0]
            guard value.isFinite, value >= 0, value <= 16_777_216, value == value.rounded() else {
                throw StrataError.checkpoint("optimizer state \(i).step = \(value) is not a step count (a whole number in 0...2^24)")
            }
            step = Int(value)
        }
        var tensors: [String: Tensor] = [:]
        for name in slots(i) {
            let t = Tensor(zeros: p.shape)
            try restoreState(state, key: "\(i).\(name)", into: t)
            tensors[name] = t
        }
        loaded.append(LoadedSlots(step: step, tensors: tensors))
    }
    return (report, loaded)
}

/// The state-dict entries `i.<slot>` and `i.step` of dense per-parameter state.
func slotEntries(_ slots: [(String, [Tensor])], steps: [Int]?) -> [(String, Tensor)] {
    let count = slots.first?.1.count ?? steps?.count ?? 0
    return (0..<count).flatMap { i in
        slots.map { ("\(i).\($0.0)", $0.1[i]) } + (steps.map { [("\(i).step", Tensor.scalar(Float($0[i])))] } ?? [])
    }
}
