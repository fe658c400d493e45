/// Joining tensors along an axis: cat and stack.

/// Copies, for each of `outer` rows, `pieces[i]` (of `widths[i]` elements
/// per row) into or out of the concatenated row of `widths.sum()` elements.
/// Large copies run in parallel over rows (disjoint memory).
private func copyBlocks(
    outer: Int, widths: [Int], joined: UnsafeMutablePointer<Float>,
    pieces: [UnsafeMutablePointer<Float>], intoJoined: Bool
) {
    let rowWidth = widths.reduce(0, +)
    guard rowWidth > 0 else { return }
    Threading.parallelFor(outer, minChunk: Swift.max(1, (1 << 16) / rowWidth)) { rows in
        for o in rows {
            var offset = o * rowWidth
            for (p, w) in zip(pieces, widths) where w > 0 {
                let piece = p + o * w, row = joined + offset
                if intoJoined { row.update(from: piece, count: w) } else { piece.update(from: row, count: w) }
                offset += w
            }
        }
    }
}

/// Joins `tensors` along `axis` (PyTorch's `torch.cat`). All must have the
/// same rank and the same extents except along `axis`; negative `axis`
/// counts from the end. Differentiable: each input gets its part of the
/// gradient.
public func cat(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    strataCheck(!tensors.isEmpty, "cat: needs at least one tensor")
    let first = tensors[0].shape
    let a = normalizedAxis(axis, rank: first.count, op: "cat", shape: first)
    for t in tensors {
        var s = t.shape, f = first
        strataCheck(s.count == f.count, "cat: shapes \(tensors.map(\.shape)) differ in rank")
        s[a] = 0; f[a] = 0
        strataCheck(s == f, "cat: shapes \(tensors.map(\.shape)) differ outside axis \(axis)")
    }
    var outShape = first
    outShape[a] = tensors.map { $0.shape[a] }.reduce(0, +)
    let outer = first[..<a].reduce(1, *), inner = first[(a + 1)...].reduce(1, *)
    let widths = tensors.map { $0.shape[a] * inner }
    let out = Tensor(uninitialized: outShape)
    copyBlocks(outer: outer, widths: widths, joined: out.data, pieces: tensors.map(\.data), intoJoined: true)
    return out.recordOp("cat", inputs: tensors) { g in
        let parts = tensors.map { Tensor(uninitialized: $0.shape) }
        copyBlocks(outer: outer, widths: widths, joined: g.data, pieces: parts.map(\.data), intoJoined: false)
        for (t, d) in zip(tensors, parts) where t.requiresGrad { t.accumulateGrad(d, owned: true) }
    }
}

/// Joins equally shaped `tensors` along a new axis `axis` (0...rank;
/// negative counts from the end, -1 = after the last), PyTorch's `torch.stack`.
public func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    strataCheck(!tensors.isEmpty, "stack: needs at least one tensor")
    let shape = tensors[0].shape
    strataCheck(tensors.allSatisfy { $0.shape == shape }, "stack: shapes \(tensors.map(\.shape)) differ")
    let a = normalizedAxis(axis, rank: shape.count + 1, op: "stack", shape: shape)
    return cat(tensors.map { $0.unsqueezed(axis: a) }, axis: a)
}
