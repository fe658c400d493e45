/// Reductions. Sums accumulate in Double so long reductions stay accurate.

/// Splits `shape` around `axis` into (outer, extent, inner) for strided loops.
@inline(__always)
func splitAxis(_ shape: [Int], _ axis: Int, op: String) -> (outer: Int, extent: Int, inner: Int, axis: Int) {
    let a = axis < 0 ? axis + shape.count : axis
    strataCheck(a >= 0 && a < shape.count, "\(op): axis \(axis) out of range for shape \(shape)")
    return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *), a)
}

extension Tensor {
    /// Sum of all elements, as a scalar tensor.
    public func sum() -> Tensor {
        var acc: Double = 0
        for i in 0..<count { acc += Double(data[i]) }
        let out = Tensor.scalar(Float(acc))
        let x = self
        return out.recordOp("sum", inputs: [x]) { g in
            x.accumulateGrad(Tensor.full(x.shape, g.data[0]), owned: true)
        }
    }

    /// Mean of all elements, as a scalar tensor.
    public func mean() -> Tensor {
        strataCheck(count > 0, "mean: empty tensor of shape \(shape)")
        return sum() * (1 / Float(count))
    }

    /// Sum over `axis` (negative counts from the end); keeps it as extent 1 when `keepingDims`.
    public func sum(axis: Int, keepingDims: Bool = false) -> Tensor {
        let (outer, extent, inner, a) = splitAxis(shape, axis, op: "sum(axis:)")
        var outShape = shape
        if keepingDims { outShape[a] = 1 } else { outShape.remove(at: a) }
        let out = Tensor(zeros: outShape)
        let x = self
        let px = data, po = out.data
        for o in 0..<outer {
            for i in 0..<inner {
                var acc: Double = 0
                for e in 0..<extent { acc += Double(px[(o * extent + e) * inner + i]) }
                po[o * inner + i] = Float(acc)
            }
        }
        return out.recordOp("sum_axis", inputs: [x]) { g in
            let d = Tensor(uninitialized: x.shape)
            for o in 0..<outer {
                for e in 0..<extent {
                    let dst = d.data + (o * extent + e) * inner, src = g.data + o * inner
                    dst.update(from: src, count: inner)
                }
            }
            x.accumulateGrad(d, owned: true)
        }
    }

    /// Mean over `axis`.
    public func mean(axis: Int, keepingDims: Bool = false) -> Tensor {
        let (_, extent, _, _) = splitAxis(shape, axis, op: "mean(axis:)")
        return sum(axis: axis, keepingDims: keepingDims) * (1 / Float(extent))
    }

    /// Index of the largest element along `axis` for every other index, in
    /// row-major order of the remaining dimensions. Ties go to the first.
    public func argmax(axis: Int = -1) -> [Int] {
        let (outer, extent, inner, _) = splitAxis(shape, axis, op: "argmax")
        strataCheck(extent > 0, "argmax: empty axis in shape \(shape)")
        var result = [Int](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = data[o * extent * inner + i], bestIndex = 0
                for e in 1..<max(extent, 1) {
                    let v = data[(o * extent + e) * inner + i]
                    if v > best { best = v; bestIndex = e }
                }
                result[o * inner + i] = bestIndex
            }
        }
        return result
    }
}
