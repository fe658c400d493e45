extension Tensor {
    /// The same data seen with a new shape (same element count). One
    /// extent may be -1 and is then inferred. Shares storage; no copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var shape = newShape
        if let i = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            strataCheck(
                known > 0 && count % known == 0, "reshape: cannot infer -1 in \(newShape) for \(count) elements (shape \(self.shape))")
            shape[i] = count / known
        }
        strataCheck(
            Tensor.elementCount(shape, op: "reshape") == count,
            "reshape: shape \(newShape) has a different element count than \(self.shape)")
        let out = Tensor(shape: shape, storage: storage)
        let source = self
        return out.recordOp("reshape", inputs: [source]) { g in
            source.accumulateGrad(Tensor(shape: source.shape, storage: g.storage))
        }
    }

    /// Flattens dimensions `startDim...` into one (PyTorch's `flatten(start_dim=1)` by default).
    public func flattened(startDim: Int = 1) -> Tensor {
        strataCheck(startDim >= 0 && startDim <= max(rank - 1, 0), "flatten: startDim \(startDim) out of range for shape \(shape)")
        if rank == 0 { return reshaped([1]) }
        let lead = Array(shape[..<startDim])
        return reshaped(lead + [shape[startDim...].reduce(1, *)])
    }

    /// Rows `indices` of the outermost dimension, in that order (a gather
    /// along axis 0: indexing a batch of samples). Differentiable.
    public func rows(_ indices: [Int]) -> Tensor {
        strataCheck(rank >= 1, "rows: tensor must have at least one dimension")
        let rowSize = count / max(shape[0], 1)
        let out = Tensor(uninitialized: [indices.count] + shape.dropFirst())
        for (r, i) in indices.enumerated() {
            strataCheck(i >= 0 && i < shape[0], "rows: index \(i) out of range for \(shape[0]) rows")
            (out.data + r * rowSize).update(from: data + i * rowSize, count: rowSize)
        }
        let source = self
        return out.recordOp("rows", inputs: [source]) { g in
            let d = Tensor(zeros: source.shape)
            for (r, i) in indices.enumerated() {
                let dst = d.data + i * rowSize, src = g.data + r * rowSize
                for j in 0..<rowSize { dst[j] += src[j] }
            }
            source.accumulateGrad(d, owned: true)
        }
    }

    /// Rows `range` of the outermost dimension (a contiguous slice, copied).
    public func rows(_ range: Range<Int>) -> Tensor { rows(Array(range)) }

    /// Transpose of a 2-D tensor (copied).
    public func transposed() -> Tensor {
        strataCheck(rank == 2, "transposed: expected a 2-D tensor, got \(shape)")
        let (r, c) = (shape[0], shape[1])
        let out = Tensor(uninitialized: [c, r])
        for i in 0..<r { for j in 0..<c { out.data[j * r + i] = data[i * c + j] } }
        let source = self
        return out.recordOp("transpose", inputs: [source]) { g in
            let d = Tensor(uninitialized: [r, c])
            for i in 0..<r { for j in 0..<c { d.data[i * c + j] = g.data[j * r + i] } }
            source.accumulateGrad(d, owned: true)
        }
    }
}
