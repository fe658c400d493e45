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

/// The machine's busy CPU time and steal time (all cores, from /proc/stat)
/// and this process's CPU time, in seconds, with the wall clock: two
/// readings give the cores other processes kept busy in between.
struct CPUClock {
    var wall: Double
    var machineBusy: Double
    var steal: Double
    var own: Double

    /// Nil when /proc/stat is unreadable.
    static func read() -> CPUClock? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return nil }
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard v.count >= 8 else { return nil }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let own =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) * 1e-6
        return CPUClock(
            wall: now(), machineBusy: (v[0] + v[1] + v[2] + v[5] + v[6]) / hz, steal: v[7] / hz, own: own)
    }

    /// (cores kept busy by other processes, cores stolen by the hypervisor)
    /// on average from `start` to `self`; nil below a second (/proc/stat
    /// counts in 10 ms ticks).
    func others(since start: CPUClock) -> (Double, Double)? {
        let wall = wall - start.wall
        guard wall >= 1 else { return nil }
        return (max(0, (machineBusy - start.machineBusy) - (own - start.own)) / wall, (steal - start.steal) / wall)
    }
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
    /// Cores other processes kept busy on average during the run, and
    /// cores the hypervisor took (steal); nil until the run ends or when
    /// /proc/stat is unreadable.
    var other_cpu: Double?
    var steal_cpu: Double?
    /// True when other processes kept more than `busyCores` cores busy on
    /// average during the run (its own earlier load, which the load
    /// average would count, does not).
    var busy: Bool
    static let busyCores = 0.25
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
            loadavg_start: load, loadavg_end: [], other_cpu: nil, steal_cpu: nil, busy: false,
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
