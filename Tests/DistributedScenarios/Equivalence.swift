import Foundation
import Strata
import StrataDistributed

/// The contract of data parallelism with SyncBatchNorm: W ranks x batch B
/// take the same steps as one process x batch W*B over the same samples.
/// Every rank trains both: the reference on the whole global batch (no
/// communication), and a DDP replica on its shard (rows r, r+W, ..., the
/// DistributedSampler's positions).
struct TwinRun {
    var referenceLosses: [Float] = []
    var distributedLosses: [Float] = []
    let reference: any Module
    let replica: any Module
}

/// - make: builds the model from a seed (called twice with the same seed).
/// - batch: the global batch of a step, [W*B, ...] and its labels.
/// - beforeStep: adjusts both models before a step (e.g. freezing).
func trainTwins(
    steps: Int, sync: Bool, bucketCapBytes: Int, lr: Float = 0.1,
    make: () -> any Module, batch: (Int) -> (Tensor, [Int]),
    beforeStep: (Int, any Module) -> Void = { _, _ in }
) throws -> TwinRun {
    let reference = make(), replica = make()
    if sync { SyncBatchNorm.convert(replica, group: group) }
    let ddp = try DistributedDataParallel(replica, group: group, bucketCapBytes: bucketCapBytes)
    let refOpt = SGD(parameters: reference.parameters(), learningRate: lr, momentum: 0.9)
    let opt = SGD(parameters: replica.parameters(), learningRate: lr, momentum: 0.9)
    var run = TwinRun(reference: reference, replica: replica)
    for step in 0..<steps {
        beforeStep(step, reference); beforeStep(step, replica)
        let (x, labels) = batch(step)
        let l = crossEntropy(reference(x), labels: labels)
        refOpt.zeroGrad(); l.backward(); refOpt.step()
        run.referenceLosses.append(l.item)

        let shard = DistributedSampler(count: labels.count, worldSize: group.worldSize, rank: group.rank, shuffle: false).indices()
        let ld = crossEntropy(ddp(x.rows(shard)), labels: shard.map { labels[$0] })
        opt.zeroGrad(); ddp.backward(ld); opt.step()
        run.distributedLosses.append(Float(group.allReduce(Double(ld.item), op: .mean)))
    }
    return run
}

/// Compares the twins: losses per step, parameters, buffers; and checks that
/// the replica's buffers are bit-identical on every rank.
func compareTwins(_ run: TwinRun, _ check: Checker, tolerance: Float) {
    check.close(run.distributedLosses, run.referenceLosses, tolerance: tolerance, "per-step losses")
    var worstState: Float = 0
    for ((name, t), (_, u)) in zip(run.replica.stateDict(), run.reference.stateDict()) {
        check.close(t.scalars, u.scalars, tolerance: tolerance, name)
        worstState = max(worstState, Checker.maxDifference(t.scalars, u.scalars))
        let rank0 = Tensor(shape: t.shape, t.scalars)
        group.broadcast(rank0, root: 0)
        check.close(t.scalars, rank0.scalars, tolerance: 0, "\(name) identical on every rank")
    }
    if group.rank == 0 {
        say(
            String(
                format: "     largest relative difference from the single process: losses %.1e, state %.1e",
                Checker.maxDifference(run.distributedLosses, run.referenceLosses), worstState))
    }
}

func mlp(seed: UInt64) -> any Module {
    let g = RandomGenerator(seed: seed)
    return Sequential([
        Linear(6, 16, generator: g), BatchNorm1d(16), ReLU(),
        Linear(16, 12, generator: g), BatchNorm1d(12), ReLU(), Linear(12, 3, generator: g),
    ])
}

/// A global batch of W*B rows with a large mean (the shifted sums matter) and random labels.
func mlpBatch(_ step: Int, rows: Int) -> (Tensor, [Int]) {
    let g = RandomGenerator(seed: 1000 + UInt64(step))
    let x = Tensor.randn([rows, 6], mean: 3, std: 2, generator: g)
    return (x, (0..<rows).map { _ in g.nextInt(below: 3) })
}

/// With SyncBatchNorm: equal to float32 tolerance after 20 steps. Without:
/// the per-rank statistics make the run differ (and the replicas' running
/// statistics differ from rank to rank).
func mlpEquivalence(_ check: Checker, sync: Bool) throws {
    let B = 6, rows = B * group.worldSize
    // A small bucket cap: several buckets (and a parameter larger than the cap alone in one).
    let run = try trainTwins(
        steps: 20, sync: sync, bucketCapBytes: 256, make: { mlp(seed: 5) },
        batch: { mlpBatch($0, rows: rows) })
    if sync || group.worldSize == 1 {
        compareTwins(run, check, tolerance: 2e-4)
        return
    }
    let lossGap = Checker.maxDifference(run.distributedLosses, run.referenceLosses)
    check.expect(lossGap > 1e-3, "without SyncBatchNorm the losses still agree (largest gap \(lossGap))")
    let rm = run.replica.namedBuffers().first { $0.0 == "1.running_mean" }?.1 ?? Tensor.zeros([16])
    let rank0 = Tensor(shape: rm.shape, rm.scalars)
    group.broadcast(rank0, root: 0)
    let spread = group.allReduce(Double(Checker.maxDifference(rm.scalars, rank0.scalars)), op: .max)
    check.expect(spread > 1e-3, "without SyncBatchNorm the running means agree across ranks (spread \(spread))")
}

/// Batch Renorm (active clips) and frozen statistics keep working under SyncBatchNorm.
func renormAndFreeze(_ check: Checker) throws {
    let B = 6, rows = B * group.worldSize
    func make() -> any Module {
        let g = RandomGenerator(seed: 9)
        return Sequential([
            Linear(6, 10, generator: g), BatchRenorm1d(10, rmax: 1.5, dmax: 0.5), ReLU(),
            Linear(10, 3, generator: g),
        ])
    }
    let run = try trainTwins(
        steps: 16, sync: true, bucketCapBytes: 1 << 20, make: make,
        batch: { mlpBatch($0, rows: rows) },
        beforeStep: { step, model in
            // Freeze the statistics for the last 6 steps.
            for case let bn as BatchNormBase in model.namedModules().map(\.1) { bn.freezeStatistics = step >= 10 }
        })
    compareTwins(run, check, tolerance: 2e-4)
}

/// The reference CNN (Conv-BN2d-ReLU-Pool x2, Linear-BN1d) with SyncBatchNorm,
/// small: 4 images per rank, 8 steps (debug build).
func cnnEquivalence(_ check: Checker) throws {
    let B = 4, rows = B * group.worldSize
    let run = try trainTwins(
        steps: 8, sync: true, bucketCapBytes: 4 << 20, lr: 0.05,
        make: { ReferenceCNN.make(generator: RandomGenerator(seed: 3)) },
        batch: { step in
            let g = RandomGenerator(seed: 77 + UInt64(step))
            let x = Tensor.randn([rows, 1, 28, 28], mean: 0.5, std: 1, generator: g)
            return (x, (0..<rows).map { _ in g.nextInt(below: 10) })
        })
    compareTwins(run, check, tolerance: 2e-4)
}
