import Foundation

/// Pointwise nonlinearities and softmax, each with its backward closure
/// beside its forward.
extension Tensor {
    /// Pointwise op whose derivative is computed from the input `x` and the
    /// output `y`: dL/dx = g * derivative(x, y).
    @inline(__always)
    func pointwise(_ op: String, _ f: (Float) -> Float, derivative: @escaping (Float, Float) -> Float) -> Tensor {
        let x = self
        let out = unaryMap(x, f)
        let saved = out.detached()
        return out.recordOp(op, inputs: [x]) { g in
            let d = Tensor(uninitialized: x.shape)
            let pd = d.data, pg = g.data, px = x.data, py = saved.data
            for i in 0..<x.count { pd[i] = pg[i] * derivative(px[i], py[i]) }
            x.accumulateGrad(d, owned: true)
        }
    }

    /// max(x, 0). The derivative at 0 is taken as 0, as in PyTorch.
    public func relu() -> Tensor {
        // Specialised (the hottest activation): the mask is read from the output.
        let x = self
        let out = Tensor(uninitialized: shape)
        // Counts hoisted into locals: the stores through the pointers could
        // otherwise alias the tensors' fields and block vectorisation.
        let px = data, py = out.data, n = count
        Threading.parallelFor(n, minChunk: 1 << 16) { r in reluForwardKernel(px, py, r) }
        let saved = out.detached()
        return out.recordOp("relu", inputs: [x]) { g in
            let d = Tensor(uninitialized: x.shape)
            let pd = d.data, pg = g.data, ps = saved.data
            Threading.parallelFor(n, minChunk: 1 << 16) { r in reluBackwardKernel(ps, pg, pd, r) }
            x.accumulateGrad(d, owned: true)
        }
    }

    /// x for x > 0, slope * x otherwise (PyTorch default slope 0.01).
    public func leakyRelu(negativeSlope: Float = 0.01) -> Tensor {
        pointwise("leaky_relu", { $0 > 0 ? $0 : negativeSlope * $0 }, derivative: { x, _ in x > 0 ? 1 : negativeSlope })
    }

    /// 1 / (1 + e^-x).
    public func sigmoid() -> Tensor {
        pointwise(
            "sigmoid",
            { x in
                x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
            }, derivative: { _, y in y * (1 - y) })
    }

    /// Hyperbolic tangent.
    public func tanh() -> Tensor {
        pointwise("tanh", { Foundation.tanh($0) }, derivative: { _, y in 1 - y * y })
    }

    /// GELU with the exact erf form, PyTorch's default:
    /// x * Φ(x) with Φ the standard normal CDF.
    public func gelu() -> Tensor {
        pointwise(
            "gelu", { x in 0.5 * x * (1 + Foundation.erf(x * 0.70710678)) },
            derivative: { x, _ in
                let cdf = 0.5 * (1 + Foundation.erf(x * 0.70710678))
                let pdf = 0.39894228 * Foundation.exp(-0.5 * x * x)
                return cdf + x * pdf
            })
    }

    /// Softmax along `axis` (default the last), computed stably as
    /// exp(x - logsumexp(x)).
    public func softmax(axis: Int = -1) -> Tensor {
        let (outer, extent, inner, _) = splitAxis(shape, axis, op: "softmax")
        let x = self
        let out = Tensor(uninitialized: shape)
        let px = data, py = out.data
        forEachLane(outer: outer, extent: extent, inner: inner) { base in
            let lse = laneLogSumExp(px, base: base, extent: extent, stride: inner)
            for e in 0..<extent { let j = base + e * inner; py[j] = Foundation.exp(px[j] - lse) }
        }
        let saved = out.detached()
        return out.recordOp("softmax", inputs: [x]) { g in
            // dx = y * (g - sum(g * y)) along the axis.
            let d = Tensor(uninitialized: x.shape)
            let pg = g.data, ps = saved.data, pd = d.data
            forEachLane(outer: outer, extent: extent, inner: inner) { base in
                var dot: Float = 0
                for e in 0..<extent { dot += pg[base + e * inner] * ps[base + e * inner] }
                for e in 0..<extent { let j = base + e * inner; pd[j] = ps[j] * (pg[j] - dot) }
            }
            x.accumulateGrad(d, owned: true)
        }
    }

    /// log(softmax(x)) along `axis`, computed as x - logsumexp(x).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let (outer, extent, inner, _) = splitAxis(shape, axis, op: "logSoftmax")
        let x = self
        let out = Tensor(uninitialized: shape)
        let px = data, py = out.data
        forEachLane(outer: outer, extent: extent, inner: inner) { base in
            let lse = laneLogSumExp(px, base: base, extent: extent, stride: inner)
            for e in 0..<extent { let j = base + e * inner; py[j] = px[j] - lse }
        }
        let saved = out.detached()
        return out.recordOp("log_softmax", inputs: [x]) { g in
            // dx = g - softmax * sum(g) along the axis.
            let d = Tensor(uninitialized: x.shape)
            let pg = g.data, ps = saved.data, pd = d.data
            forEachLane(outer: outer, extent: extent, inner: inner) { base in
                var total: Float = 0
                for e in 0..<extent { total += pg[base + e * inner] }
                for e in 0..<extent { let j = base + e * inner; pd[j] = pg[j] - Foundation.exp(ps[j]) * total }
            }
            x.accumulateGrad(d, owned: true)
        }
    }
}

/// Calls `body(base)` for every lane along a reduction axis of a tensor seen
/// as [outer, extent, inner]: the lane's elements are base + e * inner.
@inline(__always)
func forEachLane(outer: Int, extent: Int, inner: Int, _ body: (Int) -> Void) {
    for o in 0..<outer {
        for i in 0..<inner { body(o * extent * inner + i) }
    }
}

/// log(sum(exp(x))) over `extent` elements at `base + e * stride`, stable
/// (the maximum is subtracted first; the sum is accumulated in Double).
@inline(__always)
func laneLogSumExp(_ x: UnsafePointer<Float>, base: Int, extent: Int, stride: Int) -> Float {
    var m = -Float.infinity
    for e in 0..<extent { m = max(m, x[base + e * stride]) }
    var s: Double = 0
    for e in 0..<extent { s += Double(Foundation.exp(x[base + e * stride] - m)) }
    return m + Float(Foundation.log(s))
}

/// y = max(x, 0) over `r`, 16 lanes at a time; NaN stays NaN as in PyTorch.
@inline(never)
func reluForwardKernel(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ r: Range<Int>) {
    var i = r.lowerBound
    while i + 16 <= r.upperBound {
        let v = load16(x + i)
        store16(y + i, v.replacing(with: 0, where: v .< 0))
        i += 16
    }
    while i < r.upperBound { y[i] = x[i] < 0 ? 0 : x[i]; i += 1 }
}

/// dx = 0 where the output is <= 0, else dy, over `r`: a NaN output passes
/// its gradient (PyTorch's threshold_backward), in the vector body and in
/// the scalar tail alike.
@inline(never)
func reluBackwardKernel(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ r: Range<Int>) {
    var i = r.lowerBound
    while i + 16 <= r.upperBound {
        store16(dx + i, load16(dy + i).replacing(with: 0, where: load16(y + i) .<= 0))
        i += 16
    }
    while i < r.upperBound { dx[i] = y[i] <= 0 ? 0 : dy[i]; i += 1 }
}
