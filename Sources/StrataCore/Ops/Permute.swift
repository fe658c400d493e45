/// Reordering and reshaping dimensions: permute, transpose of any two axes,
/// squeeze, unsqueeze and expand.

/// Writes `x` (of `shape`) permuted by `dims` into `out`: out index
/// (i₀, …, iᵣ₋₁) reads x at the index whose dimension dims[k] is iₖ.
private func permuteCopy(_ x: UnsafePointer<Float>, shape: [Int], dims: [Int], into out: UnsafeMutablePointer<Float>) {
    let r = shape.count
    if r == 0 { out[0] = x[0]; return }
    var inStrides = [Int](repeating: 1, count: r)
    for d in stride(from: r - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
    let outShape = dims.map { shape[$0] }
    let strides = dims.map { inStrides[$0] }
    let n = outShape[r - 1], step = strides[r - 1]
    let rows = outShape.dropLast().reduce(1, *)
    if n == 0 || rows == 0 { return }
    var idx = [Int](repeating: 0, count: r - 1)
    var base = 0
    for row in 0..<rows {
        let o = out + row * n
        for j in 0..<n { o[j] = x[base + j * step] }
        var d = r - 2
        while d >= 0 {
            idx[d] += 1
            base += strides[d]
            if idx[d] < outShape[d] { break }
            base -= strides[d] * outShape[d]
            idx[d] = 0
            d -= 1
        }
    }
}

extension Tensor {
    /// The dimensions reordered: dimension k of the result is dimension
    /// `dims[k]` of this tensor (PyTorch's `x.permute(*dims)`; negative
    /// entries count from the end). Copied.
    public func permuted(_ dims: [Int]) -> Tensor {
        strataCheck(dims.count == rank, "permute: \(dims) does not list the \(rank) dimensions of shape \(shape)")
        let p = dims.map { normalizedAxis($0, rank: rank, op: "permute", shape: shape) }
        strataCheck(Set(p).count == rank, "permute: \(dims) repeats a dimension (shape \(shape))")
        let out = Tensor(uninitialized: p.map { shape[$0] })
        if count > 0 { permuteCopy(data, shape: shape, dims: p, into: out.data) }
        var inverse = [Int](repeating: 0, count: rank)
        for (k, d) in p.enumerated() { inverse[d] = k }
        let x = self, outShape = out.shape
        return out.recordOp("permute", inputs: [x]) { g in
            let d = Tensor(uninitialized: x.shape)
            if x.count > 0 { permuteCopy(g.data, shape: outShape, dims: inverse, into: d.data) }
            x.accumulateGrad(d, owned: true)
        }
    }

    /// Dimensions `a` and `b` swapped, any rank (PyTorch's `x.transpose(a, b)`). Copied.
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        let i = normalizedAxis(a, rank: rank, op: "transpose", shape: shape)
        let j = normalizedAxis(b, rank: rank, op: "transpose", shape: shape)
        var dims = Array(0..<rank)
        dims.swapAt(i, j)
        return permuted(dims)
    }

    /// Every dimension of extent 1 removed (PyTorch's `x.squeeze()`). Shares storage.
    public func squeezed() -> Tensor { reshaped(shape.filter { $0 != 1 }) }

    /// Dimension `axis` removed if its extent is 1, otherwise unchanged (as
    /// PyTorch's `x.squeeze(dim)`). Shares storage.
    public func squeezed(axis: Int) -> Tensor {
        let a = normalizedAxis(axis, rank: rank, op: "squeeze", shape: shape)
        guard shape[a] == 1 else { return reshaped(shape) }
        var s = shape
        s.remove(at: a)
        return reshaped(s)
    }

    /// A dimension of extent 1 inserted at `axis` (0...rank; negative counts
    /// from the end, -1 = after the last), PyTorch's `x.unsqueeze(dim)`. Shares storage.
    public func unsqueezed(axis: Int) -> Tensor {
        let a = normalizedAxis(axis, rank: rank + 1, op: "unsqueeze", shape: shape)
        var s = shape
        s.insert(1, at: a)
        return reshaped(s)
    }

    /// This tensor broadcast to `shape` (PyTorch's `x.expand(*shape)`):
    /// dimensions are aligned at the end, an extent of 1 stretches, new
    /// leading dimensions may be added, and -1 keeps an existing extent.
    /// Copied (PyTorch returns a view); the backward sums over the
    /// stretched dimensions.
    public func expanded(to target: [Int]) -> Tensor {
        strataCheck(target.count >= rank, "expand: target \(target) has fewer dimensions than shape \(shape)")
        let lead = target.count - rank
        let padded = [Int](repeating: 1, count: lead) + shape
        var maps: [[Int]] = []
        for (d, t) in target.enumerated() {
            let n = padded[d]
            let extent = t == -1 && d >= lead ? n : t
            strataCheck(
                extent >= 0 && (n == extent || n == 1),
                "expand: shape \(shape) cannot be expanded to \(target) (dimension \(d): \(n) to \(t))")
            maps.append(n == extent ? Array(0..<n) : [Int](repeating: 0, count: extent))
        }
        return mapped(AxisMaps(inShape: padded, maps: maps), op: "expand")
    }
}
