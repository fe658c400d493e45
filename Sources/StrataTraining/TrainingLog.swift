import Foundation
import StrataCore
import StrataData
import StrataIO
import StrataNN

/// A table of training metrics, one row per step or epoch, written as CSV
/// or JSON.
///
///     var log = TrainingLog()
///     log.append(["epoch": 1, "loss": 0.53, "accuracy": 0.81])   // keeps column order
///     try log.writeCSV(to: "runs/mlp.csv")
public struct TrainingLog: Sendable {
    /// Column names in order of first appearance.
    public private(set) var columns: [String] = []
    /// Rows; a missing value is nil (written as an empty CSV cell / JSON null).
    public private(set) var rows: [[String: Double]] = []

    public init() {}

    /// Appends a row; new keys become new columns in the order given.
    public mutating func append(_ row: KeyValuePairs<String, Double>) { appendRow(row.map { ($0.key, $0.value) }) }

    /// Appends a row given as ordered pairs.
    public mutating func append(pairs: [(String, Double)]) { appendRow(pairs) }

    mutating func appendRow(_ pairs: [(String, Double)]) {
        var r: [String: Double] = [:]
        for (k, v) in pairs {
            if !columns.contains(k) { columns.append(k) }
            r[k] = v
        }
        rows.append(r)
    }

    /// Sets the column order (a resumed log keeps columns that were never filled).
    mutating func setColumns(_ names: [String]) { columns = names }

    /// The values of `column` (nil where missing).
    public func column(_ name: String) -> [Double?] { rows.map { $0[name] } }

    /// Rows having both columns, as parallel arrays (for `ChartSeries`).
    public func series(x: String, y: String) -> (x: [Double], y: [Double]) {
        let pts = rows.compactMap { r -> (Double, Double)? in
            guard let a = r[x], let b = r[y] else { return nil }
            return (a, b)
        }
        return (pts.map(\.0), pts.map(\.1))
    }

    /// Shortest text that reads back as the same Double; integers without ".0".
    static func format(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// CSV with a header line; fields containing commas or quotes are quoted.
    public func csv() -> String {
        func field(_ s: String) -> String {
            s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines = [columns.map(field).joined(separator: ",")]
        for r in rows { lines.append(columns.map { r[$0].map(Self.format) ?? "" }.joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A JSON array with one object per row, one row per line; keys sorted
    /// (JSON objects are unordered; `columns` and the CSV keep the order),
    /// missing values left out, non-finite values as null. Written by
    /// Foundation's `JSONEncoder`.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let items: [String]
        do {
            items = try rows.map { r in
                let row: [String: Double?] = r.mapValues { $0.isFinite ? $0 : nil }
                return String(decoding: try encoder.encode(row), as: UTF8.self)
            }
        } catch {
            // Only non-finite Doubles can fail, and they are null here.
            strataFatal("TrainingLog.json: JSONEncoder failed: \(error)")
        }
        return "[\n" + items.map { "  " + $0 }.joined(separator: ",\n") + "\n]\n"
    }

    /// Writes `csv()` to `path` atomically.
    public func writeCSV(to path: String) throws { try AtomicFile.write(Array(csv().utf8), to: path) }

    /// Writes `json()` to `path` atomically.
    public func writeJSON(to path: String) throws { try AtomicFile.write(Array(json().utf8), to: path) }
}
