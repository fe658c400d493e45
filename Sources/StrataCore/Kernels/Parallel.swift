import CKernels
import Dispatch
import Foundation

/// Threading policy
/// ----------------
/// `Threading.count` is the number of cores Strata may use (default: all
/// active processors; PyTorch's `torch.set_num_threads`). It sets
/// OpenBLAS's thread count as well.
///
/// Kernels that Strata parallelises itself (per-channel BatchNorm,
/// per-sample im2col, elementwise loops over large tensors) split their
/// range into `Threading.count` chunks with `parallelFor`; work in many
/// similar items (the Winograd convolution's chunks of samples) is handed
/// out one item at a time with `parallelDynamic`. The regions run on a
/// pool of `count - 1` threads kept between regions (the calling thread
/// works too); an idle pool thread polls for the next region for
/// `spinMicroseconds` before it sleeps, so the short regions of a training
/// step do not each wait for a sleeping thread to wake. A region started
/// while another runs (nested, or from another thread) runs on GCD's
/// `concurrentPerform` instead. Inside such a
/// region OpenBLAS is pinned to one thread, so the two never oversubscribe
/// the cores; outside it, one large sgemm uses all `Threading.count`
/// threads of OpenBLAS.
public enum Threading {
    nonisolated(unsafe) private static var current = ProcessInfo.processInfo.activeProcessorCount

    /// Cores Strata and OpenBLAS may use. Setting it also sets `BLAS.threadCount`.
    public static var count: Int {
        get { current }
        set {
            strataCheck(newValue >= 1, "Threading.count must be at least 1, got \(newValue)")
            current = newValue
            BLAS.threadCount = newValue
        }
    }

    nonisolated(unsafe) private static var spin = 1000

    /// How long, in microseconds, an idle pool thread keeps polling for the
    /// next parallel region before it sleeps (default 1000; 0 sleeps at
    /// once). Polling spends the core it runs on while it lasts: lower it
    /// when other processes need the cores between Strata's regions
    /// (OpenMP's OMP_WAIT_POLICY=passive plays this part in PyTorch).
    public static var spinMicroseconds: Int {
        get { spin }
        set {
            strataCheck(newValue >= 0, "Threading.spinMicroseconds must be at least 0, got \(newValue)")
            spin = newValue
        }
    }

    private static let regionLock = NSLock()
    nonisolated(unsafe) private static var activeRegions = 0
    nonisolated(unsafe) private static var savedBLASThreads = 1

    /// The first region to start pins OpenBLAS to one thread; the last to
    /// finish restores it. Counting regions keeps two regions that overlap on
    /// different threads from leaving OpenBLAS pinned.
    private static func enterParallelRegion() {
        regionLock.lock(); defer { regionLock.unlock() }
        if activeRegions == 0 {
            savedBLASThreads = BLAS.threadCount
            if savedBLASThreads != 1 { BLAS.threadCount = 1 }
        }
        activeRegions += 1
    }

    private static func leaveParallelRegion() {
        regionLock.lock(); defer { regionLock.unlock() }
        activeRegions -= 1
        if activeRegions == 0 && BLAS.threadCount != savedBLASThreads { BLAS.threadCount = savedBLASThreads }
    }

    /// Runs `body` with OpenBLAS at `threads` threads (`BLAS.withThreads`).
    /// Every read and write of OpenBLAS's count happens under `regionLock`:
    /// pinning to one thread counts as a parallel region, and any other
    /// count is set and restored under the lock, so no interleaving of
    /// regions and calls on several threads leaves the count changed.
    package static func withBLASThreads<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        strataCheck(threads >= 1, "BLAS.withThreads: thread count must be at least 1, got \(threads)")
        if threads == 1 {
            enterParallelRegion()
            defer { leaveParallelRegion() }
            return try body()
        }
        regionLock.lock()
        let old = BLAS.threadCount
        if old != threads { BLAS.threadCount = threads }
        regionLock.unlock()
        defer {
            regionLock.lock()
            if BLAS.threadCount != old { BLAS.threadCount = old }
            regionLock.unlock()
        }
        return try body()
    }

    /// Splits 0..<n into at most `Threading.count` contiguous chunks (no
    /// smaller than `minChunk` items) and runs `body` on each, in parallel
    /// when there is more than one. OpenBLAS runs single-threaded inside.
    package static func parallelFor(_ n: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        if n <= 0 { return }
        let workers = min(current, max(1, n / max(minChunk, 1)))
        if workers <= 1 { body(0..<n); return }
        enterParallelRegion()
        defer { leaveParallelRegion() }
        withoutActuallyEscaping(body) { escapable in
            // The chunks are disjoint; callers' closures write disjoint memory.
            let chunk = { (w: Int) in
                let lo = n * w / workers, hi = n * (w + 1) / workers
                if lo < hi { escapable(lo..<hi) }
            }
            if runOnPool(workers, chunk) { return }
            let work = UncheckedSendable(chunk)
            DispatchQueue.concurrentPerform(iterations: workers) { w in work.value(w) }
        }
    }

    /// Runs `body(0)` ... `body(count - 1)` on the calling thread and the
    /// pool's threads (`strata_pool_run`); false, having run nothing, when
    /// the pool is busy with another region. The C side gets a pointer to
    /// `body`, valid for the call: it returns only when every item has run.
    private static func runOnPool(_ count: Int, _ body: @escaping (Int) -> Void) -> Bool {
        var body = body
        return withUnsafeMutablePointer(to: &body) { pointer in
            let ran = strata_pool_run(
                Int64(count), Int32(clamping: count), Int64(spin),
                { context, index in
                    context?.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(index))
                }, pointer)
            return ran == 0
        }
    }
}

extension Threading {
    /// Runs `body` on up to `Threading.count` workers (no more than `n`),
    /// each handed a `next` that returns the items 0..<n one at a time, in
    /// order, to whichever worker asks first, and nil once all are taken.
    /// For work in many similar items where a static split leaves one core
    /// idle whenever the other starts late or is interrupted; `body` keeps
    /// its per-worker state (scratch, partial sums) across the items it
    /// takes. OpenBLAS runs single-threaded inside.
    package static func parallelDynamic(_ n: Int, _ body: (_ next: () -> Int?) -> Void) {
        if n <= 0 { return }
        let workers = min(count, n)
        var taken = 0
        func serial() -> Int? {
            guard taken < n else { return nil }
            defer { taken += 1 }
            return taken
        }
        if workers <= 1 { body(serial); return }
        let counter = ItemCounter(n)
        parallelFor(workers) { range in
            for _ in range { body(counter.next) }
        }
    }
}

/// The shared item counter of `Threading.parallelDynamic`.
private final class ItemCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = 0
    private let count: Int

    init(_ count: Int) { self.count = count }

    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard taken < count else { return nil }
        taken += 1
        return taken - 1
    }
}

/// Carries a value the compiler cannot prove Sendable into a parallel region.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
