import Foundation
import Strata

/// The 1-, 5- and 15-minute load averages from /proc/loadavg (empty when unreadable).
func loadAverage() -> [Double] {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
    return text.split(separator: " ").prefix(3).compactMap { Double($0) }
}

/// Peak resident set size of this process so far, in MB (ru_maxrss is in KiB on Linux).
func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// What the results were measured on.
struct MachineInfo: Codable {
    var cpu_model: String
    var cores: Int
    var memory_gib: Double
    var openblas_config: String
    var swift_version: String
    var build: String
    var date: String
    var hostname: String
    var loadavg_start: [Double]
    var loadavg_end: [Double]
    /// True when the 1-minute load average at start exceeded 0.5 per core.
    var busy: Bool
    var timing: String

    static func collect(quick: Bool) -> MachineInfo {
        let load = loadAverage()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let formatter = ISO8601DateFormatter()
        #if DEBUG
        let build = "debug (figures meaningless: use -c release)"
        #else
        let build = "release -O"
        #endif
        return MachineInfo(
            cpu_model: cpuModel(), cores: cores, memory_gib: memoryGiB(),
            openblas_config: BLAS.configuration, swift_version: swiftVersion(), build: build,
            date: formatter.string(from: Date()), hostname: ProcessInfo.processInfo.hostName,
            loadavg_start: load, loadavg_end: [],
            busy: (load.first ?? 0) > 0.5 * Double(cores),
            timing: quick ? "quick (smoke run, not for reporting)" : "full")
    }
}

private func cpuModel() -> String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
    for line in text.split(separator: "\n") where line.hasPrefix("model name") {
        if let colon = line.firstIndex(of: ":") {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    return "unknown"
}

private func memoryGiB() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
        let kib = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return (kib / 1024 / 1024 * 10).rounded() / 10
    }
    return 0
}

/// The first line of `swift --version` (the toolchain on PATH; `make bench`
/// builds with it), or the compiler version this binary was built with.
private func swiftVersion() -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["swift", "--version"]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    if (try? p.run()) != nil {
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first(where: { $0.contains("Swift version") }) {
            return String(line)
        }
    }
    #if compiler(>=6.3)
    return "compiler >= 6.3"
    #else
    return "compiler < 6.3"
    #endif
}
