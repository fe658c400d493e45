import ArgumentParser
import Foundation
import Strata

/// `strata-bench`: measures the workloads of WORKLOADS.md (docs:
/// Docs/Benchmarks.md) and the machine's limits, prints a table and writes
/// bench-results.json.
@main
struct StrataBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata-bench",
        abstract: "Strata benchmarks: the workloads of WORKLOADS.md and the machine's limits.")

    @Option(
        name: .long, parsing: .singleValue,
        help: "Only records whose id starts with this (repeatable or comma-separated), e.g. gemm, bn2d, limit.")
    var filter: [String] = []

    @Option(name: .long, help: "Thread counts, comma-separated (Threading.count).")
    var threads: String = "1,2"

    @Flag(name: .long, help: "Short warm-up and time budgets: a smoke run, not for reporting.")
    var quick = false

    @Option(name: .long, help: "Where to write the JSON results.")
    var json: String = "bench-results.json"

    @Option(name: .long, help: "Full epochs timed for cnn-epoch (each is one sample).")
    var epochReps: Int = 1

    @Flag(name: .long, help: "List the workloads and record ids, then exit.")
    var list = false

    func run() throws {
        let workloads = allWorkloads()
        if list {
            for w in workloads { print("\(w.name): \(w.ids.joined(separator: ", "))") }
            let missing = missingWorkloadIds()
            if !missing.isEmpty { print("not available in this build: \(missing.joined(separator: ", "))") }
            return
        }
        let threadCounts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !threadCounts.isEmpty, threadCounts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--threads needs positive integers, got \(threads)")
        }
        let filters = filter.flatMap { $0.split(separator: ",").map { String($0) } }

        var machine = MachineInfo.collect(quick: quick)
        print("Strata benchmarks — \(machine.date)")
        print("cpu: \(machine.cpu_model), \(machine.cores) cores, \(machine.memory_gib) GiB; \(machine.swift_version)")
        print("OpenBLAS: \(machine.openblas_config); build: \(machine.build); timing: \(machine.timing)")
        print("load average at start: \(machine.loadavg_start.map { String($0) }.joined(separator: " "))")
        let clockStart = CPUClock.read()

        let run = BenchRun(timer: Timer(policy: quick ? .quick : .full), quick: quick, filters: filters)
        let selected = workloads.filter { w in w.ids.contains { run.wants($0) } }
        if selected.isEmpty { throw ValidationError("no workload matches --filter \(filters)") }
        let ordered = selected.filter(\.runsFirst) + selected.filter { !$0.runsFirst }
        let epochReps = self.epochReps
        benchEpochRepetitions = max(1, epochReps)

        print("")
        print(Report.header)
        for w in ordered {
            for t in threadCounts {
                Threading.count = t
                manualSeed(0)
                w.run(run, t)
            }
        }
        Threading.count = ProcessInfo.processInfo.activeProcessorCount

        attachFractions(run)
        machine.loadavg_end = loadAverage()
        if let start = clockStart, let end = CPUClock.read(), let (others, steal) = end.others(since: start) {
            machine.other_cpu = (others * 100).rounded() / 100
            machine.steal_cpu = (steal * 100).rounded() / 100
            machine.busy = others > MachineInfo.busyCores
        }
        Report.printTable(run.records)
        print("")
        print("load average at end: \(machine.loadavg_end.map { String($0) }.joined(separator: " "))")
        if let others = machine.other_cpu, let steal = machine.steal_cpu {
            print(String(format: "other processes kept %.2f cores busy on average; steal %.2f cores", others, steal))
        }
        if machine.busy {
            print(
                "WARNING: busy machine (other processes above \(MachineInfo.busyCores) cores): figures are flagged busy and may be low."
            )
        }
        print("checksum (defeats dead-code elimination): \(run.records.reduce(0) { $0 + $1.checksum })")
        let missing = missingWorkloadIds()
        if !missing.isEmpty {
            print("WORKLOADS.md ids with no registered workload: \(missing.joined(separator: ", "))")
        }
        try Report.writeJSON(machine: machine, records: run.records, missing: missing, to: json)
        print("wrote \(json)")
    }
}

/// Full epochs timed by cnn-epoch (set from `--epoch-reps`).
nonisolated(unsafe) var benchEpochRepetitions = 1
