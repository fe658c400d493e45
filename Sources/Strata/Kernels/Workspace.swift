import Foundation

/// Reusable scratch buffers for kernels (im2col column matrices, private
/// gradient partials).
///
/// Policy: a kernel borrows a buffer for the duration of a closure with
/// `Workspace.with(count:)` and gives it back afterwards. A borrowed buffer
/// belongs to that caller alone, so layers stay reentrant: two threads
/// running the same layer simply borrow two buffers. The pool is a global
/// free list guarded by a lock that is held only to pop or push a buffer,
/// never while a kernel runs. It keeps at most `maxRetainedBuffers` buffers
/// and `maxRetainedBytes` bytes; anything beyond is freed on return.
///
/// Why a pool: the column matrix of a batched convolution is tens of MB;
/// fresh allocations of that size are new mmap'd pages that the kernel must
/// fault in and zero on every call, which costs several milliseconds.
public enum Workspace {
    /// Most buffers kept for reuse.
    nonisolated(unsafe) public static var maxRetainedBuffers = 8
    /// Most bytes kept for reuse.
    nonisolated(unsafe) public static var maxRetainedBytes = 256 << 20

    private struct Buffer {
        let pointer: UnsafeMutablePointer<Float>
        let capacity: Int
    }
    nonisolated(unsafe) private static var free: [Buffer] = []
    private static let lock = NSLock()

    /// Runs `body` with a buffer of at least `count` floats (uninitialised
    /// unless `zeroed`), 64-byte aligned, returned to the pool afterwards.
    public static func with<R>(count: Int, zeroed: Bool = false, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let buffer = take(max(count, 1))
        defer { give(buffer) }
        if zeroed { buffer.pointer.update(repeating: 0, count: count) }
        return try body(buffer.pointer)
    }

    private static func take(_ count: Int) -> Buffer {
        lock.lock()
        // Best fit: the smallest retained buffer that is large enough.
        var best = -1
        for (i, b) in free.enumerated() where b.capacity >= count {
            if best < 0 || b.capacity < free[best].capacity { best = i }
        }
        if best >= 0 {
            let b = free.remove(at: best)
            lock.unlock()
            return b
        }
        lock.unlock()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        return Buffer(pointer: raw.bindMemory(to: Float.self, capacity: count), capacity: count)
    }

    private static func give(_ buffer: Buffer) {
        lock.lock()
        free.append(buffer)
        var evicted: [Buffer] = []
        // Drop the smallest buffers first: large ones are the costly ones to refault.
        var bytes = free.reduce(0) { $0 + $1.capacity * 4 }
        while free.count > maxRetainedBuffers || (bytes > maxRetainedBytes && !free.isEmpty) {
            guard let i = free.indices.min(by: { free[$0].capacity < free[$1].capacity }) else { break }
            let b = free.remove(at: i)
            bytes -= b.capacity * 4
            evicted.append(b)
        }
        lock.unlock()
        for b in evicted { UnsafeMutableRawPointer(b.pointer).deallocate() }
    }

    /// Frees every retained buffer.
    public static func purge() {
        lock.lock()
        let all = free
        free = []
        lock.unlock()
        for b in all { UnsafeMutableRawPointer(b.pointer).deallocate() }
    }
}
