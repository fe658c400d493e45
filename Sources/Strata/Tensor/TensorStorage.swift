/// A 64-byte aligned, fixed-size buffer of `Float`, owned by one or more
/// tensors (a reshaped tensor shares its source's storage).
///
/// Storage is never resized. Mutation through `pointer` is visible to every
/// tensor that shares it, as in PyTorch.
public final class TensorStorage: @unchecked Sendable {
    /// Number of `Float` elements.
    public let count: Int
    /// The first element. Valid for `count` elements while the storage lives.
    public let pointer: UnsafeMutablePointer<Float>

    /// Allocates `count` elements, uninitialised unless `zeroed`.
    public init(count: Int, zeroed: Bool = true) {
        strataCheck(count >= 0, "TensorStorage: negative element count \(count)")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}
