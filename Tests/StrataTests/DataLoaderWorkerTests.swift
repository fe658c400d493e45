import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData

/// A dataset read through `DatasetProtocol` only (not the in-memory fast
/// path), which can fail at one index.
struct ComputedDataset: DatasetProtocol {
    let count: Int
    var failAt: Int? = nil
    var oddShapeAt: Int? = nil

    func sample(at index: Int) throws -> Sample {
        if index == failAt { throw StrataError.io(path: "sample-\(index)", reason: "cannot read") }
        let side = index == oddShapeAt ? 5 : 4
        let values = (0..<(2 * side * side)).map { Float(index * 100 + $0) }
        return Sample(image: Tensor(shape: [2, side, side], values), label: index % 3)
    }
}

final class DataLoaderWorkerTests: XCTestCase {
    let augment = Compose([RandomCrop(4, padding: 1), RandomHorizontalFlip(), RandomErasing(p: 0.5, scale: 0.1...0.3)])

    func epochs(_ loader: DataLoader, _ n: Int) throws -> [[Float]] {
        var out: [[Float]] = []
        for _ in 0..<n {
            var it = loader.makeIterator()
            while let b = try it.nextBatch() { out.append(b.images.scalars + b.indices.map(Float.init) + b.labels.map(Float.init)) }
        }
        return out
    }

    func testBatchesDoNotDependOnTheNumberOfWorkers() throws {
        let d = ComputedDataset(count: 23)
        func loader(_ workers: Int, prefetch: Bool = true) -> DataLoader {
            DataLoader(
                d, batchSize: 4, shuffle: true, seed: 9, transform: augment, normalization: ([1], [2]),
                numWorkers: workers, prefetch: prefetch)
        }
        let reference = try epochs(loader(1, prefetch: false), 3)
        XCTAssertEqual(reference.count, 18)
        for workers in [1, 2, 3, 8] { XCTAssertEqual(try epochs(loader(workers), 3), reference, "\(workers) workers") }
        // The transform really is random: epochs differ, and so do two copies of one sample.
        XCTAssertNotEqual(reference[0], reference[6])
        // The in-memory dataset with a transform goes through the same per-sample path.
        let memory = try d.materialized()
        let m = DataLoader(memory, batchSize: 4, shuffle: true, seed: 9, transform: augment, normalization: ([1], [2]), numWorkers: 2)
        XCTAssertEqual(try epochs(m, 3), reference)
    }

    func testResumeMidEpochSeesTheSameBatches() throws {
        let l = DataLoader(ComputedDataset(count: 20), batchSize: 3, shuffle: true, seed: 2, transform: augment, numWorkers: 2)
        let full = Array(l.iterator(epoch: 4)).map(\.images.scalars)
        let tail = Array(l.iterator(epoch: 4, startBatch: 5)).map(\.images.scalars)
        XCTAssertEqual(tail, Array(full[5...]))
        XCTAssertEqual(try l.batch(epoch: 4, index: 2).images.scalars, full[2])
    }

    func testErrorsReachTheCallerFromWorkers() throws {
        for workers in [1, 3] {
            var it = DataLoader(ComputedDataset(count: 10, failAt: 5), batchSize: 2, numWorkers: workers).makeIterator()
            XCTAssertNotNil(try it.nextBatch())
            XCTAssertNotNil(try it.nextBatch())
            XCTAssertThrowsError(try it.nextBatch()) { XCTAssertEqual("\($0)", "sample-5: cannot read") }
        }
        var odd = DataLoader(ComputedDataset(count: 4, oddShapeAt: 1), batchSize: 4).makeIterator()
        XCTAssertThrowsError(try odd.nextBatch()) { error in
            XCTAssertTrue("\(error)".contains("sample 1"), "\(error)")
            XCTAssertTrue("\(error)".contains("[2, 5, 5]"), "\(error)")
        }
    }

    func testBreakingOutEarlyWithManyWorkersIsSafe() throws {
        let l = DataLoader(ComputedDataset(count: 40), batchSize: 2, numWorkers: 4)
        for b in l { XCTAssertEqual(b.index, 0); break }
        XCTAssertEqual(Array(l).count, 20)
    }
}
