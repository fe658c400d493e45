import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// sgemm and matmul against a naive triple loop written here.
final class BLASTests: XCTestCase {
    func naiveMatmul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
                c[i * n + j] = Float(s)
            }
        }
        return c
    }

    func transpose(_ a: [Float], rows: Int, cols: Int) -> [Float] {
        var t = [Float](repeating: 0, count: a.count)
        for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = a[i * cols + j] } }
        return t
    }

    func testMatmulAllTransposesMatchNaive() {
        let g = RandomGenerator(seed: 7)
        for (m, k, n) in [(1, 1, 1), (3, 5, 2), (17, 9, 31), (64, 33, 7)] {
            let a = Tensor.randn([m, k], generator: g), b = Tensor.randn([k, n], generator: g)
            let expected = naiveMatmul(a.scalars, b.scalars, m: m, k: k, n: n)
            let at = Tensor(shape: [k, m], transpose(a.scalars, rows: m, cols: k))
            let bt = Tensor(shape: [n, k], transpose(b.scalars, rows: k, cols: n))
            assertClose(matmul(a, b).scalars, expected, rtol: 1e-4, atol: 1e-4)
            assertClose(matmul(at, b, transposeA: true).scalars, expected, rtol: 1e-4, atol: 1e-4)
            assertClose(matmul(a, bt, transposeB: true).scalars, expected, rtol: 1e-4, atol: 1e-4)
            assertClose(matmul(at, bt, transposeA: true, transposeB: true).scalars, expected, rtol: 1e-4, atol: 1e-4)
        }
    }

    func testMatmulGradientsAllTransposes() {
        for ta in [false, true] {
            for tb in [false, true] {
                let a = randomAwayFromZero(ta ? [4, 3] : [3, 4], seed: 1)
                let b = randomAwayFromZero(tb ? [5, 4] : [4, 5], seed: 2)
                a.requiresGrad = true; b.requiresGrad = true
                assertGradCheck(gradCheck([a, b]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }, "ta \(ta) tb \(tb)")
            }
        }
    }

    func testSgemmLeadingDimensionsAddressSubmatrix() {
        // C[2x2] = A[:, 1:3] (a 2x2 window of a 2x4 matrix) * I
        let a: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        let eye: [Float] = [1, 0, 0, 1]
        var c = [Float](repeating: 0, count: 4)
        a.withUnsafeBufferPointer { pa in
            eye.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(
                        transA: .none, transB: .none, m: 2, n: 2, k: 2, alpha: 1, a: pa.baseAddress! + 1, lda: 4,
                        b: pb.baseAddress!, ldb: 2, beta: 0, c: pc.baseAddress!, ldc: 2)
                }
            }
        }
        XCTAssertEqual(c, [2, 3, 6, 7])
    }

    func testThreadCountIsSettable() {
        let old = BLAS.threadCount
        BLAS.threadCount = 1
        XCTAssertEqual(BLAS.threadCount, 1)
        BLAS.withThreads(2) { XCTAssertEqual(BLAS.threadCount, 2) }
        XCTAssertEqual(BLAS.threadCount, 1)
        BLAS.threadCount = old
    }

    func testOrthogonalInitIsOrthonormal() {
        for shape in [[6, 4], [4, 6], [5, 5], [8, 2, 3, 1]] {
            let w = Tensor(zeros: shape)
            Init.orthogonal(w, gain: 2, generator: RandomGenerator(seed: 3))
            let rows = shape[0], cols = w.count / rows
            let m = w.reshaped([rows, cols])
            // The smaller Gram matrix is 4 I (gain 2).
            let gram = rows >= cols ? matmul(m, m, transposeA: true) : matmul(m, m, transposeB: true)
            let k = min(rows, cols)
            var eye = [Float](repeating: 0, count: k * k)
            for i in 0..<k { eye[i * k + i] = 4 }
            assertClose(gram.scalars, eye, rtol: 1e-4, atol: 1e-4, "shape \(shape)")
        }
    }

    /// The split product equals the single call on both split axes, every
    /// transpose, with beta = 1 accumulation, at 2 and 3 workers.
    func testSgemmParallelMatchesSingleCall() {
        let old = Threading.count
        defer { Threading.count = old }
        let g = RandomGenerator(seed: 17)
        for workers in [2, 3] {
            Threading.count = workers
            for (m, n, k) in [(300, 40, 1000), (40, 300, 1000)] {  // split along M, then along N
                for ta in [false, true] {
                    for tb in [false, true] {
                        let a = Tensor.randn(ta ? [k, m] : [m, k], generator: g)
                        let b = Tensor.randn(tb ? [n, k] : [k, n], generator: g)
                        let c0 = Tensor.randn([m, n], generator: g)
                        let expected = c0.copy(), actual = c0.copy()
                        BLAS.sgemm(
                            transA: ta ? .transpose : .none, transB: tb ? .transpose : .none, m: m, n: n, k: k,
                            alpha: 0.5, a: a.data, lda: a.shape[1], b: b.data, ldb: b.shape[1], beta: 1,
                            c: expected.data, ldc: n)
                        BLAS.sgemmParallel(
                            transA: ta ? .transpose : .none, transB: tb ? .transpose : .none, m: m, n: n, k: k,
                            alpha: 0.5, a: a.data, lda: a.shape[1], b: b.data, ldb: b.shape[1], beta: 1,
                            c: actual.data, ldc: n)
                        assertClose(actual.scalars, expected.scalars, rtol: 1e-5, atol: 1e-4, "m \(m) n \(n) ta \(ta) tb \(tb)")
                    }
                }
            }
        }
    }
}
