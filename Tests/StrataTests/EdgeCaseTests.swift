import Foundation
import XCTest

@testable import StrataCore
@testable import StrataNN

/// Zero-size batches where PyTorch accepts them, the BLAS thread count under
/// concurrent callers, and the buffer pool's limit under concurrent use.
final class EdgeCaseTests: XCTestCase {
    /// PyTorch: Conv2d(3, 4, 3) on a [0, 3, 5, 5] batch gives [0, 4, 3, 3]
    /// and zero weight and bias gradients (3x3 output: the batched strategy;
    /// 10x10 the per-sample one; padding 1 with 8 channels: Winograd).
    func testConv2dOnAnEmptyBatch() {
        for (channels, padding, size, outSize) in [(3, 0, 5, 3), (3, 0, 12, 10), (8, 1, 6, 6)] {
            let conv = Conv2d(
                inputChannels: channels, outputChannels: 4 * channels / 3, kernelSize: 3, padding: padding,
                generator: RandomGenerator(seed: 1))
            let out = 4 * channels / 3
            let x = Tensor(zeros: [0, channels, size, size], requiresGrad: true)
            let y = conv(x)
            XCTAssertEqual(y.shape, [0, out, outSize, outSize])
            y.sum().backward()
            XCTAssertEqual(conv.weight.grad?.scalars, [Float](repeating: 0, count: out * channels * 9))
            XCTAssertEqual(conv.bias?.grad?.scalars, [Float](repeating: 0, count: out))
            XCTAssertEqual(x.grad?.shape, [0, channels, size, size])
        }
    }

    func testLinearOnAnEmptyBatch() {
        let lin = Linear(3, 2, generator: RandomGenerator(seed: 2))
        let x = Tensor(zeros: [0, 3], requiresGrad: true)
        let y = lin(x)
        XCTAssertEqual(y.shape, [0, 2])
        y.sum().backward()
        XCTAssertEqual(lin.weight.grad?.scalars, [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(lin.bias?.grad?.scalars, [0, 0])
    }

    /// PyTorch: BatchNorm2d in training on an empty batch returns an empty
    /// output, leaves the running statistics, counts the batch, and gives
    /// zero parameter gradients.
    func testBatchNormOnAnEmptyBatch() throws {
        let bn = BatchNorm2d(2)
        bn.runningMean?.fill(0.5)
        bn.runningVar?.fill(2)
        let x = Tensor(zeros: [0, 2, 3, 3], requiresGrad: true)
        let y = bn(x)
        XCTAssertEqual(y.shape, [0, 2, 3, 3])
        y.sum().backward()
        XCTAssertEqual(bn.runningMean?.scalars, [0.5, 0.5])
        XCTAssertEqual(bn.runningVar?.scalars, [2, 2])
        XCTAssertEqual(bn.numBatchesTracked?.scalars, [1])
        XCTAssertEqual(bn.weight?.grad?.scalars, [0, 0])
        XCTAssertEqual(bn.bias?.grad?.scalars, [0, 0])
        bn.training = false
        XCTAssertEqual(bn(x).shape, [0, 2, 3, 3])
        // One value per channel is still an error, as in PyTorch.
        bn.training = true
        XCTAssertThrowsError(try bn.validate(inputShape: [1, 2, 1, 1]))
    }

    /// sgemm with k = 0 (an empty sum) scales C by beta without calling CBLAS.
    func testSgemmWithAnEmptyInnerDimension() {
        var c: [Float] = [1, 2, 3, 4, 5, 6]
        let a: [Float] = [0], b: [Float] = [0]
        BLAS.sgemm(
            transA: .transpose, transB: .none, m: 2, n: 3, k: 0, alpha: 1, a: a, lda: 0, b: b, ldb: 0,
            beta: 0.5, c: &c, ldc: 3)
        XCTAssertEqual(c, [0.5, 1, 1.5, 2, 2.5, 3])
        BLAS.sgemm(
            transA: .none, transB: .none, m: 2, n: 3, k: 0, alpha: 1, a: a, lda: 0, b: b, ldb: 0,
            beta: 0, c: &c, ldc: 3)
        XCTAssertEqual(c, [0, 0, 0, 0, 0, 0])
    }

    /// `BLAS.withThreads` on one thread and `parallelFor` regions on another
    /// must leave OpenBLAS at the count the user set. Without the shared lock
    /// a region could save the pinned count of 1 and restore it.
    func testConcurrentThreadPinningRestoresTheCount() {
        let saved = Threading.count
        Threading.count = 3
        defer { Threading.count = saved }
        for _ in 0..<4 {
            let group = DispatchGroup()
            DispatchQueue.global().async(group: group) {
                for _ in 0..<2000 { BLAS.withThreads(1) { _ = usleep(1) } }
            }
            DispatchQueue.global().async(group: group) {
                for _ in 0..<2000 { Threading.parallelFor(6) { _ in usleep(1) } }
            }
            group.wait()
            XCTAssertEqual(BLAS.threadCount, 3)
        }
    }

    /// Changing the pool's limit while other threads allocate and free
    /// (a data race before `limitBytes` took the lock; ThreadSanitizer in
    /// `make test-sanitize` reports it).
    func testBufferPoolLimitChangesUnderConcurrentUse() {
        let pool = BufferPool.shared
        let old = pool.limitBytes
        defer { pool.limitBytes = old }
        DispatchQueue.concurrentPerform(iterations: 3) { w in
            for i in 0..<200 {
                if w == 0 {
                    pool.limitBytes = i % 2 == 0 ? 0 : 1 << 20
                } else {
                    _ = Tensor(zeros: [64 + i % 5])
                }
            }
        }
        pool.limitBytes = 0
        XCTAssertEqual(pool.cached, 0)
    }
}
