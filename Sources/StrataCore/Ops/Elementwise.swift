/// Elementwise selection ops: clamp, abs, maximum/minimum, where. Each
/// backward beside its forward; masks follow PyTorch's conventions at ties.

/// Materialises `x` broadcast to `shape` (no graph).
private func broadcastCopy(_ x: Tensor, to shape: [Int]) -> Tensor {
    if x.shape == shape { return x }
    return withNoGrad { x.expanded(to: shape) }
}

extension Tensor {
    /// Elements limited to [min, max] (PyTorch's `clamp`; either bound may
    /// be nil). The gradient passes strictly inside: where min < x < max,
    /// 0 on a bound itself, as PyTorch's clamp with number bounds. NaN stays NaN.
    public func clamp(min low: Float? = nil, max high: Float? = nil) -> Tensor {
        strataCheck(low != nil || high != nil, "clamp: give min, max or both (shape \(shape))")
        let lo = low ?? -.infinity, hi = high ?? .infinity
        let x = self
        let out = unaryMap(x) { v in v.isNaN ? v : (v < lo ? lo : (v > hi ? hi : v)) }
        if let low, let high, low > high {
            // PyTorch sets every element to max when min > max.
            out.fill(high)
        }
        return out.recordOp("clamp", inputs: [x]) { g in
            let d = Tensor(uninitialized: x.shape)
            for i in 0..<x.count {
                let v = x.data[i]
                d.data[i] = v > lo && v < hi ? g.data[i] : 0
            }
            x.accumulateGrad(d, owned: true)
        }
    }

    /// Elements of `a` where `condition` is nonzero, of `b` elsewhere
    /// (PyTorch's `torch.where(condition, a, b)`), all three broadcast
    /// together. `condition` is a 0/1 mask tensor (any nonzero counts as
    /// true) and gets no gradient; `a` gets the gradient where the condition
    /// holds, `b` elsewhere.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let ab = Broadcast.shape(a.shape, b.shape), let shape = Broadcast.shape(condition.shape, ab) else {
            strataFatal("where: shapes \(condition.shape) (condition), \(a.shape) and \(b.shape) cannot be broadcast together")
        }
        let c = broadcastCopy(condition, to: shape), ea = broadcastCopy(a, to: shape), eb = broadcastCopy(b, to: shape)
        let out = Tensor(uninitialized: shape)
        for i in 0..<out.count { out.data[i] = c.data[i] != 0 ? ea.data[i] : eb.data[i] }
        let mask = c === condition ? c.detached() : c
        return out.recordOp("where", inputs: [a, b]) { g in
            for (x, takeWhere) in [(a, true), (b, false)] where x.requiresGrad {
                let d = Tensor(uninitialized: shape)
                for i in 0..<d.count { d.data[i] = (mask.data[i] != 0) == takeWhere ? g.data[i] : 0 }
                x.accumulateGrad(Broadcast.sum(d, to: x.shape), owned: true)
            }
        }
    }

    /// A 0/1 mask: 1 where `predicate` holds (for `Tensor.where`; no gradient).
    public func mask(_ predicate: (Float) -> Bool) -> Tensor {
        unaryMap(self) { predicate($0) ? 1 : 0 }
    }
}

/// |x| elementwise (PyTorch's `torch.abs`). The gradient is sign(x), 0 at 0.
public func abs(_ x: Tensor) -> Tensor {
    let out = unaryMap(x) { Swift.abs($0) }
    return out.recordOp("abs", inputs: [x]) { g in
        let d = Tensor(uninitialized: x.shape)
        for i in 0..<x.count {
            let v = x.data[i]
            d.data[i] = v > 0 ? g.data[i] : (v < 0 ? -g.data[i] : 0)
        }
        x.accumulateGrad(d, owned: true)
    }
}

/// Elementwise larger (`larger` true) or smaller of `a` and `b` with
/// broadcasting. At ties each side gets half the gradient (PyTorch's rule).
private func elementwiseExtreme(_ a: Tensor, _ b: Tensor, larger: Bool) -> Tensor {
    let op = larger ? "maximum" : "minimum"
    let out = broadcastBinary(a, b, op: op) { x, y in
        if x.isNaN || y.isNaN { return .nan }
        return larger ? Swift.max(x, y) : Swift.min(x, y)
    }
    let shape = out.shape
    return out.recordOp(op, inputs: [a, b]) { g in
        let ea = broadcastCopy(a, to: shape), eb = broadcastCopy(b, to: shape)
        for (x, mine, other) in [(a, ea, eb), (b, eb, ea)] where x.requiresGrad {
            let d = Tensor(uninitialized: shape)
            for i in 0..<d.count {
                let u = mine.data[i], v = other.data[i]
                let wins = larger ? u > v : u < v
                d.data[i] = u == v ? g.data[i] / 2 : (wins ? g.data[i] : 0)
            }
            x.accumulateGrad(Broadcast.sum(d, to: x.shape), owned: true)
        }
    }
}

/// Elementwise maximum with broadcasting (PyTorch's `torch.maximum`); NaN propagates.
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { elementwiseExtreme(a, b, larger: true) }

/// Elementwise minimum with broadcasting (PyTorch's `torch.minimum`); NaN propagates.
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { elementwiseExtreme(a, b, larger: false) }
