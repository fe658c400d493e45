/// Matrix products on sgemm. Transposes are passed to BLAS as flags, never
/// materialised.

/// Computes op(a) · op(b) for 2-D `a`, `b`, where op transposes when asked.
/// Shapes: op(a) is [m, k], op(b) is [k, n], result [m, n].
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    strataCheck(a.rank == 2 && b.rank == 2, "matmul: expected 2-D operands, got \(a.shape) and \(b.shape)")
    let m = transposeA ? a.shape[1] : a.shape[0]
    let k = transposeA ? a.shape[0] : a.shape[1]
    let kb = transposeB ? b.shape[1] : b.shape[0]
    let n = transposeB ? b.shape[0] : b.shape[1]
    strataCheck(
        k == kb,
        "matmul: inner dimensions differ: op(a) is [\(m), \(k)], op(b) is [\(kb), \(n)] (a \(a.shape), b \(b.shape), transposeA \(transposeA), transposeB \(transposeB))"
    )
    let out = Tensor(uninitialized: [m, n])
    BLAS.sgemmParallel(
        transA: transposeA ? .transpose : .none, transB: transposeB ? .transpose : .none,
        m: m, n: n, k: k, alpha: 1, a: a.data, lda: a.shape[1], b: b.data, ldb: b.shape[1],
        beta: 0, c: out.data, ldc: n)
    return out.recordOp("matmul", inputs: [a, b]) { g in
        // out = A' B' with A' = op(a), B' = op(b); dA' = g B'^T, dB' = A'^T g.
        if a.requiresGrad {
            let ga = a.gradBuffer()
            if transposeA {
                // a = A'^T, so da = (g B'^T)^T = B' g^T: [k, m]
                BLAS.sgemmParallel(
                    transA: transposeB ? .transpose : .none, transB: .transpose, m: k, n: m, k: n,
                    alpha: 1, a: b.data, lda: b.shape[1], b: g.data, ldb: n, beta: 1, c: ga.data, ldc: m)
            } else {
                BLAS.sgemmParallel(
                    transA: .none, transB: transposeB ? .none : .transpose, m: m, n: k, k: n,
                    alpha: 1, a: g.data, lda: n, b: b.data, ldb: b.shape[1], beta: 1, c: ga.data, ldc: k)
            }
        }
        if b.requiresGrad {
            let gb = b.gradBuffer()
            if transposeB {
                // b = B'^T, so db = (A'^T g)^T = g^T A': [n, k]
                BLAS.sgemmParallel(
                    transA: .transpose, transB: transposeA ? .transpose : .none, m: n, n: k, k: m,
                    alpha: 1, a: g.data, lda: n, b: a.data, ldb: a.shape[1], beta: 1, c: gb.data, ldc: k)
            } else {
                BLAS.sgemmParallel(
                    transA: transposeA ? .none : .transpose, transB: .none, m: k, n: n, k: m,
                    alpha: 1, a: a.data, lda: a.shape[1], b: g.data, ldb: n, beta: 1, c: gb.data, ldc: n)
            }
        }
    }
}
