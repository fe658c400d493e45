import Foundation
import Strata
import StrataDistributed

/// strata-dist-tests: the distributed contracts, as named scenarios run
/// under `mpirun` (XCTest cannot run under it). Every rank runs the same
/// scenarios; a scenario passes when it passes on every rank. Rank 0 prints
/// one line per scenario and a final "N passed, N failed"; the exit status
/// is non-zero on any failure.
///
///     mpirun -np 2 .build/debug/strata-dist-tests            # the default set
///     mpirun -np 3 --oversubscribe .build/debug/strata-dist-tests collectives mlp-sync
///     mpirun -np 2 .build/debug/strata-dist-tests fail-throw # must end the job, naming rank 1
///
/// Make's `test-distributed` runs them all (Tests/distributed.sh).

let group = try ProcessGroup.initialize()
Threading.count = 1  // ranks share the machine's cores

let scenarios: [(String, (Checker) throws -> Void)] = [
    ("collectives", collectives),
    ("sampler", sampler),
    ("ddp-broadcast", ddpBroadcast),
    ("ddp-mismatch", ddpMismatch),
    ("mlp-sync", { try mlpEquivalence($0, sync: true) }),
    ("mlp-nosync-differs", { try mlpEquivalence($0, sync: false) }),
    ("renorm-freeze-sync", renormAndFreeze),
    ("cnn-sync", cnnEquivalence),
]
// Scenarios that must end the job (run one at a time, expecting failure).
let failures: [String: () throws -> Void] = ["fail-throw": failThrow, "fail-trap": failTrap]

let requested = Array(CommandLine.arguments.dropFirst())
if requested.count == 1, let f = failures[requested[0]] {
    group.run { try f() }
    say("\(group.label): \(requested[0]) did not end the job")
    exit(1)
}
let known = Set(scenarios.map(\.0))
for name in requested where !known.contains(name) {
    if group.rank == 0 { say("unknown scenario '\(name)'; known: \(scenarios.map(\.0).joined(separator: ", ")), fail-throw, fail-trap") }
    exit(2)
}
var passed = 0, failed = 0
group.run {
    for (name, body) in scenarios where requested.isEmpty || requested.contains(name) {
        let checker = Checker(scenario: name)
        let start = Date()
        do { try body(checker) } catch { checker.fail("threw \(error)") }
        for message in checker.failures { say("\(group.label): FAIL \(name): \(message)") }
        let failingRanks = group.allReduce(checker.failures.isEmpty ? 0 : 1)
        if failingRanks == 0 { passed += 1 } else { failed += 1 }
        if group.rank == 0 {
            say(
                String(
                    format: "%@ %@ (%d ranks, %.1f s)", failingRanks == 0 ? "ok  " : "FAIL", name, group.worldSize,
                    Date().timeIntervalSince(start)))
        }
    }
}
if group.rank == 0 { say("\(passed) passed, \(failed) failed") }
exit(failed == 0 ? 0 : 1)

/// One line to stdout, unbuffered (ranks' lines interleave whole).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
