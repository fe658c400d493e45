import StrataCore
import StrataNN

/// Saving and loading a module's parameters and buffers.
///
/// A model file is a safetensors file whose keys are exactly PyTorch's
/// `state_dict()` keys (`0.weight`, `1.running_mean`,
/// `1.num_batches_tracked`) with metadata `{"format": "pt"}`, so
///
///     model.load_state_dict(safetensors.torch.load_file("model.safetensors"))
///
/// works on the equivalent `torch.nn.Sequential`, and a file written by
/// `safetensors.torch.save_file(model.state_dict(), ...)` loads here.
extension Module {
    /// Writes `stateDict()` to `path` atomically as safetensors.
    public func saveSafetensors(to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDict(), metadata: ["format": "pt"].merging(metadata) { $1 }, to: path)
    }

    /// Loads parameters and buffers from a safetensors file written by
    /// Strata or PyTorch. The file and the key/shape match are validated
    /// completely before any tensor of the module changes. `strict: false`
    /// ignores missing and unexpected keys (shapes must still match).
    /// Returns the keys that were skipped in non-strict mode.
    @discardableResult
    public func loadSafetensors(from path: String, strict: Bool = true) throws -> StateDictReport {
        let file = try SafeTensors.read(path)
        return try loadStateDict(file.tensors(), strict: strict, source: path)
    }

    /// Copies `state` into the module's parameters and buffers in place,
    /// after checking every key and shape; nothing changes if it throws.
    ///
    /// Throws `StrataError.checkpoint` listing missing keys, unexpected keys
    /// (both only when `strict`) and shape mismatches, each by name.
    @discardableResult
    public func loadStateDict(_ state: [(String, Tensor)], strict: Bool = true, source: String = "state dict") throws -> StateDictReport {
        let plan = try planStateDictLoad(state, strict: strict, source: source)
        for (target, value) in plan.copies { target.assign(value) }
        return plan.report
    }

    /// Validates `state` against the module and returns the copies to make,
    /// without changing anything.
    func planStateDictLoad(_ state: [(String, Tensor)], strict: Bool, source: String) throws
        -> (copies: [(Tensor, Tensor)], report: StateDictReport)
    {
        let own = stateDict()
        var given: [String: Tensor] = [:]
        for (k, t) in state {
            guard given.updateValue(t, forKey: k) == nil else {
                throw StrataError.checkpoint("\(source): duplicate key \"\(k)\"")
            }
        }
        var copies: [(Tensor, Tensor)] = []
        var missing: [String] = []
        var problems: [String] = []
        for (key, target) in own {
            guard let value = given[key] else { missing.append(key); continue }
            if value.shape != target.shape {
                problems.append("\"\(key)\" has shape \(value.shape) in \(source) but \(target.shape) in the module")
            } else {
                copies.append((target, value))
            }
        }
        let ownKeys = Set(own.map(\.0))
        let unexpected = state.map(\.0).filter { !ownKeys.contains($0) }
        if problems.count > shownKeys {
            problems = Array(problems.prefix(shownKeys)) + ["and \(problems.count - shownKeys) more shape mismatches"]
        }
        if strict && !(missing.isEmpty && unexpected.isEmpty) {
            problems.insert(keyMismatchSummary(missing: missing, unexpected: unexpected), at: 0)
        }
        guard problems.isEmpty else {
            throw StrataError.checkpoint("\(source): cannot load into \(type(of: self)): " + problems.joined(separator: "; "))
        }
        return (copies, StateDictReport(missingKeys: missing, unexpectedKeys: unexpected))
    }
}

/// Keys that a non-strict load skipped (PyTorch's `_IncompatibleKeys`).
public struct StateDictReport: Equatable, Sendable {
    /// Keys of the module that the source did not provide.
    public let missingKeys: [String]
    /// Keys of the source that the module does not have.
    public let unexpectedKeys: [String]
}

/// How many keys a load error names of each kind.
private let shownKeys = 5

/// "23 missing, 56 unexpected keys: a different architecture?; missing keys: "a",
/// "b", ... (18 more); unexpected ...": counts first, then the first few of
/// each kind, and a hint when one side is the other with a prefix
/// (`module.` from DataParallel).
func keyMismatchSummary(missing: [String], unexpected: [String]) -> String {
    func names(_ keys: [String]) -> String {
        keys.prefix(shownKeys).map { "\"\($0)\"" }.joined(separator: ", ")
            + (keys.count > shownKeys ? ", ... (\(keys.count - shownKeys) more)" : "")
    }
    func plural(_ n: Int) -> String { n == 1 ? "key" : "keys" }
    var head: String
    if missing.isEmpty {
        head = "\(unexpected.count) unexpected \(plural(unexpected.count))"
    } else if unexpected.isEmpty {
        head = "\(missing.count) missing \(plural(missing.count))"
    } else {
        head = "\(missing.count) missing, \(unexpected.count) unexpected \(plural(unexpected.count))"
        if let prefix = commonExtraPrefix(unexpected, over: missing) {
            head += ": the file's keys carry the prefix \"\(prefix)\" (a wrapped model, e.g. DataParallel); remove it"
        } else if let prefix = commonExtraPrefix(missing, over: unexpected) {
            head += ": the module's keys have the prefix \"\(prefix)\" that the file's lack"
        } else {
            head += ": a different architecture?"
        }
    }
    var parts = [head]
    if !missing.isEmpty { parts.append("missing keys: " + names(missing)) }
    if !unexpected.isEmpty { parts.append("unexpected keys: " + names(unexpected)) }
    return parts.joined(separator: "; ")
}

/// The prefix p with `longer` == p + each of `shorter` (as sets), if any.
private func commonExtraPrefix(_ longer: [String], over shorter: [String]) -> String? {
    guard longer.count == shorter.count, let l = longer.first else { return nil }
    let target = Set(shorter)
    for s in shorter where l.count > s.count && l.hasSuffix(s) {
        let prefix = String(l.dropLast(s.count))
        if longer.allSatisfy({ $0.hasPrefix(prefix) }) && Set(longer.map { String($0.dropFirst(prefix.count)) }) == target {
            return prefix
        }
    }
    return nil
}
