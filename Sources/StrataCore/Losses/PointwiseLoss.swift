/// The shared shape of pointwise losses (L1, MSE, SmoothL1, Huber, the BCE
/// family, KL divergence): an input and a target of the same shape, a value
/// per element, and a fused backward that writes each input's gradient in
/// one pass.

/// Checks that `input` and `target` have the same shape, naming `op`.
func validateSameShape(_ input: Tensor, _ target: Tensor, op: String) throws {
    guard input.shape == target.shape else {
        throw StrataError.invalidArgument("\(op): input shape \(input.shape) differs from target shape \(target.shape)")
    }
}

/// Checks that `t`'s shape broadcasts to exactly `shape` (PyTorch's rule:
/// aligned at the last dimension, extents equal or 1), naming `op` and `what`.
func validateBroadcast(_ t: Tensor, to shape: [Int], op: String, what: String) throws {
    guard t.rank <= shape.count, Broadcast.shape(t.shape, shape) == shape else {
        throw StrataError.invalidArgument("\(op): \(what) of shape \(t.shape) does not broadcast to the input shape \(shape)")
    }
}

/// `t`'s values expanded to `shape` (which its shape must broadcast to), as
/// a flat row-major array; the values themselves when the shapes match.
func expandedValues(_ t: Tensor, to shape: [Int], op: String, what: String) -> [Float] {
    strataTry { try validateBroadcast(t, to: shape, op: op, what: what) }
    if t.shape == shape { return t.scalars }
    var out = [Float](repeating: 0, count: Tensor.elementCount(shape, op: op))
    let s = Broadcast.strides(of: t.shape, in: shape)
    let src = t.data
    out.withUnsafeMutableBufferPointer { o in
        Broadcast.forEachRow(outShape: shape, aStrides: s, bStrides: s) { oo, so, _, len, ss, _ in
            for j in 0..<len { o[oo + j] = src[so + j * ss] }
        }
    }
    return out
}

/// Builds a pointwise loss of `input` against `target` (same shape).
///
/// `value(x, y, i)` is element i's loss; `dInput(x, y, i)` and
/// `dTarget(x, y, i)` its partial derivatives. The output is the values
/// ([shape], `.none`) or their scaled sum per `output`; backward multiplies
/// each derivative by the incoming factor and writes one gradient per input
/// that requires it.
@inline(__always)
func pointwiseLoss(
    _ op: String, _ input: Tensor, _ target: Tensor, output: LossOutput,
    value: (Float, Float, Int) -> Double,
    dInput: @escaping (Float, Float, Int) -> Float,
    dTarget: @escaping (Float, Float, Int) -> Float
) -> Tensor {
    let n = input.count
    let values = output.elementwise ? Tensor(uninitialized: input.shape) : nil
    var total: Double = 0
    let px = input.data, py = target.data
    if let v = values?.data {
        for i in 0..<n { let l = value(px[i], py[i], i); v[i] = Float(l); total += l }
    } else {
        for i in 0..<n { total += value(px[i], py[i], i) }
    }
    let out = output.make(values: values, total: total, shape: input.shape)
    return out.recordOp(op, inputs: [input, target]) { g in
        let factor = output.factor(g)
        let px = input.data, py = target.data
        for (t, derivative) in [(input, dInput), (target, dTarget)] where t.requiresGrad {
            let d = Tensor(uninitialized: t.shape)
            let pd = d.data
            for i in 0..<n { pd[i] = factor(i) * derivative(px[i], py[i], i) }
            t.accumulateGrad(d, owned: true)
        }
    }
}
