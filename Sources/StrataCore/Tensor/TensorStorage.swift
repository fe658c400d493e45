import Foundation

/// A 64-byte aligned, fixed-size buffer of `Float`, owned by one or more
/// tensors (a reshaped tensor shares its source's storage).
///
/// Storage is never resized. Mutation through `pointer` is visible to every
/// tensor that shares it, as in PyTorch.
///
/// Buffers are recycled through `BufferPool`: a training step allocates the
/// same sizes every iteration, and reusing them avoids the page faults of
/// fresh memory (a new 4 MB buffer costs about 1,000 faults on first touch).
@usableFromInline package final class TensorStorage: @unchecked Sendable {
    /// Number of `Float` elements.
    @usableFromInline package let count: Int
    /// The first element. Valid for `count` elements while the storage lives.
    @usableFromInline package let pointer: UnsafeMutablePointer<Float>

    /// Allocates `count` elements, uninitialised unless `zeroed`.
    package init(count: Int, zeroed: Bool = true) {
        strataCheck(count >= 0, "TensorStorage: negative element count \(count)")
        strataCheck(count <= Int.max / 8, "TensorStorage: \(count) elements do not fit in memory")
        self.count = count
        pointer = BufferPool.shared.take(count)
        if zeroed && count > 0 { pointer.initialize(repeating: 0, count: count) }
    }

    deinit { BufferPool.shared.give(pointer, count: count) }
}

/// A cache of freed buffers keyed by exact element count, bounded in total
/// bytes (`BufferPool.shared.limitBytes`, 512 MiB by default; 0 disables it).
/// Tensor storage and kernel workspaces (`Workspace.with`) share it.
package final class BufferPool: @unchecked Sendable {
    package static let shared = BufferPool()

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var cachedBytes = 0
    private var limit = 512 << 20
    /// Most bytes kept for reuse; buffers beyond it are returned to the system.
    /// Read and written under the pool's lock (safe from any thread).
    package var limitBytes: Int {
        get { lock.lock(); defer { lock.unlock() }; return limit }
        set {
            strataCheck(newValue >= 0, "BufferPool.limitBytes must be >= 0, got \(newValue)")
            lock.lock()
            limit = newValue
            let over = cachedBytes > newValue
            lock.unlock()
            if over { trim(to: newValue) }
        }
    }

    /// Bytes currently cached (not in use by any tensor).
    package var cached: Int { lock.lock(); defer { lock.unlock() }; return cachedBytes }

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        lock.lock()
        if var list = free[n], let p = list.popLast() {
            free[n] = list.isEmpty ? nil : list
            cachedBytes -= n * 4
            lock.unlock()
            return p
        }
        let bytes = n * MemoryLayout<Float>.stride
        let color = hugeCount
        if bytes >= BufferPool.hugePage { hugeCount += 1 }
        lock.unlock()
        if bytes >= BufferPool.hugePage {
            // `release` reads the allocation's start from the header, so
            // huge sizes never fall back to a plain allocation.
            guard let p = BufferPool.allocateHuge(bytes, color: color) else {
                strataFatal("BufferPool: out of memory allocating \(bytes) bytes")
            }
            return p.bindMemory(to: Float.self, capacity: n)
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: n)
    }

    /// Buffers of at least this many bytes (2 MiB, an x86-64 huge page)
    /// lie on transparent huge pages. An activation of 8 MB in 4 KB pages is
    /// 2,048 TLB entries, and a 32x32 channel plane is exactly one page, so
    /// every plane a kernel reads starts with a TLB miss and a cold hardware
    /// prefetcher (neither crosses a 4 KB page); in 2 MB pages both go away.
    /// Measured: resnet20-step 1-4% and conv3x3-16 4% faster on one thread
    /// (Docs/Benchmarks.md). The cost is memory: a buffer's last huge page
    /// is whole even when the buffer ends early in it.
    package static let hugePage = 2 << 20

    /// Huge buffers allocated so far; picks each one's offset in its page.
    private var hugeCount = 0

    /// `bytes` on memory aligned to `hugePage` and marked MADV_HUGEPAGE (a
    /// hint: where transparent huge pages are off it is 4 KB pages as
    /// before), starting 64 to 4,032 bytes into it by `color`: buffers that
    /// all began at the same offset of their pages would put the same
    /// element of every operand (x, the residual, y of a fused BatchNorm) in
    /// one cache set and alias in the 4 KB store-to-load check. (A
    /// precaution: bn-add-relu on two threads measured 9-12% slower with
    /// all huge buffers at offset 0 in two runs, but the machine's memory
    /// bandwidth moves by more than that between runs.) The allocation's start is
    /// stored just before the buffer, for `release`. Nil if it fails.
    private static func allocateHuge(_ bytes: Int, color: Int) -> UnsafeMutableRawPointer? {
        var raw: UnsafeMutableRawPointer?
        let extra = 4096
        guard posix_memalign(&raw, hugePage, bytes + extra) == 0, let base = raw else { return nil }
        #if os(Linux)
        _ = madvise(base, bytes + extra, MADV_HUGEPAGE)
        #endif
        let offset = 64 * (1 + (color * 23) % 63)
        let p = base + offset
        (p - 8).storeBytes(of: base, as: UnsafeMutableRawPointer.self)
        return p
    }

    /// Returns a buffer to the system: for the sizes `take` puts on huge
    /// pages, the allocation whose start `allocateHuge` stored before it.
    private static func release(_ p: UnsafeMutablePointer<Float>, count n: Int) {
        if n * MemoryLayout<Float>.stride >= hugePage {
            let base = (UnsafeMutableRawPointer(p) - 8).load(as: UnsafeMutableRawPointer.self)
            base.deallocate()
        } else {
            UnsafeMutableRawPointer(p).deallocate()
        }
    }

    func give(_ p: UnsafeMutablePointer<Float>, count: Int) {
        let n = max(count, 1)
        lock.lock()
        if cachedBytes + n * 4 <= limit {
            free[n, default: []].append(p)
            cachedBytes += n * 4
            lock.unlock()
            return
        }
        lock.unlock()
        BufferPool.release(p, count: n)
    }

    /// Releases cached buffers until at most `bytes` remain.
    package func trim(to bytes: Int = 0) {
        lock.lock(); defer { lock.unlock() }
        for (n, list) in free {
            var rest = list
            while cachedBytes > bytes, let p = rest.popLast() {
                BufferPool.release(p, count: n)
                cachedBytes -= n * 4
            }
            free[n] = rest.isEmpty ? nil : rest
            if cachedBytes <= bytes { break }
        }
    }
}
