import CKernels
import Foundation
import XCTest

@testable import StrataCore

/// `Threading.count` and `Threading.spinMicroseconds` as a test found them.
private struct ThreadingSettings {
    let count = Threading.count, spin = Threading.spinMicroseconds
    func restore() {
        Threading.count = count
        Threading.spinMicroseconds = spin
    }
}

/// The worker pool behind `Threading.parallelFor` (CKernels' pool.c): every
/// item once, the items' writes visible to the caller, a region refused
/// (not run) while another holds the pool, and both ways of waiting (polling
/// and sleeping) between regions.
final class WorkerPoolTests: XCTestCase {
    /// Counts the calls of each index; the context of the C-level tests.
    private final class Hits {
        let counts: UnsafeMutablePointer<Int>
        let n: Int
        var nestedResult: Int32 = 99
        init(_ n: Int) {
            self.n = n
            counts = .allocate(capacity: n)
            counts.initialize(repeating: 0, count: n)
        }
        deinit { counts.deallocate() }
        var everyOnce: Bool { (0..<n).allSatisfy { counts[$0] == 1 } }
    }

    func testPoolRunsEveryItemOnceAndPublishesTheWrites() {
        for workers: Int32 in [1, 2, 3, 5] {
            for n in [1, 2, 3, 17, 1000] {
                let hits = Hits(n)
                let ran = strata_pool_run(
                    Int64(n), workers, 200,
                    { context, index in
                        guard let context else { return }
                        Unmanaged<Hits>.fromOpaque(context).takeUnretainedValue().counts[Int(index)] += 1
                    }, Unmanaged.passUnretained(hits).toOpaque())
                XCTAssertEqual(ran, 0, "workers \(workers), n \(n)")
                XCTAssertTrue(hits.everyOnce, "workers \(workers), n \(n)")
            }
        }
        let none = strata_pool_run(0, 2, 0, { _, _ in XCTFail("an empty region ran an item") }, nil)
        XCTAssertEqual(none, 0)
    }

    /// A region started from inside a region finds the pool busy: it runs
    /// nothing and says so, and the caller runs its items another way.
    func testPoolRefusesANestedRegion() {
        let hits = Hits(1)
        let ran = strata_pool_run(
            1, 2, 0,
            { context, _ in
                guard let context else { return }
                let outer = Unmanaged<Hits>.fromOpaque(context).takeUnretainedValue()
                outer.nestedResult = strata_pool_run(4, 2, 0, { _, _ in XCTFail("a refused region ran an item") }, nil)
                outer.counts[0] += 1
            }, Unmanaged.passUnretained(hits).toOpaque())
        XCTAssertEqual(ran, 0)
        XCTAssertEqual(hits.nestedResult, -1)
        XCTAssertTrue(hits.everyOnce)
    }

    /// Many short regions in a row, with the pool threads polling between
    /// them and with them going to sleep after every region; regions nested
    /// in a region (which run on GCD) and regions from several threads at
    /// once (one gets the pool, the others GCD) still cover every index once.
    func testParallelForThroughThePoolPollingSleepingAndNested() {
        let saved = ThreadingSettings()
        defer { saved.restore() }
        Threading.count = 3
        for spin in [0, 50, 1000] {
            Threading.spinMicroseconds = spin
            let n = 48
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: n)
            defer { hits.deallocate() }
            for region in 0..<300 {
                hits.initialize(repeating: 0, count: n)
                Threading.parallelFor(n) { range in for i in range { hits[i] += 1 } }
                if region % 100 == 0 { usleep(2000) }  // longer than the poll: the threads sleep
                XCTAssertTrue((0..<n).allSatisfy { hits[$0] == 1 }, "spin \(spin), region \(region)")
            }
            let outer = 6, inner = 8
            let nested = UnsafeMutablePointer<Int>.allocate(capacity: outer * inner)
            defer { nested.deallocate() }
            nested.initialize(repeating: 0, count: outer * inner)
            Threading.parallelFor(outer) { rows in
                for r in rows {
                    Threading.parallelFor(inner) { cols in for c in cols { nested[r * inner + c] += 1 } }
                }
            }
            XCTAssertTrue((0..<outer * inner).allSatisfy { nested[$0] == 1 }, "nested, spin \(spin)")
        }
        let callers = 4, n = 64
        let concurrent = UnsafeMutablePointer<Int>.allocate(capacity: callers * n)
        defer { concurrent.deallocate() }
        concurrent.initialize(repeating: 0, count: callers * n)
        let shared = UncheckedSendable(concurrent)  // each caller writes its own n counts
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            for _ in 0..<200 {
                Threading.parallelFor(n) { range in for i in range { shared.value[caller * n + i] += 1 } }
            }
        }
        XCTAssertTrue((0..<callers * n).allSatisfy { concurrent[$0] == 200 })
    }
}

extension WorkerPoolTests {
    /// After `Threading.count` is lowered, a pool thread that no region
    /// uses any more sleeps at once instead of polling after every region.
    /// 40 regions 10 ms apart with 4 ms of polling: the thread that takes
    /// part polls about 160 ms in all; the left-out one, polling too, would
    /// spend as much, and sleeping it spends a wake-up a region.
    func testALeftOutPoolThreadDoesNotPoll() {
        let saved = ThreadingSettings()
        defer { saved.restore() }
        Threading.count = 3
        Threading.parallelFor(3) { _ in }  // starts (at least) two pool threads
        Threading.count = 2
        Threading.spinMicroseconds = 4000
        Threading.parallelFor(2) { _ in }  // the left-out thread's last poll
        usleep(10_000)
        let before = (strata_pool_thread_cpu_ns(0), strata_pool_thread_cpu_ns(1))
        XCTAssertGreaterThanOrEqual(before.0, 0)
        XCTAssertGreaterThanOrEqual(before.1, 0)
        for _ in 0..<40 {
            Threading.parallelFor(2) { _ in }
            usleep(10_000)
        }
        let taking = Double(strata_pool_thread_cpu_ns(0) - before.0) / 1e6
        let leftOut = Double(strata_pool_thread_cpu_ns(1) - before.1) / 1e6
        // Polling 4 ms after each of 40 regions is 160 ms; a descheduled
        // poll counts less, so the bounds leave room on a busy machine.
        XCTAssertGreaterThan(taking, 40, "the thread that takes part polls (ms of CPU)")
        XCTAssertLessThan(leftOut, 20, "the left-out thread sleeps (ms of CPU)")
    }
}
