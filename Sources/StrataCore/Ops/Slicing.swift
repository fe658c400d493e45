/// Slicing along one axis, and split/chunk built on it. Slices are copies
/// (PyTorch returns views; here every op returns a new tensor).

/// Resolves a possibly negative axis against `rank`, trapping with `op`'s name.
@inline(__always)
func normalizedAxis(_ axis: Int, rank: Int, op: String, shape: [Int]) -> Int {
    let a = axis < 0 ? axis + rank : axis
    strataCheck(a >= 0 && a < rank, "\(op): axis \(axis) out of range for shape \(shape)")
    return a
}

extension Tensor {
    /// Elements `start..<end` in steps of `step` along `axis` (PyTorch's
    /// `x.narrow` / `x[:, start:end:step]`). As in Python, negative `start`
    /// and `end` count from the end and both are clamped to the extent;
    /// `end` nil means the extent. `step` must be positive. Copied.
    public func slice(axis: Int, start: Int = 0, end: Int? = nil, step: Int = 1) -> Tensor {
        let a = normalizedAxis(axis, rank: rank, op: "slice", shape: shape)
        strataCheck(step > 0, "slice: step must be positive, got \(step) (shape \(shape), axis \(axis))")
        let n = shape[a]
        func resolve(_ i: Int) -> Int { Swift.min(Swift.max(i < 0 ? i + n : i, 0), n) }
        let lo = resolve(start), hi = Swift.max(resolve(end ?? n), lo)
        return mapped(AxisMaps.along(a, of: shape, Array(stride(from: lo, to: hi, by: step))), op: "slice")
    }

    /// Element `index` along `axis`, with that axis removed (PyTorch's
    /// `x.select(dim, index)`; negative counts from the end).
    public func select(axis: Int, index: Int) -> Tensor {
        let a = normalizedAxis(axis, rank: rank, op: "select", shape: shape)
        let i = index < 0 ? index + shape[a] : index
        strataCheck(i >= 0 && i < shape[a], "select: index \(index) out of range for extent \(shape[a]) of axis \(axis) in shape \(shape)")
        var outShape = shape
        outShape.remove(at: a)
        return slice(axis: a, start: i, end: i + 1).reshaped(outShape)
    }

    /// Pieces of the given extents along `axis`, which must sum to its
    /// extent (PyTorch's `torch.split(x, [s₀, s₁, …], dim)`).
    public func split(_ sizes: [Int], axis: Int = 0) -> [Tensor] {
        let a = normalizedAxis(axis, rank: rank, op: "split", shape: shape)
        strataCheck(
            sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[a],
            "split: sizes \(sizes) must be non-negative and sum to extent \(shape[a]) of axis \(axis) in shape \(shape)")
        var start = 0
        return sizes.map { s in
            defer { start += s }
            return slice(axis: a, start: start, end: start + s)
        }
    }

    /// Pieces of extent `size` along `axis`, the last one smaller if the
    /// extent is not a multiple (PyTorch's `torch.split(x, size, dim)`).
    public func split(size: Int, axis: Int = 0) -> [Tensor] {
        let a = normalizedAxis(axis, rank: rank, op: "split", shape: shape)
        strataCheck(size > 0, "split: size must be positive, got \(size) (shape \(shape))")
        let n = shape[a]
        return split(stride(from: 0, to: n, by: size).map { Swift.min(size, n - $0) }, axis: a)
    }

    /// `chunks` pieces of extent ⌈extent / chunks⌉ along `axis` (fewer when
    /// the extent runs out first), as PyTorch's `torch.chunk`.
    public func chunk(_ chunks: Int, axis: Int = 0) -> [Tensor] {
        let a = normalizedAxis(axis, rank: rank, op: "chunk", shape: shape)
        strataCheck(chunks > 0, "chunk: chunks must be positive, got \(chunks) (shape \(shape))")
        let size = Swift.max((shape[a] + chunks - 1) / chunks, 1)
        return split(size: size, axis: a)
    }
}
