import StrataCore
import StrataData
import StrataIO
import StrataNN

/// A running mean of per-batch values weighted by batch size (the epoch's
/// mean loss when each batch reports its mean loss and its size).
public struct RunningMean: Sendable {
    public private(set) var sum: Double = 0
    public private(set) var weight: Double = 0

    public init() {}

    /// Adds `value` with weight `count` (e.g. a batch's mean loss and its size).
    public mutating func add(_ value: Double, count: Int = 1) {
        sum += value * Double(count)
        weight += Double(count)
    }

    /// Adds a batch's mean loss (a one-element tensor) with its batch size.
    public mutating func add(_ loss: Tensor, count: Int) { add(Double(loss.item), count: count) }

    /// The weighted mean so far (0 before anything was added).
    public var mean: Double { weight > 0 ? sum / weight : 0 }

    public mutating func reset() { self = RunningMean() }
}

/// Counts correct top-1 predictions.
public struct Accuracy: Sendable {
    public private(set) var correct = 0
    public private(set) var total = 0

    public init() {}

    /// Adds predicted classes against true labels.
    public mutating func add(predictions: [Int], labels: [Int]) {
        strataCheck(
            predictions.count == labels.count,
            "Accuracy: \(predictions.count) predictions for \(labels.count) labels")
        for (p, l) in zip(predictions, labels) where p == l { correct += 1 }
        total += labels.count
    }

    /// Adds logits [B, classes] (argmax per row) against labels.
    public mutating func add(logits: Tensor, labels: [Int]) {
        add(predictions: logits.argmax(axis: -1), labels: labels)
    }

    /// Fraction correct in [0, 1] (0 before anything was added).
    public var value: Double { total > 0 ? Double(correct) / Double(total) : 0 }

    public mutating func reset() { self = Accuracy() }
}

/// counts[true][predicted] over `classes` classes.
public struct ConfusionMatrix: Sendable, CustomStringConvertible {
    public let classes: Int
    /// Row = true class, column = predicted class.
    public private(set) var counts: [[Int]]

    public init(classes: Int) {
        strataCheck(classes > 0, "ConfusionMatrix: classes must be positive, got \(classes)")
        self.classes = classes
        counts = Array(repeating: Array(repeating: 0, count: classes), count: classes)
    }

    /// Adds predicted classes against true labels (both in 0..<classes).
    public mutating func add(predictions: [Int], labels: [Int]) {
        strataCheck(
            predictions.count == labels.count,
            "ConfusionMatrix: \(predictions.count) predictions for \(labels.count) labels")
        for (p, l) in zip(predictions, labels) {
            strataCheck(
                (0..<classes).contains(p) && (0..<classes).contains(l),
                "ConfusionMatrix: class \(l) or prediction \(p) outside 0..<\(classes)")
            counts[l][p] += 1
        }
    }

    /// Adds logits [B, classes] (argmax per row) against labels.
    public mutating func add(logits: Tensor, labels: [Int]) {
        add(predictions: logits.argmax(axis: -1), labels: labels)
    }

    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }

    /// Overall accuracy: the diagonal over the total.
    public var accuracy: Double {
        let t = total
        return t > 0 ? Double((0..<classes).reduce(0) { $0 + counts[$1][$1] }) / Double(t) : 0
    }

    /// Recall of each class: correct / samples of that class (0 when absent).
    public var perClassRecall: [Double] {
        (0..<classes).map { c in
            let n = counts[c].reduce(0, +)
            return n > 0 ? Double(counts[c][c]) / Double(n) : 0
        }
    }

    /// A text table: rows are true classes, columns predictions, with each
    /// row's recall at the right. `names` label the classes (indices by default).
    public func render(names: [String]? = nil) -> String {
        let labels = names ?? (0..<classes).map(String.init)
        let width = max(labels.map(\.count).max() ?? 1, String(counts.flatMap { $0 }.max() ?? 0).count, 3)
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        var lines = [
            pad("true\\pred", width + 2) + " " + labels.map { pad(String($0.prefix(width)), width) }.joined(separator: " ") + "  recall"
        ]
        let recall = perClassRecall
        for r in 0..<classes {
            let cells = counts[r].map { pad(String($0), width) }.joined(separator: " ")
            let pct = (recall[r] * 1000).rounded() / 10
            lines.append(pad(String(labels[r].prefix(width + 2)), width + 2) + " " + cells + "  " + pad("\(pct)%", 6))
        }
        lines.append("accuracy \((accuracy * 10000).rounded() / 100)% over \(total) samples")
        return lines.joined(separator: "\n")
    }

    public var description: String { render() }
}
