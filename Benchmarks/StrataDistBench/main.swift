import Foundation
import Strata
import StrataDistributed

/// strata-dist-bench: the distributed figures of `make bench` (never a test).
///
///     .build/release/strata-dist-bench --threads 2          # cnn-step, 1 rank x 2 threads
///     mpirun -np 2 .build/release/strata-dist-bench         # 2 ranks x 1 thread
///
/// - dist-allreduce: the reference CNN's gradient (all parameters, Float)
///   averaged as DistributedDataParallel does (one bucket of 4 MB); GB/s of
///   gradient bytes per second, and the bus bandwidth 2 (W-1)/W of that
///   (the bytes each rank sends in a ring allreduce).
/// - dist-cnn-step: one SGD step of the reference CNN, batch 64 per rank
///   (global 128, as cnn-step), with SyncBatchNorm; images/s of the global
///   batch. `cnn-step-per-process-bn`: the same without SyncBatchNorm, so
///   the difference is SyncBatchNorm's cost.
/// - syncbn-2d: BatchNorm2d(32) forward + backward on [64, 32, 28, 28] per
///   rank, synchronised vs per process.
///
/// Timing: after warm-up, every repetition starts at a barrier and its time
/// is the slowest rank's; the median is reported.
let group = try ProcessGroup.initialize()
var jsonPath: String?
var steps = 30
var arguments = CommandLine.arguments.dropFirst().makeIterator()
Threading.count = 1
while let a = arguments.next() {
    switch a {
    case "--json": jsonPath = arguments.next()
    case "--threads": Threading.count = arguments.next().flatMap(Int.init) ?? 1
    case "--steps": steps = arguments.next().flatMap(Int.init) ?? steps
    default: group.abort("strata-dist-bench: unknown option \(a) (options: --json PATH, --threads N, --steps N)")
    }
}

func say(_ line: String) { if group.rank == 0 { FileHandle.standardOutput.write(Data((line + "\n").utf8)) } }

/// Median over `repeats` of the slowest rank's seconds per call of `body`.
func measure(repeats: Int, warmup: Int = 3, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    var times: [Double] = []
    for _ in 0..<repeats {
        group.barrier()
        let t0 = Date()
        body()
        times.append(group.allReduce(Date().timeIntervalSince(t0), op: .max))
    }
    return times.sorted()[times.count / 2]
}

var results: [(String, Double, String)] = []
@MainActor func record(_ id: String, _ value: Double, _ unit: String, _ note: String = "") {
    results.append((id, value, unit))
    say(String(format: "%-28@ %12.3f %@  %@", id, value, unit, note))
}

let W = group.worldSize
say("strata-dist-bench: \(W) rank(s) x \(Threading.count) thread(s), MPI \(group.usesMPI ? "yes" : "no (world of one)")")

@MainActor func cnnStep(sync: Bool, perRank: Int) -> Double {
    let model = ReferenceCNN.make(generator: RandomGenerator(seed: 1))
    if sync { SyncBatchNorm.convert(model, group: group) }
    guard let ddp = try? DistributedDataParallel(model, group: group) else { group.abort("wrap failed") }
    let opt = SGD(parameters: model.parameters(), learningRate: 0.05, momentum: 0.9)
    let g = RandomGenerator(seed: 10 + UInt64(group.rank))
    let x = Tensor.randn([perRank, 1, 28, 28], generator: g)
    let labels = (0..<perRank).map { _ in g.nextInt(below: 10) }
    let seconds = measure(repeats: steps) {
        let loss = crossEntropy(ddp(x), labels: labels)
        opt.zeroGrad()
        ddp.backward(loss)
        opt.step()
    }
    return Double(perRank * W) / seconds
}

if W == 1 {
    record("cnn-step", cnnStep(sync: false, perRank: 128), "img/s", "(batch 128, \(Threading.count) threads)")
} else {
    // dist-allreduce: the reference CNN's gradient, as DDP sends it.
    let model = ReferenceCNN.make(generator: RandomGenerator(seed: 1))
    let count = model.parameterCount
    let bytes = Double(count * 4)
    let buffer = Tensor.randn([count])
    let seconds = measure(repeats: 200, warmup: 10) { group.allReduce(buffer, op: .mean) }
    record(
        "dist-allreduce", bytes / seconds / 1e9, "GB/s",
        String(
            format: "(%d floats = %.2f MB in %.3f ms; bus %.2f GB/s)", count, bytes / 1e6, seconds * 1e3,
            bytes / seconds / 1e9 * 2 * Double(W - 1) / Double(W)))
    record("dist-allreduce-ms", seconds * 1e3, "ms")
    let ddp = try DistributedDataParallel(model, group: group)
    for p in model.parameters() { p.grad = Tensor.randn(p.shape) }
    record(
        "ddp-sync-gradients-ms", measure(repeats: 100, warmup: 5) { ddp.synchronizeGradients() } * 1e3, "ms",
        "(\(ddp.buckets.count) bucket(s), packing included)")

    let withSync = cnnStep(sync: true, perRank: 64)
    record("dist-cnn-step", withSync, "img/s", "(\(W) ranks x 64, SyncBatchNorm, \(Threading.count) thread(s) each)")
    let perProcess = cnnStep(sync: false, perRank: 64)
    record("dist-cnn-step-per-process-bn", perProcess, "img/s", "(same, per-process BatchNorm)")
    record("syncbn-step-overhead", (perProcess / withSync - 1) * 100, "%")

    // syncbn-2d: one layer, forward + backward.
    func layerTime(sync: Bool) -> Double {
        let bn = BatchNorm2d(32)
        if sync { bn.statisticsReducer = group }
        let x = Tensor.randn([64, 32, 28, 28], requiresGrad: true)
        let w = Tensor.randn([64, 32, 28, 28])
        return measure(repeats: 20) {
            x.grad = nil
            (bn(x) * w).sum().backward()
        }
    }
    let tSync = layerTime(sync: true), tLocal = layerTime(sync: false)
    record("syncbn-2d-ms", tSync * 1e3, "ms", "(BatchNorm2d(32) fwd+bwd on [64, 32, 28, 28] per rank)")
    record("bn-2d-ms", tLocal * 1e3, "ms", "(same, per process)")
}

if let path = jsonPath, group.rank == 0 {
    let body = results.map { "  {\"id\": \"\($0.0)\", \"value\": \($0.1), \"unit\": \"\($0.2)\"}" }.joined(separator: ",\n")
    let text = "{\"ranks\": \(W), \"threads\": \(Threading.count), \"results\": [\n\(body)\n]}\n"
    try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    say("wrote \(path)")
}
