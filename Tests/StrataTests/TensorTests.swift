import XCTest
@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// Tensor creation, access, random generation, buffer pool and threading.
final class TensorTests: XCTestCase {
    func testCreationAndAccess() {
        let t = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t[1, 2], 6)
        t[0, 1] = 9
        XCTAssertEqual(t.scalars, [1, 9, 3, 4, 5, 6])
        XCTAssertEqual(Tensor.zeros([2, 2]).scalars, [0, 0, 0, 0])
        XCTAssertEqual(Tensor.full([3], 2.5).scalars, [2.5, 2.5, 2.5])
        XCTAssertEqual(Tensor.scalar(4).shape, [])
        XCTAssertEqual(Tensor.scalar(4).item, 4)
        XCTAssertEqual(Int(bitPattern: UInt(bitPattern: t.data)) % 64, 0, "storage is 64-byte aligned")
    }

    func testReshapeSharesStorageAndInfersExtent() {
        let t = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
        let r = t.reshaped([3, -1])
        XCTAssertEqual(r.shape, [3, 2])
        r[0, 0] = 7
        XCTAssertEqual(t[0, 0], 7, "reshape is a view")
        XCTAssertEqual(t.copy().storage === t.storage, false)
        XCTAssertEqual(Tensor.zeros([4, 2, 3, 5]).flattened().shape, [4, 30])
    }

    func testRowsGathersInOrder() {
        let t = Tensor(shape: [3, 2], [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.rows([2, 0]).scalars, [5, 6, 1, 2])
        XCTAssertEqual(t.rows(1..<3).shape, [2, 2])
    }

    func testRandomIsReproducibleAndWellDistributed() {
        let a = Tensor.randn([10_000], generator: RandomGenerator(seed: 9))
        let b = Tensor.randn([10_000], generator: RandomGenerator(seed: 9))
        XCTAssertEqual(a.scalars, b.scalars)
        let mean = a.scalars.reduce(0, +) / 10_000
        let variance = a.scalars.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 10_000
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
        let u = Tensor.rand([10_000], low: -2, high: 3, generator: RandomGenerator(seed: 1)).scalars
        XCTAssertTrue(u.allSatisfy { $0 >= -2 && $0 < 3 })
        XCTAssertEqual(u.reduce(0, +) / 10_000, 0.5, accuracy: 0.05)
        let g = RandomGenerator(seed: 3)
        let perm = g.permutation(100)
        XCTAssertEqual(perm.sorted(), Array(0..<100))
        XCTAssertNotEqual(perm, Array(0..<100))
        manualSeed(5)
        let c = Tensor.randn([4])
        manualSeed(5)
        XCTAssertEqual(Tensor.randn([4]).scalars, c.scalars)
    }

    func testBufferPoolReusesFreedBuffersAndRespectsLimit() {
        let pool = BufferPool.shared
        var address: UnsafeMutablePointer<Float>?
        do {
            let t = Tensor(zeros: [12_345])
            address = t.data
        }
        let again = Tensor(uninitialized: [12_345])
        XCTAssertEqual(again.data, address, "a freed buffer of the same size is reused")
        let zeroed = Tensor(zeros: [12_345])
        XCTAssertTrue(zeroed.scalars.allSatisfy { $0 == 0 }, "reused buffers are zeroed on request")
        let old = pool.limitBytes
        pool.limitBytes = 0
        XCTAssertEqual(pool.cached, 0)
        pool.limitBytes = old
    }

    func testParallelForCoversRangeOnce() {
        let old = Threading.count
        defer { Threading.count = old }
        for threads in [1, 2, 3] {
            Threading.count = threads
            let n = 1_001
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: n)
            hits.initialize(repeating: 0, count: n)
            defer { hits.deallocate() }
            Threading.parallelFor(n, minChunk: 10) { range in for i in range { hits[i] += 1 } }
            XCTAssertTrue((0..<n).allSatisfy { hits[$0] == 1 }, "threads \(threads)")
        }
    }

    func testOverlappingParallelRegionsRestoreBLASThreads() {
        let old = Threading.count
        defer { Threading.count = old }
        Threading.count = 2
        // Two regions started from different threads at once.
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            Threading.parallelFor(64) { r in for _ in r { XCTAssertEqual(BLAS.threadCount, 1) } }
        }
        XCTAssertEqual(BLAS.threadCount, 2)
    }
}
