/// Comparing tensors: PyTorch's `torch.allclose` and the largest
/// difference, for tests and for checking a port against a reference.

/// Whether |a - b| <= atol + rtol * |b| for every element of the broadcast
/// of `a` and `b` (PyTorch's `torch.allclose`, same defaults). NaNs are
/// never close unless `equalNaN`; infinities are close to themselves only.
/// Traps, naming both shapes, when the shapes do not broadcast.
public func allClose(_ a: Tensor, _ b: Tensor, rtol: Float = 1e-5, atol: Float = 1e-8, equalNaN: Bool = false) -> Bool {
    let close = broadcastBinary(a, b, op: "allClose") { x, y -> Float in
        if x.isNaN || y.isNaN { return equalNaN && x.isNaN && y.isNaN ? 1 : 0 }
        if x.isInfinite || y.isInfinite { return x == y ? 1 : 0 }
        return abs(x - y) <= atol + rtol * abs(y) ? 1 : 0
    }
    return close.scalars.allSatisfy { $0 == 1 }
}

/// The largest |a - b| over the broadcast of `a` and `b` (0 for empty
/// tensors); NaN when any difference is NaN. Traps when the shapes do not broadcast.
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    let d = broadcastBinary(a, b, op: "maxAbsDifference") { x, y in abs(x - y) }
    var worst: Float = 0
    for v in d.scalars {
        if v.isNaN { return .nan }
        worst = max(worst, v)
    }
    return worst
}

extension Tensor {
    /// `allClose(self, other, rtol:atol:equalNaN:)`.
    public func allClose(_ other: Tensor, rtol: Float = 1e-5, atol: Float = 1e-8, equalNaN: Bool = false) -> Bool {
        StrataCore.allClose(self, other, rtol: rtol, atol: atol, equalNaN: equalNaN)
    }

    /// `maxAbsDifference(self, other)`.
    public func maxAbsDifference(_ other: Tensor) -> Float { StrataCore.maxAbsDifference(self, other) }
}
