/// The fused affine op behind `Linear`: x [N, in], weight [out, in], bias [out].
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    strataCheck(weight.rank == 2, "linear: weight must be [out, in], got \(weight.shape)")
    strataCheck(
        x.rank == 2 && x.shape[1] == weight.shape[1],
        "linear: input \(x.shape) does not match weight \(weight.shape) (expected [N, \(weight.shape[1])])")
    strataCheck(
        bias == nil || bias?.shape == [weight.shape[0]],
        "linear: bias \(bias?.shape ?? []) does not match weight \(weight.shape) (expected [\(weight.shape[0])])")
    let (n, inF, outF) = (x.shape[0], weight.shape[1], weight.shape[0])
    let out = Tensor(uninitialized: [n, outF])
    let beta: Float
    if let b = bias {
        for r in 0..<n { (out.data + r * outF).update(from: b.data, count: outF) }
        beta = 1
    } else {
        beta = 0
    }
    BLAS.sgemmParallel(
        transA: .none, transB: .transpose, m: n, n: outF, k: inF, alpha: 1,
        a: x.data, lda: inF, b: weight.data, ldb: inF, beta: beta, c: out.data, ldc: outF)
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return out.recordOp("linear", inputs: inputs) { g in
        if x.requiresGrad {
            // dx [N, in] = g [N, out] · W [out, in]
            let gx = x.gradBuffer()
            BLAS.sgemmParallel(
                transA: .none, transB: .none, m: n, n: inF, k: outF, alpha: 1,
                a: g.data, lda: outF, b: weight.data, ldb: inF, beta: 1, c: gx.data, ldc: inF)
        }
        if weight.requiresGrad {
            // dW [out, in] += g^T [out, N] · x [N, in]
            let gw = weight.gradBuffer()
            BLAS.sgemmParallel(
                transA: .transpose, transB: .none, m: outF, n: inF, k: n, alpha: 1,
                a: g.data, lda: outF, b: x.data, ldb: inF, beta: 1, c: gw.data, ldc: inF)
        }
        if let b = bias, b.requiresGrad {
            let gb = b.gradBuffer()
            let pg = g.data, pb = gb.data
            for r in 0..<n { let row = pg + r * outF; for j in 0..<outF { pb[j] += row[j] } }
        }
    }
}
