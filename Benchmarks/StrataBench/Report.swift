import Foundation

/// The printed table and `bench-results.json`.
enum Report {
    /// Header of the progress lines and of the final table.
    static var header: String {
        pad("id", 24) + lpad("thr", 4) + lpad("median", 11) + " " + pad("unit", 9)
            + lpad("min", 10) + lpad("p10", 10) + lpad("p90", 10) + lpad("n", 6)
            + lpad("GFLOP/s", 9) + lpad("GB/s", 8) + lpad("%sgemm", 8) + lpad("%bw", 7)
    }

    static func row(_ r: Record) -> String {
        var line = pad(r.id, 24) + lpad("\(r.threads)", 4) + lpad(num(r.median), 11) + " " + pad(r.unit, 9)
        if r.samples > 0 {
            line += lpad(num(r.min), 10) + lpad(num(r.p10), 10) + lpad(num(r.p90), 10) + lpad("\(r.samples)", 6)
        } else {
            line += lpad("", 36)
        }
        line += lpad(r.gflops.map(num) ?? "", 9) + lpad(r.gbps.map(num) ?? "", 8)
        line += lpad(r.fraction_of_peak_sgemm.map { pct($0) } ?? "", 8)
        line += lpad(r.fraction_of_bandwidth.map { pct($0) } ?? "", 7)
        if let rss = r.peak_rss_mb { line += "  peak RSS \(num(rss)) MB" }
        return line
    }

    static func printProgress(_ r: Record) {
        print(row(r))
        fflush(nil)
    }

    /// The final table, grouped by id with one line per thread count.
    static func printTable(_ records: [Record]) {
        print("")
        print(header)
        print(String(repeating: "-", count: header.count))
        var order: [String] = []
        for r in records where !order.contains(r.id) { order.append(r.id) }
        for id in order {
            for r in records where r.id == id { print(row(r)) }
        }
    }

    /// Writes `{"machine": ..., "records": [...]}` to `path`.
    static func writeJSON(machine: MachineInfo, records: [Record], missing: [String], to path: String) throws {
        struct File: Codable {
            var machine: MachineInfo
            var records: [Record]
            var not_measured: [String]
            var tool: String
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(File(machine: machine, records: records, not_measured: missing, tool: "strata"))
        try data.write(to: URL(fileURLWithPath: path))
    }

    static func num(_ v: Double) -> String {
        if !v.isFinite { return "\(v)" }
        let a = abs(v)
        if a >= 1000 { return String(format: "%.0f", v) }
        if a >= 100 { return String(format: "%.1f", v) }
        if a >= 10 { return String(format: "%.2f", v) }
        return String(format: "%.3f", v)
    }

    static func pct(_ f: Double) -> String { String(format: "%.0f%%", f * 100) }
    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
    static func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? " " + s : String(repeating: " ", count: w - s.count) + s }
}
