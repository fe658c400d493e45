import StrataCore

/// Printing a module tree: PyTorch's `repr(model)` and a torchinfo-style
/// summary table.

extension Module {
    /// PyTorch's `repr(model)`: `Type(config)` per module, children
    /// indented as `(name): ...`, runs of identical entries in a
    /// `ModuleList` folded as `(0-1): 2 x Block(...)`.
    public var description: String { moduleTreeDescription(self) }

    /// A table of every module (dotted name and type, output shape when
    /// `inputShape` is given, own parameter count) and the totals, like
    /// torchinfo's `summary`. With an input shape, one forward pass runs on
    /// zeros in eval mode without gradients (train/eval flags restored;
    /// eval mode leaves running statistics unchanged). Only `module(x)` calls are seen.
    public func summary(inputShape: [Int]? = nil) -> String {
        let names = ModuleNames(self)
        var shapes: [ObjectIdentifier: [Int]] = [:]
        if let shape = inputShape {
            let recorder = ShapeRecorder()
            let modes = names.modules.map(\.1.training)
            eval()
            _ = withNoGrad { withForwardObserver(recorder) { self(Tensor(zeros: shape)) } }
            for ((_, m), t) in zip(names.modules, modes) { m.training = t }
            shapes = recorder.shapes
        }
        var rows: [[String]] = []
        for (name, m) in names.modules {
            let type = String(describing: Swift.type(of: m))
            let own = m.ownParameters.reduce(0) { $0 + $1.1.count }
            var row = [name.isEmpty ? type : "\(name) (\(type))"]
            if inputShape != nil { row.append(shapes[ObjectIdentifier(m)].map { "\($0)" } ?? "--") }
            row.append(own == 0 ? "--" : groupedDigits(own))
            rows.append(row)
        }
        var header = ["Layer (type)"]
        if inputShape != nil { header.append("Output shape") }
        header.append("Param #")
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, s in
                c == cells.count - 1
                    ? String(repeating: " ", count: widths[c] - s.count) + s
                    : s + String(repeating: " ", count: widths[c] - s.count + 3)
            }.joined()
        }
        let rule = String(repeating: "=", count: widths.reduce(0, +) + 3 * (widths.count - 1))
        let params = parameters()
        let total = params.reduce(0) { $0 + $1.count }
        let trainable = params.filter(\.requiresGrad).reduce(0) { $0 + $1.count }
        let buffers = namedBuffers().reduce(0) { $0 + $1.1.count }
        return
            ([rule, line(header), rule] + rows.map(line) + [
                rule,
                "Total params: \(groupedDigits(total))",
                "Trainable params: \(groupedDigits(trainable))",
                "Non-trainable params: \(groupedDigits(total - trainable))",
                "Buffer values (not trained): \(groupedDigits(buffers))",
                rule,
            ]).joined(separator: "\n")
    }
}

/// Records each module's first output shape.
private final class ShapeRecorder: ForwardObserver, @unchecked Sendable {
    var shapes: [ObjectIdentifier: [Int]] = [:]
    func observe(_ module: any Module, _ input: Tensor, _ forward: (Tensor) -> Tensor) -> Tensor {
        let y = forward(input)
        if shapes[ObjectIdentifier(module)] == nil { shapes[ObjectIdentifier(module)] = y.shape }
        return y
    }
}

/// PyTorch's `Module.__repr__` (and `ModuleList.__repr__`).
private func moduleTreeDescription(_ m: any Module) -> String {
    let name = (m as? any PrintedTypeName)?.printedTypeName ?? String(describing: type(of: m))
    var lines: [String]
    if let list = m as? ModuleList {
        if list.modules.isEmpty { return "\(name)()" }
        lines = []
        var runs: [(start: Int, end: Int, text: String)] = []
        for (i, item) in list.modules.enumerated() {
            let text = moduleTreeDescription(item)
            if let last = runs.last, last.text == text { runs[runs.count - 1].end = i } else { runs.append((i, i, text)) }
        }
        for r in runs {
            let head = r.start == r.end ? "(\(r.start)): " : "(\(r.start)-\(r.end)): \(r.end - r.start + 1) x "
            lines.append(indented(head + r.text))
        }
        return "\(name)(\n  " + lines.joined(separator: "\n  ") + "\n)"
    }
    let extra = m.extraRepresentation
    let extraLines = extra.isEmpty ? [] : extra.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let childLines = m.children.map { indented("(\($0.0)): " + moduleTreeDescription($0.1)) }
    lines = extraLines + childLines
    if lines.isEmpty { return "\(name)()" }
    if extraLines.count == 1 && childLines.isEmpty { return "\(name)(\(extraLines[0]))" }
    return "\(name)(\n  " + lines.joined(separator: "\n  ") + "\n)"
}

/// Indents every line but the first by two spaces (PyTorch's `_addindent`).
private func indented(_ s: String) -> String {
    s.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        .map { $0.offset == 0 ? String($0.element) : "  " + $0.element }.joined(separator: "\n")
}

/// 1234567 -> "1,234,567".
private func groupedDigits(_ n: Int) -> String {
    let s = String(n.magnitude)
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}

/// Python's spellings, for configuration lines in PyTorch's wording.
package enum PythonRepr {
    /// `True` / `False`.
    package static func bool(_ b: Bool) -> String { b ? "True" : "False" }
    /// A float as Python prints it for the usual values (`1e-05`, `0.1`, `1.0`).
    package static func float(_ x: Float) -> String { x.description }
    /// `None` for nil.
    package static func float(_ x: Float?) -> String { x.map(float) ?? "None" }
    /// `2` for a square size, `(2, 3)` otherwise (pooling keeps what was given).
    package static func size(_ s: Size2) -> String { s.height == s.width ? "\(s.height)" : pair(s) }
    /// `(2, 3)`, always a tuple (convolution normalises to tuples).
    package static func pair(_ s: Size2) -> String { "(\(s.height), \(s.width))" }
    /// `(8,)` or `(4, 5)`.
    package static func tuple(_ xs: [Int]) -> String {
        xs.count == 1 ? "(\(xs[0]),)" : "(" + xs.map(String.init).joined(separator: ", ") + ")"
    }
}
