/// An n-dimensional array of `Float32`, contiguous and row-major (NCHW for
/// images), that can take part in automatic differentiation.
///
/// `Tensor` is a reference type, like PyTorch's: parameters keep their
/// identity while optimisers update them in place, and gradients accumulate
/// into `grad`. Element data lives in a `TensorStorage`; `reshaped(_:)` makes
/// a new tensor that shares it.
///
/// Autograd: a tensor produced by a differentiable op from inputs that
/// require gradients holds a `GradNode` (the op's backward closure and its
/// inputs). `backward()` on a scalar walks those nodes in reverse topological
/// order. See `Autograd/GradNode.swift`.
public final class Tensor: @unchecked Sendable {
    /// Extent of each dimension, outermost first.
    public let shape: [Int]
    /// The element buffer (shared by reshaped views). Inside the package
    /// only: users reach elements through `scalars`, the subscript and
    /// `withUnsafe(Mutable)BufferPointer`.
    @usableFromInline package let storage: TensorStorage
    /// Whether gradients flow into this tensor. Set on parameters and on
    /// inputs you want gradients for.
    public var requiresGrad: Bool
    /// Accumulated gradient, same shape as the tensor, after `backward()`.
    public var grad: Tensor?
    /// The op that produced this tensor, while its graph is alive.
    var gradNode: GradNode?
    /// Gradient hooks, in registration order (`registerHook`).
    var gradHooks: [GradHook] = []
    /// Keep `grad` on this non-leaf tensor after backward (PyTorch's `retain_grad`).
    public var retainsGrad = false

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }
    /// First element; valid for `count` elements while this tensor is alive.
    /// Hold the tensor in a variable while using the pointer: in
    /// `matmul(a, b).data[0]` the temporary may be freed before the read.
    /// Kernels and ops inside the package use it; users have
    /// `withUnsafeBufferPointer`, which keeps the tensor alive for the closure.
    @inlinable package var data: UnsafeMutablePointer<Float> { storage.pointer }
    /// Whether the tensor was made by the user rather than by an op.
    public var isLeaf: Bool { gradNode == nil }

    /// A tensor of `shape` filled with zeros.
    public init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.shape = shape
        self.storage = TensorStorage(count: Tensor.elementCount(shape, op: "Tensor(zeros:)"))
        self.requiresGrad = requiresGrad
    }

    /// A tensor of `shape` whose elements are uninitialised; the caller must
    /// write every element before reading.
    package init(uninitialized shape: [Int]) {
        self.shape = shape
        self.storage = TensorStorage(count: Tensor.elementCount(shape, op: "Tensor(uninitialized:)"), zeroed: false)
        self.requiresGrad = false
    }

    /// A tensor of `shape` holding `values` in row-major order.
    public init(shape: [Int], _ values: [Float], requiresGrad: Bool = false) {
        let n = Tensor.elementCount(shape, op: "Tensor(shape:_:)")
        strataCheck(values.count == n, "Tensor(shape: \(shape)): needs \(n) values, got \(values.count)")
        self.shape = shape
        self.storage = TensorStorage(count: n, zeroed: false)
        self.requiresGrad = requiresGrad
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress, n > 0 { storage.pointer.update(from: base, count: n) }
        }
    }

    /// A 1-D tensor holding `values`.
    public convenience init(_ values: [Float], requiresGrad: Bool = false) {
        self.init(shape: [values.count], values, requiresGrad: requiresGrad)
    }

    /// A tensor of `shape` sharing `storage`, which must hold exactly that many elements.
    init(shape: [Int], storage: TensorStorage) {
        let n = Tensor.elementCount(shape, op: "Tensor view")
        strataCheck(n == storage.count, "Tensor view: shape \(shape) needs \(n) elements, storage holds \(storage.count)")
        self.shape = shape
        self.storage = storage
        self.requiresGrad = false
    }

    /// Product of the extents; traps on a negative extent or when the
    /// product overflows `Int` (the message names `op` and the shape).
    package static func elementCount(_ shape: [Int], op: String) -> Int {
        var n = 1
        for d in shape {
            strataCheck(d >= 0, "\(op): negative dimension in shape \(shape)")
            let (product, overflow) = n.multipliedReportingOverflow(by: d)
            strataCheck(!overflow, "\(op): the element count of shape \(shape) overflows Int")
            n = product
        }
        return n
    }

    // MARK: Creation

    /// A tensor of `shape` with every element equal to `value`.
    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.data.update(repeating: value, count: t.count)
        t.requiresGrad = requiresGrad
        return t
    }

    /// Zeros of `shape`.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(zeros: shape, requiresGrad: requiresGrad)
    }

    /// Ones of `shape`.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 1, requiresGrad: requiresGrad)
    }

    /// A 0-dimensional tensor holding `value`.
    public static func scalar(_ value: Float, requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: [], [value], requiresGrad: requiresGrad)
    }

    /// Samples of N(mean, std^2) drawn from `generator` (the global generator by default).
    public static func randn(
        _ shape: [Int], mean: Float = 0, std: Float = 1,
        generator: RandomGenerator = .global, requiresGrad: Bool = false
    ) -> Tensor {
        let t = Tensor(uninitialized: shape)
        generator.fillNormal(t.data, count: t.count, mean: mean, std: std)
        t.requiresGrad = requiresGrad
        return t
    }

    /// Samples of U[low, high) drawn from `generator` (the global generator by default).
    public static func rand(
        _ shape: [Int], low: Float = 0, high: Float = 1,
        generator: RandomGenerator = .global, requiresGrad: Bool = false
    ) -> Tensor {
        let t = Tensor(uninitialized: shape)
        generator.fillUniform(t.data, count: t.count, low: low, high: high)
        t.requiresGrad = requiresGrad
        return t
    }

    // MARK: Access

    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single element of a tensor with one element.
    public var item: Float {
        strataCheck(count == 1, "Tensor.item: tensor of shape \(shape) has \(count) elements, not 1")
        return data[0]
    }

    /// A new tensor with a copy of the data, detached from any graph.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        if count > 0 { t.data.update(from: data, count: count) }
        return t
    }

    /// A tensor sharing this one's data but not its graph (PyTorch's `detach`).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Copies `other`'s elements into this tensor in place (same element count).
    public func assign(_ other: Tensor) {
        strataCheck(other.count == count, "Tensor.assign: shape \(other.shape) does not match \(shape)")
        if count > 0 { data.update(from: other.data, count: count) }
    }

    /// Sets every element to `value` in place.
    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// Reads the elements, row-major, as a buffer that is valid only inside
    /// `body` (the tensor is kept alive until `body` returns; do not let the
    /// buffer escape).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(UnsafeBufferPointer(start: data, count: count)) }
    }

    /// Mutates the elements in place through a buffer that is valid only
    /// inside `body` (the tensor is kept alive until `body` returns). Every
    /// tensor sharing the storage (`reshaped`, `detached`) sees the writes.
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(UnsafeMutableBufferPointer(start: data, count: count)) }
    }

    /// Element at a multi-dimensional index (for tests and small tensors).
    public subscript(_ index: Int...) -> Float {
        get { data[flatIndex(index)] }
        set { data[flatIndex(index)] = newValue }
    }

    func flatIndex(_ index: [Int]) -> Int {
        strataCheck(index.count == shape.count, "Tensor subscript: index \(index) for shape \(shape)")
        var flat = 0
        for (i, d) in zip(index, shape) {
            strataCheck(i >= 0 && i < d, "Tensor subscript: index \(index) out of range for shape \(shape)")
            flat = flat * d + i
        }
        return flat
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", ..." : "")])"
    }
}
