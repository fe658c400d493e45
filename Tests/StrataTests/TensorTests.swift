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

    func testBufferAccessorsReadAndWriteTheSharedElements() {
        let t = Tensor(shape: [2, 2], [1, 2, 3, 4])
        t.reshaped([4]).withUnsafeMutableBufferPointer { b in
            XCTAssertEqual(b.count, 4)
            b[3] = 9
        }
        XCTAssertEqual(t.scalars, [1, 2, 3, 9], "writes reach every tensor sharing the storage")
        // The temporary product is alive for the whole closure: [[7, 20], [30, 87]].
        XCTAssertEqual(matmul(t, t).withUnsafeBufferPointer { Array($0) }, [7, 20, 30, 87])
        XCTAssertEqual(Tensor.zeros([0, 3]).withUnsafeBufferPointer { $0.count }, 0)
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

    /// xoshiro256** seeded by SplitMix64, written plainly from the published
    /// reference (Blackman and Vigna), as the oracle for the generator's stream.
    struct ReferenceXoshiro {
        var s: [UInt64]
        init(seed: UInt64) {
            var x = seed
            s = (0..<4).map { _ in
                x = x &+ 0x9E37_79B9_7F4A_7C15
                var z = x
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
        }
        static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
        mutating func next() -> UInt64 {
            let result = Self.rotl(s[1] &* 5, 7) &* 9
            let t = s[1] << 17
            s[2] ^= s[0]
            s[3] ^= s[1]
            s[1] ^= s[2]
            s[0] ^= s[3]
            s[2] ^= t
            s[3] = Self.rotl(s[3], 45)
            return result
        }
    }

    /// Draws `n` words through the `RandomNumberGenerator` protocol only.
    func drawThroughProtocol(_ rng: inout some RandomNumberGenerator, _ n: Int) -> [UInt64] {
        (0..<n).map { _ in rng.next() }
    }

    func testRandomNumberGeneratorConformanceKeepsTheStream() {
        var reference = ReferenceXoshiro(seed: 42)
        let expected = (0..<64).map { _ in reference.next() }
        let direct = RandomGenerator(seed: 42)
        XCTAssertEqual((0..<64).map { _ in direct.next() }, expected, "next() is xoshiro256** / SplitMix64")
        var viaProtocol = RandomGenerator(seed: 42)
        XCTAssertEqual(drawThroughProtocol(&viaProtocol, 64), expected, "protocol next() is the same stream")
        // The standard library's APIs draw from that stream: same seed, same result.
        var g1 = RandomGenerator(seed: 7), g2 = RandomGenerator(seed: 7)
        var a = Array(0..<50), b = Array(0..<50)
        a.shuffle(using: &g1)
        b.shuffle(using: &g2)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, Array(0..<50))
        XCTAssertEqual(a.sorted(), Array(0..<50))
        let r1 = (0..<20).map { _ in Int.random(in: 0..<10, using: &g1) }
        let r2 = (0..<20).map { _ in Int.random(in: 0..<10, using: &g2) }
        XCTAssertEqual(r1, r2)
        XCTAssertTrue(r1.allSatisfy { (0..<10).contains($0) })
        // `var` copies of the reference advance the one generator.
        let shared = RandomGenerator(seed: 3)
        var alias = shared
        _ = drawThroughProtocol(&alias, 1)
        var check = ReferenceXoshiro(seed: 3)
        _ = check.next()
        XCTAssertEqual(shared.next(), check.next())
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

    func testLargeBuffersLieOnHugePagesAtStaggeredOffsetsAndHoldTheirData() {
        let count = BufferPool.hugePage / 4 + 1_000  // just over 2 MiB: one huge page and a bit
        let t = Tensor(zeros: [count]), u = Tensor(zeros: [count])
        let offsets = [t, u].map { Int(bitPattern: $0.data) % BufferPool.hugePage }
        for o in offsets {
            XCTAssertEqual(o % 64, 0, "cache-line aligned")
            XCTAssertTrue(o > 0 && o < 4096, "within the first 4 KB of a huge page: \(o)")
        }
        XCTAssertNotEqual(offsets[0], offsets[1], "two large buffers start at different offsets of their pages")
        XCTAssertTrue(t.scalars.allSatisfy { $0 == 0 })
        for i in stride(from: 0, to: count, by: 997) { t.data[i] = Float(i) }
        t.data[count - 1] = -1
        XCTAssertEqual(t.data[997 * 500], 498_500)
        XCTAssertEqual(t.data[count - 1], -1)
        let small = Tensor(zeros: [1_000])
        XCTAssertEqual(Int(bitPattern: small.data) % 64, 0, "small buffers keep 64-byte alignment")
        // Returned to the system (not cached) and allocated again: no crash, and zeroed.
        let pool = BufferPool.shared, old = pool.limitBytes
        pool.limitBytes = 0
        do { _ = Tensor(zeros: [count + 7]) }
        XCTAssertEqual(pool.cached, 0)
        pool.limitBytes = old
        XCTAssertTrue(Tensor(zeros: [count + 7]).scalars.allSatisfy { $0 == 0 })
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

    func testParallelDynamicHandsOutEveryItemOnce() {
        let old = Threading.count
        defer { Threading.count = old }
        for threads in [1, 2, 3] {
            Threading.count = threads
            for n in [0, 1, 2, 7, 500] {
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(n, 1))
                hits.initialize(repeating: 0, count: max(n, 1))
                defer { hits.deallocate() }
                let lock = NSLock()
                var workers = 0, calls = 0
                Threading.parallelDynamic(n) { next in
                    var mine = 0, last = -1
                    while let i = next() {
                        XCTAssertGreaterThan(i, last, "a worker's items come in order")
                        last = i
                        hits[i] += 1
                        mine += 1
                    }
                    XCTAssertNil(next(), "next stays nil once all items are taken")
                    lock.lock()
                    workers += 1
                    calls += mine
                    lock.unlock()
                }
                XCTAssertTrue((0..<n).allSatisfy { hits[$0] == 1 }, "threads \(threads), n \(n)")
                XCTAssertEqual(calls, n)
                XCTAssertEqual(workers, n == 0 ? 0 : min(threads, n), "threads \(threads), n \(n)")
            }
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
