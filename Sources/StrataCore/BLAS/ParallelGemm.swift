/// sgemm split across Strata's workers.
///
/// Threading policy for products: the library's own ops (matmul, Linear)
/// never wake OpenBLAS's thread pool. When `Threading.count` > 1 and the
/// product is large enough, the output is cut into `Threading.count` slabs
/// (along M, or along N when N is the larger) and each worker runs a
/// single-threaded sgemm on its slab inside `Threading.parallelFor`.
/// OpenBLAS's idle threads otherwise spin-yield for a while after each
/// multi-threaded call and steal the cores from the per-channel and
/// per-sample kernels that follow (measured on the reference CNN step).
extension BLAS {
    /// Products below this many multiply-adds run on one thread.
    static let parallelGemmThreshold = 1 << 23

    /// Same contract as `sgemm`; the work is split over `Threading.count` workers.
    package static func sgemmParallel(
        transA: Transpose, transB: Transpose,
        m: Int, n: Int, k: Int,
        alpha: Float,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let workers = Threading.count
        if workers <= 1 || m * n * k < parallelGemmThreshold || max(m, n) < 32 {
            BLAS.withThreads(1) {
                sgemm(
                    transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                    a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }
            return
        }
        if m >= n {
            // Rows [lo, hi) of C need rows [lo, hi) of op(A).
            Threading.parallelFor(m, minChunk: 16) { r in
                let aOffset = transA == .none ? r.lowerBound * lda : r.lowerBound
                sgemm(
                    transA: transA, transB: transB, m: r.count, n: n, k: k, alpha: alpha,
                    a: a + aOffset, lda: lda, b: b, ldb: ldb, beta: beta,
                    c: c + r.lowerBound * ldc, ldc: ldc)
            }
        } else {
            // Columns [lo, hi) of C need columns [lo, hi) of op(B).
            Threading.parallelFor(n, minChunk: 16) { r in
                let bOffset = transB == .none ? r.lowerBound : r.lowerBound * ldb
                sgemm(
                    transA: transA, transB: transB, m: m, n: r.count, k: k, alpha: alpha,
                    a: a, lda: lda, b: b + bOffset, ldb: ldb, beta: beta,
                    c: c + r.lowerBound, ldc: ldc)
            }
        }
    }
}
