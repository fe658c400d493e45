import StrataCore
import StrataNN
import StrataData
import StrataIO
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
/// `forward` runs `Sequential` containers layer by layer (recursively) and
/// checks each leaf layer's output, so the error names the first layer
/// (in execution order) whose output is not finite. `checkGradients` walks
/// parameters from the last layer to the first — the order backward
/// produces them — and names the first non-finite gradient it finds.
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

    /// `model(input)`, checking the input and every layer's output.
    public static func forward(_ model: any Module, _ input: Tensor) throws -> Tensor {
        let c = nonFiniteCounts(input)
        if c.nan + c.inf > 0 {
            throw NonFiniteError(kind: .input, name: "input", layerType: "", nanCount: c.nan, infCount: c.inf)
        }
        return try run(model, name: "", input)
    }

    private static func run(_ module: any Module, name: String, _ x: Tensor) throws -> Tensor {
        if let seq = module as? Sequential {
            var h = x
            for (child, layer) in seq.children {
                h = try run(layer, name: name.isEmpty ? child : "\(name).\(child)", h)
            }
            return h
        }
        let y = module.forward(x)
        let c = nonFiniteCounts(y)
        if c.nan + c.inf > 0 {
            throw NonFiniteError(kind: .output, name: name.isEmpty ? "(root)" : name,
                                 layerType: String(describing: type(of: module)), nanCount: c.nan, infCount: c.inf)
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
                    throw NonFiniteError(kind: .gradient, name: prefix.isEmpty ? local : "\(prefix).\(local)",
                                         layerType: String(describing: type(of: m)), nanCount: c.nan, infCount: c.inf)
                }
            }
        }
    }
}
