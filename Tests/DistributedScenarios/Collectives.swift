import Foundation
import Strata
import StrataDistributed

/// allreduce (sum, mean, max, min; Float tensors and Doubles, small and
/// large), broadcast (tensors from every root, strings), barrier.
func collectives(_ check: Checker) throws {
    let W = group.worldSize, r = group.rank
    for n in [1, 7, 300_001] {
        // Rank r holds (r + 1) * (i % 13 + 1): the sum is W(W+1)/2 times that.
        let t = Tensor(shape: [n], (0..<n).map { Float(r + 1) * Float($0 % 13 + 1) })
        group.allReduce(t, op: .sum)
        let expected = (0..<n).map { Float(W * (W + 1) / 2) * Float($0 % 13 + 1) }
        check.close(t.scalars, expected, tolerance: 0, "allreduce sum of \(n) floats")
        let m = Tensor(shape: [n], (0..<n).map { Float(r) + Float($0 % 5) })
        group.allReduce(m, op: .mean)
        check.close(m.scalars, (0..<n).map { Float(W - 1) / 2 + Float($0 % 5) }, tolerance: 1e-6, "allreduce mean of \(n) floats")
    }
    let mx = Tensor(shape: [3], [Float(r), -Float(r), 5])
    group.allReduce(mx, op: .max)
    check.close(mx.scalars, [Float(W - 1), 0, 5], tolerance: 0, "allreduce max")
    let mn = Tensor(shape: [3], [Float(r), -Float(r), 5])
    group.allReduce(mn, op: .min)
    check.close(mn.scalars, [0, -Float(W - 1), 5], tolerance: 0, "allreduce min")
    let d = group.allReduce([Double(r) + 1e-12, 1], op: .sum)
    check.expect(
        abs(d[0] - (Double(W * (W - 1) / 2) + Double(W) * 1e-12)) < 1e-15 && d[1] == Double(W),
        "allreduce of Doubles gave \(d)")
    for root in 0..<W {
        let b = Tensor(shape: [2, 3], [Float](repeating: Float(r * 10), count: 6))
        group.broadcast(b, root: root)
        check.close(b.scalars, [Float](repeating: Float(root * 10), count: 6), tolerance: 0, "broadcast from root \(root)")
        check.expect(b.shape == [2, 3], "broadcast changed the shape to \(b.shape)")
        let s = group.broadcast("rank \(r) says héllo", root: root)
        check.expect(s == "rank \(root) says héllo", "string broadcast from \(root) gave '\(s)'")
    }
    group.barrier()
    check.expect(
        group.usesMPI == ProcessGroup.launchedByMPI,
        "usesMPI \(group.usesMPI) for a process started \(ProcessGroup.launchedByMPI ? "by" : "without") mpirun")
    check.expect(group.threadLevel >= .funneled, "thread level \(group.threadLevel) below funneled")
}

/// Every rank a disjoint shard of the same permutation, padded to equal length.
func sampler(_ check: Checker) throws {
    let W = group.worldSize, r = group.rank
    for (count, dropLast) in [(10, false), (11, false), (11, true), (2, false)] {
        var s = DistributedSampler(count: count, worldSize: W, rank: r, shuffle: true, seed: 7, dropLast: dropLast)
        s.setEpoch(3)
        let mine = s.indices()
        check.expect(mine.count == s.samplesPerRank, "count \(count): \(mine.count) indices, expected \(s.samplesPerRank)")
        // Histogram of every rank's indices, summed over ranks.
        var hits = [Double](repeating: 0, count: count)
        for i in mine { hits[i] += 1 }
        hits = group.allReduce(hits)
        let total = hits.reduce(0, +)
        check.expect(Int(total) == s.totalSize, "count \(count): \(Int(total)) samples over all ranks, expected \(s.totalSize)")
        if dropLast {
            check.expect(hits.allSatisfy { $0 <= 1 }, "count \(count), dropLast: a sample read twice: \(hits)")
        } else {
            check.expect(hits.allSatisfy { $0 >= 1 }, "count \(count): a sample no rank reads: \(hits)")
        }
        // Rank r's k-th index is position r + k W of the epoch's permutation (W = 1: DataLoader's order).
        let whole = DistributedSampler(count: count, worldSize: 1, rank: 0, shuffle: true, seed: 7).indices(epoch: 3)
        let padded = Array((whole + whole + whole).prefix(s.totalSize))
        check.expect(
            mine == Array(stride(from: r, to: s.totalSize, by: W).map { padded[$0] }),
            "count \(count): rank \(r) does not take positions r, r+W, ...")
        check.expect(s.indices(epoch: 4) != mine || count < 3, "count \(count): epochs 3 and 4 gave the same order")
    }
}

/// Wrapping copies rank 0's parameters and buffers to every rank.
func ddpBroadcast(_ check: Checker) throws {
    let model = Sequential([Linear(5, 4, generator: RandomGenerator(seed: UInt64(10 + group.rank))), BatchNorm1d(4)])
    if let bn = model.layers[1] as? BatchNorm1d { bn.runningMean?.fill(Float(group.rank)) }
    _ = try DistributedDataParallel(model, group: group)
    let reference = Sequential([Linear(5, 4, generator: RandomGenerator(seed: 10)), BatchNorm1d(4)])
    for ((name, t), (_, u)) in zip(model.namedParameters(), reference.namedParameters()) {
        check.close(t.scalars, u.scalars, tolerance: 0, "\(name) after wrapping")
    }
    let rm = model.namedBuffers().first { $0.0 == "1.running_mean" }?.1.scalars ?? []
    check.close(rm, [0, 0, 0, 0], tolerance: 0, "running_mean after wrapping (rank 0 had zeros)")
    // Every forward copies rank 0's buffers first (eval mode: the forward itself changes none).
    let ddp = try DistributedDataParallel(model, group: group)
    guard let bn = model.layers[1] as? BatchNorm1d else { return check.fail("layer 1 is not BatchNorm1d") }
    bn.runningVar?.fill(Float(group.rank + 2))
    model.eval()
    _ = ddp(Tensor.zeros([3, 5]))
    check.close(bn.runningVar?.scalars ?? [], [2, 2, 2, 2], tolerance: 0, "running_var after a forward (rank 0 had 2)")
    // convert / revert / the factories set and clear the reduction, and nothing else.
    let net = Sequential([Linear(5, 4), BatchNorm1d(4), SyncBatchNorm.batchNorm1d(4, group: group), ReLU()])
    check.expect(SyncBatchNorm.synchronizedLayers(net) == ["2"], "factory: \(SyncBatchNorm.synchronizedLayers(net))")
    check.expect(SyncBatchNorm.convert(net, group: group) == 2, "convert did not report 2 layers")
    check.expect(SyncBatchNorm.synchronizedLayers(net) == ["1", "2"], "convert: \(SyncBatchNorm.synchronizedLayers(net))")
    check.expect(SyncBatchNorm.revert(net) == 2 && SyncBatchNorm.synchronizedLayers(net).isEmpty, "revert left layers synchronised")
    check.expect(SyncBatchNorm.batchNorm2d(3, group: group).statisticsReducer === group, "batchNorm2d is not synchronised")
}

/// A rank whose model differs is refused at wrap time, on every rank, naming the difference.
func ddpMismatch(_ check: Checker) throws {
    let last = group.worldSize - 1
    let width = group.rank == last ? 5 : 6
    let model = Sequential([Linear(4, width), ReLU(), Linear(width, 2)])
    do {
        _ = try DistributedDataParallel(model, group: group)
        check.expect(group.worldSize == 1, "a model with a different shape on rank \(last) was accepted")
    } catch {
        let text = "\(error)"
        check.expect(
            text.contains("0.weight") && text.contains("[5, 4]") && text.contains("[6, 4]") && text.contains("rank \(last)"),
            "the error does not name the first difference: \(text)")
    }
    // A missing layer: a different count of entries.
    let extra: [any Module] = group.rank == last ? [Linear(2, 2)] : []
    let other = Sequential([Linear(4, 2)] + extra)
    do {
        _ = try DistributedDataParallel(other, group: group)
        check.expect(group.worldSize == 1, "a model with an extra layer on rank \(last) was accepted")
    } catch {
        check.expect("\(error)".contains("1.weight"), "the error does not name the extra layer: \(error)")
    }
}

/// The last rank throws while the others wait in a collective: the job must end, naming the rank.
func failThrow() throws {
    group.barrier()
    if group.rank == group.worldSize - 1 {
        throw StrataError.invalidArgument("scenario fail-throw: this rank gives up")
    }
    _ = group.allReduce(1.0)
    group.barrier()
}

/// The last rank traps (a shape mismatch, strataFatal) while the others wait in a collective.
func failTrap() throws {
    group.barrier()
    if group.rank == group.worldSize - 1 {
        let a = Tensor.zeros([2, 3]), b = Tensor.zeros([4, 5])
        _ = matmul(a, b)
    }
    _ = group.allReduce(1.0)
    group.barrier()
}
