import StrataCore
import StrataData
import StrataIO
import StrataNN

/// Raised by `NaNGuard` when a value became NaN or infinite, naming where.
public struct NonFiniteError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        case input, output, loss, gradient
    }
    /// What went non-finite.
    public let kind: Kind
    /// The layer name (`"2"`, `"features.1"`) for outputs, the parameter
    /// key (`"2.weight"`) for gradients, `"loss"` or `"input"` otherwise.
    public let name: String
    /// The layer's type, when known (`"Linear"`).
    public let layerType: String
    /// How many elements were NaN and how many infinite.
    public let nanCount: Int, infCount: Int

    public var description: String {
        let what: String
        switch kind {
        case .input: what = "the input"
        case .output: what = "the output of layer \"\(name)\" (\(layerType))"
        case .loss: what = "the loss"
        case .gradient: what = "the gradient of \"\(name)\" (\(layerType))"
        }
        return "non-finite values in \(what): \(nanCount) NaN, \(infCount) infinite"
    }
}

/// Stops training at the first non-finite value, naming the layer.
///
///     let logits = try NaNGuard.forward(model, batch.images)
///     let loss = crossEntropy(logits, labels: batch.labels)
///     try NaNGuard.check(loss: loss)
///     loss.backward()
///     try NaNGuard.checkGradients(model)
///
/// `forward` watches every module call of the tree while the model runs
/// (any module, not only `Sequential`: calls written `module(x)`), and
/// names, by its dotted key (`"layer1.0.conv2"`), the first module in
/// execution order whose output is not finite. When a module's input is
/// already non-finite although every module before it was fine, the values
/// went bad in the enclosing module's own code between its children (an
/// addition, a scale), and that enclosing module is named. A module called
/// through `forward(x)` directly counts as part of its caller. The pass
/// runs to the end; on an error, every buffer (running statistics) is put
/// back as it was before the call, so a skipped batch leaves no NaN behind.
/// `checkGradients` walks parameters from the last layer to the first —
/// the order backward produces them — and names the first non-finite
/// gradient it finds.
public enum NaNGuard {
    /// Counts NaN and infinite elements of `t`.
    public static func nonFiniteCounts(_ t: Tensor) -> (nan: Int, inf: Int) {
        var nan = 0, inf = 0
        let p = t.data
        for i in 0..<t.count where !p[i].isFinite {
            if p[i].isNaN { nan += 1 } else { inf += 1 }
        }
        return (nan, inf)
    }

    /// `model(input)`, checking the input and every module's output.
    public static func forward(_ model: any Module, _ input: Tensor) throws -> Tensor {
        let c = nonFiniteCounts(input)
        if c.nan + c.inf > 0 {
            throw NonFiniteError(kind: .input, name: "input", layerType: "", nanCount: c.nan, infCount: c.inf)
        }
        let watch = NonFiniteWatch(ModuleNames(model))
        let saved = model.namedBuffers().map { ($0.1, $0.1.scalars) }
        let y = withForwardObserver(watch) { model(input) }
        if let error = watch.first {
            for (buffer, values) in saved {
                let p = buffer.data
                for i in values.indices { p[i] = values[i] }
            }
            throw error
        }
        return y
    }

    /// Throws when the loss is not finite.
    public static func check(loss: Tensor) throws {
        let c = nonFiniteCounts(loss)
        if c.nan + c.inf > 0 {
            throw NonFiniteError(kind: .loss, name: "loss", layerType: "", nanCount: c.nan, infCount: c.inf)
        }
    }

    /// Throws naming the parameter whose gradient is not finite (checked
    /// from the last layer to the first).
    public static func checkGradients(_ model: any Module) throws {
        let owners = model.namedModules()
        for (prefix, m) in owners.reversed() {
            for (local, p) in m.ownParameters.reversed() {
                guard let g = p.grad else { continue }
                let c = nonFiniteCounts(g)
                if c.nan + c.inf > 0 {
                    throw NonFiniteError(
                        kind: .gradient, name: prefix.isEmpty ? local : "\(prefix).\(local)",
                        layerType: String(describing: type(of: m)), nanCount: c.nan, infCount: c.inf)
                }
            }
        }
    }
}

/// Records the first module whose output (or whose own code) went non-finite.
private final class NonFiniteWatch: ForwardObserver, @unchecked Sendable {
    let names: ModuleNames
    /// The tree modules whose forward is running, innermost last.
    var running: [(name: String, module: any Module)] = []
    var first: NonFiniteError?

    init(_ names: ModuleNames) { self.names = names }

    func observe(_ module: any Module, _ input: Tensor, _ forward: (Tensor) -> Tensor) -> Tensor {
        guard let name = names.name(of: module) else { return forward(input) }
        if first == nil, let enclosing = running.last { record(input, enclosing.name, enclosing.module) }
        running.append((name, module))
        let y = forward(input)
        running.removeLast()
        if first == nil { record(y, name, module) }
        return y
    }

    private func record(_ t: Tensor, _ name: String, _ module: any Module) {
        let c = NaNGuard.nonFiniteCounts(t)
        if c.nan + c.inf > 0 {
            first = NonFiniteError(
                kind: .output, name: name.isEmpty ? "(root)" : name,
                layerType: String(describing: type(of: module)), nanCount: c.nan, infCount: c.inf)
        }
    }
}
