import COpenBLAS

/// The one door to OpenBLAS. Every other file of the library calls these
/// wrappers; none imports `COpenBLAS`.
///
/// Conventions: matrices are row-major. Each wrapper is named after the BLAS
/// routine it calls, takes explicit leading dimensions, and traps with a
/// message when a size does not fit the 32-bit integers of the CBLAS ABI.
package enum BLAS {
    /// Whether a matrix operand is used as stored or transposed.
    package enum Transpose: Sendable {
        case none, transpose
        var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
    }

    /// Number of threads OpenBLAS uses for one call.
    package static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set {
            strataCheck(newValue >= 1, "BLAS.threadCount must be at least 1, got \(newValue)")
            openblas_set_num_threads(Int32(newValue))
        }
    }

    /// The build configuration string of the OpenBLAS in use (kernel, threading).
    package static var configuration: String {
        guard let c = openblas_get_config() else { return "unknown" }
        return String(cString: c)
    }

    /// Runs `body` with OpenBLAS pinned to `threads` threads, then restores the
    /// previous count. Used around regions the library parallelises itself.
    /// The save and restore take the lock of `Threading.parallelFor`'s
    /// regions, so overlapping calls on several threads always leave the
    /// count the user set (see `Threading.withBLASThreads`).
    package static func withThreads<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        try Threading.withBLASThreads(threads, body)
    }

    @inline(__always)
    static func int32(_ value: Int, _ what: StaticString, _ routine: StaticString) -> Int32 {
        guard let v = Int32(exactly: value) else {
            strataFatal("BLAS.\(routine): \(what) = \(value) does not fit in Int32")
        }
        return v
    }

    /// C = alpha * op(A) * op(B) + beta * C, row-major.
    ///
    /// - `op(A)` is m x k, `op(B)` is k x n, C is m x n.
    /// - `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    package static func sgemm(
        transA: Transpose, transB: Transpose,
        m: Int, n: Int, k: Int,
        alpha: Float,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        strataCheck(m > 0 && n > 0 && k >= 0, "BLAS.sgemm: negative size m \(m), n \(n), k \(k)")
        strataCheck(ldc >= n, "BLAS.sgemm: ldc \(ldc) is smaller than n \(n)")
        if k == 0 {
            // An empty sum (a zero-size batch in a weight gradient): C = beta * C.
            // CBLAS would reject the lda of an empty operand, so it is not called.
            for r in 0..<m {
                let row = c + r * ldc
                if beta == 0 { row.update(repeating: 0, count: n) } else if beta != 1 { for j in 0..<n { row[j] *= beta } }
            }
            return
        }
        strataCheck(
            lda >= (transA == .none ? k : m),
            "BLAS.sgemm: lda \(lda) is smaller than \(transA == .none ? "k" : "m") \(transA == .none ? k : m) (m \(m), n \(n), k \(k))")
        strataCheck(
            ldb >= (transB == .none ? n : k),
            "BLAS.sgemm: ldb \(ldb) is smaller than \(transB == .none ? "n" : "k") \(transB == .none ? n : k) (m \(m), n \(n), k \(k))")
        cblas_sgemm(
            CblasRowMajor, transA.cblas, transB.cblas,
            int32(m, "m", "sgemm"), int32(n, "n", "sgemm"), int32(k, "k", "sgemm"),
            alpha, a, int32(lda, "lda", "sgemm"), b, int32(ldb, "ldb", "sgemm"),
            beta, c, int32(ldc, "ldc", "sgemm"))
    }

    /// y = alpha * op(A) * x + beta * y, row-major A of m x n as stored.
    package static func sgemv(
        trans: Transpose, m: Int, n: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, incx: Int = 1,
        beta: Float, y: UnsafeMutablePointer<Float>, incy: Int = 1
    ) {
        if m == 0 || n == 0 { return }
        cblas_sgemv(
            CblasRowMajor, trans.cblas, int32(m, "m", "sgemv"), int32(n, "n", "sgemv"),
            alpha, a, int32(lda, "lda", "sgemv"), x, int32(incx, "incx", "sgemv"),
            beta, y, int32(incy, "incy", "sgemv"))
    }
}

/// LAPACKE wrappers (row-major), behind the same door as BLAS.
package enum LAPACK {
    /// QR factorisation of the m x n row-major matrix `a` in place; `tau`
    /// receives min(m, n) reflector scalars. Returns LAPACK's `info`.
    package static func sgeqrf(
        m: Int, n: Int, a: UnsafeMutablePointer<Float>, lda: Int, tau: UnsafeMutablePointer<Float>
    ) -> Int {
        Int(
            LAPACKE_sgeqrf(
                LAPACK_ROW_MAJOR, BLAS.int32(m, "m", "sgeqrf"), BLAS.int32(n, "n", "sgeqrf"),
                a, BLAS.int32(lda, "lda", "sgeqrf"), tau))
    }

    /// Forms the m x n matrix Q with orthonormal columns from `sgeqrf`'s
    /// output (k reflectors). Returns LAPACK's `info`.
    package static func sorgqr(
        m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Float>, lda: Int, tau: UnsafePointer<Float>
    ) -> Int {
        Int(
            LAPACKE_sorgqr(
                LAPACK_ROW_MAJOR, BLAS.int32(m, "m", "sorgqr"), BLAS.int32(n, "n", "sorgqr"),
                BLAS.int32(k, "k", "sorgqr"), a, BLAS.int32(lda, "lda", "sorgqr"), tau))
    }
}
