import XCTest

@testable import StrataCore
@testable import StrataData

final class SamplerTests: XCTestCase {
    func testSequentialAndRandomSamplers() {
        XCTAssertEqual(SequentialSampler(count: 4).indices(epoch: 9), [0, 1, 2, 3])
        let r = RandomSampler(datasetCount: 50, seed: 3)
        let e0 = r.indices(epoch: 0), e1 = r.indices(epoch: 1)
        XCTAssertEqual(e0.sorted(), Array(0..<50))
        XCTAssertEqual(e1.sorted(), Array(0..<50))
        XCTAssertNotEqual(e0, e1, "reseeded per epoch")
        XCTAssertEqual(RandomSampler(datasetCount: 50, seed: 3).indices(epoch: 1), e1, "a pure function of (seed, epoch)")
        XCTAssertNotEqual(RandomSampler(datasetCount: 50, seed: 4).indices(epoch: 0), e0)
        // The order DataLoader(shuffle: true) uses.
        let d = Dataset(images: Tensor(zeros: [50, 1]), labels: Array(repeating: 0, count: 50))
        XCTAssertEqual(DataLoader(d, batchSize: 50, shuffle: true, seed: 3).order(epoch: 1), e1)
        XCTAssertEqual(RandomSampler(datasetCount: 50, seed: 3, sampleCount: 10).indices(epoch: 0), Array(e0.prefix(10)))
        let w = RandomSampler(datasetCount: 5, seed: 1, replacement: true, sampleCount: 200).indices(epoch: 0)
        XCTAssertEqual(w.count, 200)
        XCTAssertEqual(Set(w), Set(0..<5))
    }

    func testWeightedRandomSamplerWithReplacementFollowsTheWeights() {
        let weights: [Double] = [1, 2, 0, 7]
        let s = WeightedRandomSampler(weights: weights, sampleCount: 20_000, seed: 5)
        let draws = s.indices(epoch: 0)
        XCTAssertEqual(draws.count, 20_000)
        let freq = (0..<4).map { i in Double(draws.filter { $0 == i }.count) / 20_000 }
        XCTAssertEqual(freq[2], 0, "a zero weight is never drawn")
        for (f, w) in zip(freq, weights) { XCTAssertEqual(f, w / 10, accuracy: 0.015) }
        XCTAssertNotEqual(s.indices(epoch: 1), draws)
    }

    func testWeightedRandomSamplerWithoutReplacement() {
        let weights: [Double] = [1, 1, 0, 50, 1]
        let s = WeightedRandomSampler(weights: weights, sampleCount: 4, replacement: false, seed: 2)
        var firstIsHeavy = 0
        for e in 0..<200 {
            let d = s.indices(epoch: e)
            XCTAssertEqual(d.count, 4)
            XCTAssertEqual(Set(d), Set([0, 1, 3, 4]), "distinct, and never the zero weight")
            if d[0] == 3 { firstIsHeavy += 1 }
        }
        // P(first = 3) = 50/53.
        XCTAssertGreaterThan(firstIsHeavy, 175)
    }

    func testBatchSamplerKeepsOrDropsTheLastBatch() {
        let keep = BatchSampler(SequentialSampler(count: 7), batchSize: 3)
        XCTAssertEqual(keep.count, 3)
        XCTAssertEqual(keep.batches(epoch: 0), [[0, 1, 2], [3, 4, 5], [6]])
        let drop = BatchSampler(SequentialSampler(count: 7), batchSize: 3, dropLast: true)
        XCTAssertEqual(drop.batches(epoch: 0), [[0, 1, 2], [3, 4, 5]])
    }

    func testDataLoaderTakesASampler() {
        let d = Dataset(images: Tensor(shape: [4, 1], [10, 11, 12, 13]), labels: [0, 1, 2, 3])
        let loader = DataLoader(d, batchSize: 2, sampler: WeightedRandomSampler(weights: [0, 0, 1, 0], sampleCount: 5, seed: 1))
        let batches = Array(loader)
        XCTAssertEqual(batches.map(\.indices), [[2, 2], [2, 2], [2]])
        XCTAssertEqual(batches[0].images.scalars, [12, 12])
        XCTAssertEqual(loader.samplesPerEpoch, 5)
    }
}
