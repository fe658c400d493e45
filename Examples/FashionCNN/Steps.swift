import Foundation
import Strata
import StrataDistributed

/// steps.csv: one row per optimiser step (step, loss, lr). The loss is the
/// global batch's mean (under --distributed, pooled over every rank), so a
/// run on N processes with per-process batch B and a single-process run
/// with batch N*B can be compared step by step.
struct StepLog {
    private var rows: [(step: Int, loss: Double, learningRate: Double)] = []

    mutating func append(step: Int, loss: Double, learningRate: Double) {
        rows.append((step, loss, learningRate))
    }

    /// Written whole and atomically (at every epoch's end, beside the checkpoint).
    func write(to path: String) throws {
        var csv = "step,loss,lr\n"
        for r in rows { csv += "\(r.step),\(String(format: "%.8g", r.loss)),\(String(format: "%.8g", r.learningRate))\n" }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The rows of an earlier steps.csv up to step `upTo` (for --resume); empty when absent.
    static func read(_ path: String, upTo: Int) -> StepLog {
        var log = StepLog()
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return log }
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",").map { Double($0) }
            guard f.count == 3, let s = f[0], let l = f[1], let lr = f[2], Int(s) <= upTo else { continue }
            log.append(step: Int(s), loss: l, learningRate: lr)
        }
        return log
    }
}

extension FashionCNN {
    /// Cores per rank: the machine's cores shared by the ranks mpirun placed on it.
    static func threadsPerRank() -> Int {
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        return max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1))
    }

    /// ", 2 processes (global batch 256), SyncBatchNorm" or "" for a single-process run.
    static func describe(_ group: ProcessGroup?, _ syncBn: Bool) -> String {
        guard let group else { return "" }
        return " per process, \(group.worldSize) process\(group.worldSize == 1 ? "" : "es")"
            + (syncBn ? ", SyncBatchNorm" : ", per-process BatchNorm")
    }
}
