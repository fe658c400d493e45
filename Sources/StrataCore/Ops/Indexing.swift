/// Index-driven ops: gather along an axis, top-k, and top-k accuracy.

/// Whether value `x` at index `i` ranks before `y` at index `j` in a
/// best-first order: NaN first (as the largest, like PyTorch's sort), then
/// by value, equal values by index.
@inline(__always)
private func ranksBefore(_ x: Float, _ i: Int, _ y: Float, _ j: Int, largest: Bool) -> Bool {
    if x.isNaN || y.isNaN { return x.isNaN && y.isNaN ? i < j : x.isNaN }
    if x == y { return i < j }
    return largest ? x > y : x < y
}

extension Tensor {
    /// out[i][j][k] = x[i][index[i][j][k]][k] for `axis` 1, and likewise for
    /// any axis (PyTorch's `torch.gather(x, dim, index)`). `index` has this
    /// tensor's rank, extents no larger than its own outside `axis`, and
    /// entries in 0..<extent of `axis` (negative entries are refused, as in
    /// PyTorch). The result has `index`'s shape. The backward scatter-adds
    /// (an element gathered twice gets both gradients).
    public func gather(axis: Int, index: IndexTensor) -> Tensor {
        let a = normalizedAxis(axis, rank: rank, op: "gather", shape: shape)
        strataCheck(index.shape.count == rank, "gather: index shape \(index.shape) must have the rank of shape \(shape)")
        for d in 0..<rank where d != a {
            strataCheck(index.shape[d] <= shape[d], "gather: index shape \(index.shape) exceeds shape \(shape) in dimension \(d)")
        }
        let n = shape[a]
        for v in index.values {
            strataCheck(v >= 0 && v < n, "gather: index \(v) out of range for extent \(n) of axis \(axis) in shape \(shape)")
        }
        // Flat source offset of every output element.
        var strides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        var sources = [Int](repeating: 0, count: index.values.count)
        var idx = [Int](repeating: 0, count: rank)
        for (flat, v) in index.values.enumerated() {
            var s = 0
            for d in 0..<rank { s += (d == a ? v : idx[d]) * strides[d] }
            sources[flat] = s
            var d = rank - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < index.shape[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
        let out = Tensor(uninitialized: index.shape)
        for (o, s) in sources.enumerated() { out.data[o] = data[s] }
        let x = self
        return out.recordOp("gather", inputs: [x]) { g in
            let d = Tensor(zeros: x.shape)
            for (o, s) in sources.enumerated() { d.data[s] += g.data[o] }
            x.accumulateGrad(d, owned: true)
        }
    }

    /// The `k` largest (or, with `largest: false`, smallest) elements along
    /// `axis`, sorted best first, and their indices (PyTorch's `torch.topk`,
    /// sorted). Equal values keep index order (PyTorch leaves that order
    /// unspecified). Gradient to those indices.
    public func topk(_ k: Int, axis: Int = -1, largest: Bool = true) -> (values: Tensor, indices: IndexTensor) {
        let (outer, extent, inner, a) = splitAxis(shape, axis, op: "topk")
        strataCheck(k >= 0 && k <= extent, "topk: k = \(k) out of range for extent \(extent) of axis \(axis) in shape \(shape)")
        var outShape = shape
        outShape[a] = k
        var chosen = [Int](repeating: 0, count: outer * k * inner)
        let p = data
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * extent * inner + i
                let order = (0..<extent).sorted { u, v in
                    ranksBefore(p[base + u * inner], u, p[base + v * inner], v, largest: largest)
                }
                for j in 0..<k { chosen[(o * k + j) * inner + i] = order[j] }
            }
        }
        return (gather(axis: a, index: IndexTensor(shape: outShape, chosen)), IndexTensor(shape: outShape, chosen))
    }
}

/// Fraction of rows of `scores` ([N, C], one score per class) whose label
/// is among the row's `k` highest scores (top-k accuracy; `k` 1 is plain
/// accuracy). A tie is broken by class index, as `topk` and `argmax` do:
/// the label counts as ranked after equal scores of lower classes.
public func topKAccuracy(_ scores: Tensor, labels: [Int], k: Int = 1) -> Double {
    strataCheck(scores.rank == 2, "topKAccuracy: expected scores of shape [N, C], got \(scores.shape)")
    let (n, c) = (scores.shape[0], scores.shape[1])
    strataCheck(labels.count == n, "topKAccuracy: \(labels.count) labels for \(n) rows of scores \(scores.shape)")
    strataCheck(k >= 1 && k <= c, "topKAccuracy: k = \(k) out of range for \(c) classes")
    guard n > 0 else { return 0 }
    var hits = 0
    for (r, label) in labels.enumerated() {
        strataCheck(label >= 0 && label < c, "topKAccuracy: label \(label) of row \(r) out of range for \(c) classes")
        let row = scores.data + r * c
        let s = row[label]
        // Classes ranked before the label.
        var before = 0
        for j in 0..<c where ranksBefore(row[j], j, s, label, largest: true) { before += 1 }
        if before < k { hits += 1 }
    }
    return Double(hits) / Double(n)
}
