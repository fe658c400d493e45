import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataNN

/// SyncBatchNorm's arithmetic in one process, through fake reducers (the
/// multi-process contracts run under mpirun: Tests/distributed.sh).
///
/// - `LoopbackReducer` claims a world of 2 but returns the sums unchanged:
///   the pooled statistics are the local ones, so the synchronised path
///   (its own forward and backward code) must reproduce BatchNorm.
/// - `TwinReducer` doubles every sum: two ranks holding the same batch. The
///   statistics are those of the batch repeated twice, so outputs equal
///   BatchNorm on [x; x] and the running variance uses the global count 2m.
final class CountingReducer: ChannelStatisticsReducer {
    let worldSize: Int
    let factor: Double
    private(set) var calls: [Int] = []
    init(worldSize: Int, factor: Double) { self.worldSize = worldSize; self.factor = factor }
    func sumAcrossProcesses(_ values: UnsafeMutableBufferPointer<Double>) {
        calls.append(values.count)
        for i in values.indices { values[i] *= factor }
    }
}

final class SyncBatchNormTests: XCTestCase {
    /// Forward output, dx, dweight, dbias and running statistics of `layer` on `x`
    /// with the loss sum(y * w) for a fixed w.
    func pass(_ layer: BatchNormBase, _ x: Tensor, weights w: Tensor) -> [String: [Float]] {
        let xin = Tensor(shape: x.shape, x.scalars, requiresGrad: true)
        let y = layer(xin)
        (y * w).sum().backward()
        var out = ["y": y.scalars, "dx": xin.grad?.scalars ?? []]
        for (k, t) in layer.namedParameters() { out["d" + k] = t.grad?.scalars ?? [] }
        for (k, t) in layer.namedBuffers() { out[k] = t.scalars }
        return out
    }

    func assertClose(
        _ a: [String: [Float]], _ b: [String: [Float]], tolerance: Float, _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(Set(a.keys), Set(b.keys), what, file: file, line: line)
        for (k, u) in a {
            let v = b[k] ?? []
            XCTAssertEqual(u.count, v.count, "\(what) \(k)", file: file, line: line)
            let worst = zip(u, v).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, tolerance, "\(what) \(k)", file: file, line: line)
        }
    }

    func makeLayers(_ kind: String, _ c: Int) -> (BatchNormBase, BatchNormBase) {
        switch kind {
        case "2d": return (BatchNorm2d(c), BatchNorm2d(c))
        case "renorm":
            let a = BatchRenorm2d(c, rmax: 1.2, dmax: 0.3), b = BatchRenorm2d(c, rmax: 1.2, dmax: 0.3)
            for l in [a, b] { l.runningMean?.fill(2.5); l.runningVar?.fill(3) }  // clips active
            return (a, b)
        default: return (BatchNorm1d(c), BatchNorm1d(c))
        }
    }

    func testLoopbackReproducesBatchNorm() {
        let g = RandomGenerator(seed: 4)
        for (kind, shape) in [("1d", [7, 5]), ("1d", [4, 3, 6]), ("2d", [3, 4, 5, 5]), ("renorm", [3, 4, 5, 5])] {
            let x = Tensor.randn(shape, mean: 3, std: 2, generator: g), w = Tensor.randn(shape, generator: g)
            let (plain, synced) = makeLayers(kind, shape[1])
            let reducer = CountingReducer(worldSize: 2, factor: 1)
            synced.statisticsReducer = reducer
            for step in 0..<2 {
                assertClose(pass(synced, x, weights: w), pass(plain, x, weights: w), tolerance: 2e-5, "\(kind) \(shape) step \(step)")
            }
            // One allreduce of 1 + 2C per forward and one of 2C per backward.
            let C = shape[1]
            XCTAssertEqual(reducer.calls, [1 + 2 * C, 2 * C, 1 + 2 * C, 2 * C], "\(kind) \(shape)")
        }
    }

    /// In a Sequential, BatchNorm -> ReLU -> MaxPool2d(2) fuses; a
    /// SyncBatchNorm there applies the ReLU and the pooling as separate ops
    /// after its synchronised statistics, and still equals the plain layers.
    func testSynchronisedBatchNormBeforeReLUAndMaxPool() {
        let g = RandomGenerator(seed: 5)
        let x = Tensor.randn([3, 4, 6, 7], mean: 1, std: 2, generator: g), w = Tensor.randn([3, 4, 3, 3], generator: g)
        let (plain, synced) = makeLayers("2d", 4)
        let reducer = CountingReducer(worldSize: 2, factor: 1)
        synced.statisticsReducer = reducer
        func run(_ bn: BatchNormBase) -> [String: [Float]] {
            let xin = Tensor(shape: x.shape, x.scalars, requiresGrad: true)
            let y = Sequential(bn, ReLU(), MaxPool2d(kernelSize: 2))(xin)
            (y * w).sum().backward()
            var out = ["y": y.scalars, "dx": xin.grad?.scalars ?? []]
            for (k, t) in bn.namedParameters() { out["d" + k] = t.grad?.scalars ?? [] }
            return out
        }
        assertClose(run(synced), run(plain), tolerance: 2e-5, "sync bn, relu, maxpool")
        XCTAssertEqual(reducer.calls, [1 + 2 * 4, 2 * 4], "the synchronised path ran")
    }

    func testTwinRanksUseTheGlobalCount() {
        let g = RandomGenerator(seed: 5)
        let x = Tensor.randn([3, 2, 4, 4], mean: -1, std: 0.5, generator: g), w = Tensor.randn([3, 2, 4, 4], generator: g)
        let synced = BatchNorm2d(2), plain = BatchNorm2d(2)
        synced.statisticsReducer = CountingReducer(worldSize: 2, factor: 2)
        let s = pass(synced, x, weights: w)
        let twice = withNoGrad { plain(cat([x, x], axis: 0)) }
        XCTAssertLessThanOrEqual(Checker.worst(s["y"] ?? [], Array(twice.scalars.prefix(x.count))), 2e-5)
        XCTAssertLessThanOrEqual(Checker.worst(s["running_var"] ?? [], plain.runningVar?.scalars ?? []), 1e-6)
        XCTAssertLessThanOrEqual(Checker.worst(s["running_mean"] ?? [], plain.runningMean?.scalars ?? []), 1e-6)
        // The two ranks' samples are the same, so each rank's dx is BatchNorm's on its own batch.
        let alone = BatchNorm2d(2)
        XCTAssertLessThanOrEqual(Checker.worst(s["dx"] ?? [], pass(alone, x, weights: w)["dx"] ?? []), 2e-5)
    }

    func testWorldOfOneIsBatchNormExactlyAndEvalAndFrozenDoNotCommunicate() {
        let g = RandomGenerator(seed: 6)
        let x = Tensor.randn([6, 4], generator: g), w = Tensor.randn([6, 4], generator: g)
        let plain = BatchNorm1d(4), one = BatchNorm1d(4)
        let single = CountingReducer(worldSize: 1, factor: 1)
        one.statisticsReducer = single
        XCTAssertEqual(pass(one, x, weights: w), pass(plain, x, weights: w))
        XCTAssertEqual(single.calls, [])

        let synced = BatchNorm1d(4), reducer = CountingReducer(worldSize: 2, factor: 1)
        synced.statisticsReducer = reducer
        synced.eval()
        _ = pass(synced, x, weights: w)
        synced.train()
        synced.freezeStatistics = true
        _ = pass(synced, x, weights: w)
        XCTAssertEqual(reducer.calls, [], "eval mode and frozen statistics must not communicate")
    }

    func testCountBelowTwoIsRejectedOnlyAfterPooling() throws {
        // One value per channel on this rank is fine when the world adds more.
        let synced = BatchNorm1d(3)
        synced.statisticsReducer = CountingReducer(worldSize: 2, factor: 2)
        XCTAssertNoThrow(try synced.validate(inputShape: [1, 3]))
        XCTAssertThrowsError(try BatchNorm1d(3).validate(inputShape: [1, 3]))
    }
}

final class DistributedSamplerTests: XCTestCase {
    func testShardsAreDisjointPaddedAndFollowTheDataLoaderOrder() {
        let data = Dataset(images: Tensor.zeros([10, 1]), labels: Array(repeating: 0, count: 10))
        let loader = DataLoader(data, batchSize: 4, shuffle: true, seed: 3)
        let whole = DistributedSampler(count: 10, worldSize: 1, rank: 0, seed: 3)
        XCTAssertEqual(whole.indices(epoch: 2), loader.order(epoch: 2))
        let shards = (0..<3).map { r -> [Int] in
            var s = DistributedSampler(count: 10, worldSize: 3, rank: r, seed: 3)
            s.setEpoch(2)
            return s.indices()
        }
        XCTAssertEqual(shards.map(\.count), [4, 4, 4])
        let order = loader.order(epoch: 2)
        let padded = order + order.prefix(2)  // PyTorch pads with the first indices
        for r in 0..<3 { XCTAssertEqual(shards[r], stride(from: r, to: 12, by: 3).map { padded[$0] }) }
        XCTAssertEqual(Set(shards.flatMap { $0 }), Set(0..<10))
        let cut = DistributedSampler(count: 10, worldSize: 3, rank: 0, seed: 3, dropLast: true)
        XCTAssertEqual(cut.samplesPerRank, 3)
        XCTAssertEqual(cut.totalSize, 9)
        XCTAssertNotEqual(whole.indices(epoch: 0), whole.indices(epoch: 1))
        let plain = DistributedSampler(count: 5, worldSize: 2, rank: 1, shuffle: false)
        XCTAssertEqual(plain.indices(), [1, 3, 0])
        let tiny = DistributedSampler(count: 1, worldSize: 3, rank: 2, shuffle: false)
        XCTAssertEqual(tiny.indices(), [0])
    }
}

private enum Checker {
    static func worst(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }
}
