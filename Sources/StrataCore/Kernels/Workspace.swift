/// Scratch buffers for kernels (im2col column matrices, private gradient
/// partials), borrowed for the duration of a closure.
///
/// A borrowed buffer belongs to that caller alone, so layers stay
/// reentrant: two threads running the same layer borrow two buffers. The
/// buffers come from the same `BufferPool` as tensor storage, so one bounded
/// cache serves both: the column matrix of a batched convolution is tens of
/// MB, and a fresh allocation of that size is new pages that the kernel must
/// fault in and zero on every call.
package enum Workspace {
    /// Runs `body` with a 64-byte-aligned buffer of `count` floats
    /// (uninitialised unless `zeroed`), returned to the pool afterwards.
    package static func with<R>(count: Int, zeroed: Bool = false, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let n = max(count, 1)
        let pointer = BufferPool.shared.take(n)
        defer { BufferPool.shared.give(pointer, count: n) }
        if zeroed { pointer.update(repeating: 0, count: n) }
        return try body(pointer)
    }
}
