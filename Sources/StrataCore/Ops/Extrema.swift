/// Largest and smallest elements along an axis, with and without indices.
///
/// `max(x, axis:)` / `min(x, axis:)` return values and indices (PyTorch's
/// `torch.max(x, dim)`); their gradient goes to the chosen index only.
/// `amax` / `amin` return values; their gradient is shared equally among
/// tied elements, as PyTorch's. Ties pick the first index (PyTorch on the
/// CPU does the same) and NaN counts as the extreme (it propagates).
/// These are free functions and `a`-prefixed methods, not methods named
/// `max`/`min`, which would hide Swift's `max`/`min` inside extensions.

/// Integer indices with a shape (PyTorch's int64 index tensors), as
/// returned by `max(_:axis:)` and `topk`, and taken by `gather`.
public struct IndexTensor: Equatable, Sendable, CustomStringConvertible {
    /// Extent of each dimension.
    public let shape: [Int]
    /// The indices in row-major order.
    public let values: [Int]

    /// Indices `values` of `shape` (element counts must agree).
    public init(shape: [Int], _ values: [Int]) {
        strataCheck(
            Tensor.elementCount(shape, op: "IndexTensor") == values.count,
            "IndexTensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    public var description: String { "IndexTensor(shape: \(shape), \(values.prefix(8))\(values.count > 8 ? "..." : ""))" }
}

/// (outer, extent, inner) and the reduced shape of a reduction along `axis`.
private func reducedGeometry(_ x: Tensor, _ axis: Int, keepingDims: Bool, op: String)
    -> (outer: Int, extent: Int, inner: Int, shape: [Int])
{
    let (outer, extent, inner, a) = splitAxis(x.shape, axis, op: op)
    strataCheck(extent > 0, "\(op): axis \(axis) of shape \(x.shape) is empty")
    var shape = x.shape
    if keepingDims { shape[a] = 1 } else { shape.remove(at: a) }
    return (outer, extent, inner, shape)
}

/// Whether `v` replaces `best` (strictly better, or NaN over a number).
@inline(__always)
private func beats(_ v: Float, _ best: Float, largest: Bool) -> Bool {
    if v.isNaN { return !best.isNaN }
    return largest ? v > best : v < best
}

/// Index of the extreme along the axis for each (outer, inner) pair.
private func extremeIndices(_ x: Tensor, outer: Int, extent: Int, inner: Int, largest: Bool) -> [Int] {
    let p = x.data
    var result = [Int](repeating: 0, count: outer * inner)
    for o in 0..<outer {
        for i in 0..<inner {
            let base = o * extent * inner + i
            var best = p[base], bestIndex = 0
            for e in 1..<extent where beats(p[base + e * inner], best, largest: largest) {
                best = p[base + e * inner]; bestIndex = e
            }
            result[o * inner + i] = bestIndex
        }
    }
    return result
}

private func extremeWithIndices(_ x: Tensor, axis: Int, keepingDims: Bool, largest: Bool) -> (values: Tensor, indices: IndexTensor) {
    let op = largest ? "max" : "min"
    let (outer, extent, inner, shape) = reducedGeometry(x, axis, keepingDims: keepingDims, op: op)
    let indices = extremeIndices(x, outer: outer, extent: extent, inner: inner, largest: largest)
    let out = Tensor(uninitialized: shape)
    for o in 0..<outer {
        for i in 0..<inner { out.data[o * inner + i] = x.data[(o * extent + indices[o * inner + i]) * inner + i] }
    }
    let values = out.recordOp(op, inputs: [x]) { g in
        let d = Tensor(zeros: x.shape)
        for o in 0..<outer {
            for i in 0..<inner { d.data[(o * extent + indices[o * inner + i]) * inner + i] = g.data[o * inner + i] }
        }
        x.accumulateGrad(d, owned: true)
    }
    return (values, IndexTensor(shape: shape, indices))
}

/// Largest elements along `axis` and their indices (PyTorch's
/// `torch.max(x, dim, keepdim)`); ties pick the first. Gradient to that index.
public func max(_ x: Tensor, axis: Int, keepingDims: Bool = false) -> (values: Tensor, indices: IndexTensor) {
    extremeWithIndices(x, axis: axis, keepingDims: keepingDims, largest: true)
}

/// Smallest elements along `axis` and their indices (PyTorch's `torch.min(x, dim, keepdim)`).
public func min(_ x: Tensor, axis: Int, keepingDims: Bool = false) -> (values: Tensor, indices: IndexTensor) {
    extremeWithIndices(x, axis: axis, keepingDims: keepingDims, largest: false)
}

/// Extreme along one run of `extent` elements `inner` apart; the gradient
/// is shared equally among the elements equal to it.
private func sharedExtreme(_ x: Tensor, outer: Int, extent: Int, inner: Int, shape: [Int], largest: Bool, op: String) -> Tensor {
    let indices = extremeIndices(x, outer: outer, extent: extent, inner: inner, largest: largest)
    let out = Tensor(uninitialized: shape)
    let p = x.data
    for o in 0..<outer {
        for i in 0..<inner { out.data[o * inner + i] = p[(o * extent + indices[o * inner + i]) * inner + i] }
    }
    let saved = out.detached()
    return out.recordOp(op, inputs: [x]) { g in
        let d = Tensor(zeros: x.shape)
        for o in 0..<outer {
            for i in 0..<inner {
                let m = saved.data[o * inner + i], base = o * extent * inner + i
                // NaN never equals itself: a NaN extreme sends its gradient to the first NaN.
                let ties = (0..<extent).filter { p[base + $0 * inner] == m }
                let targets = ties.isEmpty ? [indices[o * inner + i]] : ties
                let share = g.data[o * inner + i] / Float(targets.count)
                for e in targets { d.data[base + e * inner] = share }
            }
        }
        x.accumulateGrad(d, owned: true)
    }
}

extension Tensor {
    /// Largest elements along `axis` (PyTorch's `amax`); tied elements share the gradient.
    public func amax(axis: Int, keepingDims: Bool = false) -> Tensor {
        let (outer, extent, inner, shape) = reducedGeometry(self, axis, keepingDims: keepingDims, op: "amax")
        return sharedExtreme(self, outer: outer, extent: extent, inner: inner, shape: shape, largest: true, op: "amax")
    }

    /// Smallest elements along `axis` (PyTorch's `amin`); tied elements share the gradient.
    public func amin(axis: Int, keepingDims: Bool = false) -> Tensor {
        let (outer, extent, inner, shape) = reducedGeometry(self, axis, keepingDims: keepingDims, op: "amin")
        return sharedExtreme(self, outer: outer, extent: extent, inner: inner, shape: shape, largest: false, op: "amin")
    }

    /// Largest element as a scalar tensor (PyTorch's `x.max()` / `x.amax()`); ties share the gradient.
    public func amax() -> Tensor {
        strataCheck(count > 0, "amax: empty tensor of shape \(shape)")
        return sharedExtreme(self, outer: 1, extent: count, inner: 1, shape: [], largest: true, op: "amax")
    }

    /// Smallest element as a scalar tensor (PyTorch's `x.min()` / `x.amin()`); ties share the gradient.
    public func amin() -> Tensor {
        strataCheck(count > 0, "amin: empty tensor of shape \(shape)")
        return sharedExtreme(self, outer: 1, extent: count, inner: 1, shape: [], largest: false, op: "amin")
    }

    /// Index of the smallest element along `axis` for every other index, in
    /// row-major order of the remaining dimensions. Ties go to the first.
    public func argmin(axis: Int = -1) -> [Int] {
        let (outer, extent, inner, _) = reducedGeometry(self, axis, keepingDims: false, op: "argmin")
        return extremeIndices(self, outer: outer, extent: extent, inner: inner, largest: false)
    }
}
