import XCTest

@testable import StrataCore

/// max/min/amax/amin, clamp, abs, where, maximum/minimum, gather, topk,
/// top-k accuracy: values against naive references, gradients against
/// finite differences (kept away from ties, where the derivative jumps).
final class SelectionOpsTests: XCTestCase {
    /// Distinct values 0.1 apart in random order (none within 0.05 of zero when the count is even).
    private func tracked(_ shape: [Int], seed: UInt64) -> Tensor {
        let n = shape.reduce(1, *)
        let order = RandomGenerator(seed: seed).permutation(n)
        return Tensor(shape: shape, order.map { (Float($0) - Float(n) / 2 + 0.5) * 0.1 }, requiresGrad: true)
    }

    func testMaxMinWithIndicesAlongEachAxis() {
        let x = tracked([3, 4, 5], seed: 1)
        for axis in 0..<3 {
            let (values, indices) = max(x, axis: axis)
            let (mins, minIndices) = min(x, axis: axis, keepingDims: true)
            var reduced = x.shape; reduced.remove(at: axis)
            var best: [Float] = [], bestIndex: [Int] = [], least: [Float] = [], leastIndex: [Int] = []
            for idx in allIndices(reduced) {
                let column = (0..<x.shape[axis]).map { e -> Float in
                    var i = idx; i.insert(e, at: axis); return element(x, i)
                }
                let hi = column.max() ?? 0, lo = column.min() ?? 0
                best.append(hi); bestIndex.append(column.firstIndex(of: hi) ?? -1)
                least.append(lo); leastIndex.append(column.firstIndex(of: lo) ?? -1)
            }
            XCTAssertEqual(values.shape, reduced)
            XCTAssertEqual(values.scalars, best)
            XCTAssertEqual(indices, IndexTensor(shape: reduced, bestIndex))
            XCTAssertEqual(mins.scalars, least)
            XCTAssertEqual(minIndices.values, leastIndex)
            XCTAssertEqual(x.amax(axis: axis).scalars, best)
            XCTAssertEqual(x.amin(axis: axis, keepingDims: true).scalars, least)
            XCTAssertEqual(x.argmin(axis: axis), leastIndex)
            XCTAssertEqual(x.argmax(axis: axis), bestIndex)
            assertGradCheck(gradCheck([x]) { max($0[0], axis: axis).values }, "max axis \(axis)")
            assertGradCheck(gradCheck([x]) { min($0[0], axis: axis).values }, "min axis \(axis)")
            assertGradCheck(gradCheck([x]) { $0[0].amax(axis: axis) }, "amax axis \(axis)")
            assertGradCheck(gradCheck([x]) { $0[0].amin(axis: axis) }, "amin axis \(axis)")
        }
        XCTAssertEqual(x.amax().item, x.scalars.max())
        XCTAssertEqual(x.amin().item, x.scalars.min())
        assertGradCheck(gradCheck([x]) { $0[0].amax() }, "amax all")
    }

    func testTiesPickTheFirstAndNaNPropagates() {
        let x = Tensor(shape: [2, 3], [2, 5, 5, 1, 1, .nan])
        XCTAssertEqual(max(x, axis: 1).indices.values, [1, 2])
        XCTAssertEqual(min(x, axis: 1).indices.values, [0, 2])
        XCTAssertTrue(x.amax(axis: 1).scalars[1].isNaN)
        XCTAssertEqual(x.amin(axis: 1).scalars[0], 2)
    }

    func testClampAbsMaximumMinimum() {
        let x = tracked([4, 5], seed: 2)
        XCTAssertEqual(x.clamp(min: -0.5, max: 0.5).scalars, x.scalars.map { Swift.min(Swift.max($0, -0.5), 0.5) })
        XCTAssertEqual(x.clamp(min: 0).scalars, x.scalars.map { Swift.max($0, 0) })
        XCTAssertEqual(abs(x).scalars, x.scalars.map { Swift.abs($0) })
        // Keep the elements away from the bounds for finite differences.
        assertGradCheck(gradCheck([x]) { $0[0].clamp(min: -0.52, max: 0.33) }, "clamp")
        assertGradCheck(gradCheck([x]) { abs($0[0]) }, "abs")

        let a = tracked([2, 3, 4], seed: 3), b = tracked([3, 1], seed: 4)
        let big = maximum(a, b), small = minimum(a, b)
        let expectedBig = tensorFrom([2, 3, 4]) { Swift.max(element(a, $0), element(b, [$0[1], 0])) }
        let expectedSmall = tensorFrom([2, 3, 4]) { Swift.min(element(a, $0), element(b, [$0[1], 0])) }
        assertClose(big, expectedBig, rtol: 0, atol: 0)
        assertClose(small, expectedSmall, rtol: 0, atol: 0)
        assertGradCheck(gradCheck([a, b]) { maximum($0[0], $0[1]) }, "maximum")
        assertGradCheck(gradCheck([a, b]) { minimum($0[0], $0[1]) }, "minimum")
    }

    func testWhereSelectsAndRoutesGradients() {
        let a = tracked([2, 3, 4], seed: 5), b = tracked([4], seed: 6)
        let condition = tensorFrom([2, 1, 4]) { Float(($0[0] + $0[2]) % 2) }
        let y = Tensor.where(condition, a, b)
        let expected = tensorFrom([2, 3, 4]) { element(condition, [$0[0], 0, $0[2]]) != 0 ? element(a, $0) : element(b, [$0[2]]) }
        assertClose(y, expected, rtol: 0, atol: 0)
        assertGradCheck(gradCheck([a, b]) { Tensor.where(condition, $0[0], $0[1]) }, "where")
        XCTAssertEqual(a.mask { $0 > 0 }.scalars, a.scalars.map { $0 > 0 ? 1 : 0 })
        // relu written with where.
        assertClose(Tensor.where(a.mask { $0 > 0 }, a, Tensor.scalar(0)), a.relu(), rtol: 0, atol: 0)
    }

    func testGatherMatchesNaiveReference() {
        let x = tracked([3, 4, 5], seed: 7)
        let g = RandomGenerator(seed: 8)
        for (axis, indexShape) in [(0, [2, 4, 5]), (1, [3, 6, 2]), (2, [1, 2, 7])] {
            let values = (0..<indexShape.reduce(1, *)).map { _ in g.nextInt(below: x.shape[axis]) }
            let index = IndexTensor(shape: indexShape, values)
            let y = x.gather(axis: axis, index: index)
            let flatIndex = Tensor(shape: indexShape, values.map(Float.init))
            let expected = tensorFrom(indexShape) { idx in
                var src = idx; src[axis] = Int(element(flatIndex, idx)); return element(x, src)
            }
            assertClose(y, expected, rtol: 0, atol: 0, "gather axis \(axis)")
            assertGradCheck(gradCheck([x]) { $0[0].gather(axis: axis, index: index) }, "gather axis \(axis)")
        }
        // max's indices gather the max back.
        let (m, i) = max(x, axis: 1, keepingDims: true)
        XCTAssertEqual(x.gather(axis: 1, index: i).scalars, m.scalars)
    }

    func testTopKAndTopKAccuracy() {
        let x = tracked([3, 6], seed: 9)
        let (values, indices) = x.topk(3)
        for r in 0..<3 {
            let row = Array(x.scalars[(r * 6)..<(r * 6 + 6)])
            let order = row.indices.sorted { row[$0] > row[$1] }
            XCTAssertEqual(Array(indices.values[(r * 3)..<(r * 3 + 3)]), Array(order.prefix(3)))
            XCTAssertEqual(Array(values.scalars[(r * 3)..<(r * 3 + 3)]), order.prefix(3).map { row[$0] })
        }
        XCTAssertEqual(x.topk(2, axis: 0, largest: false).indices.shape, [2, 6])
        assertGradCheck(gradCheck([x]) { $0[0].topk(3).values }, "topk")
        assertGradCheck(gradCheck([x]) { $0[0].topk(2, axis: 0, largest: false).values }, "topk smallest axis 0")

        let scores = Tensor(
            shape: [4, 3],
            [
                0.1, 0.7, 0.2,  // label 1: top-1
                0.5, 0.3, 0.2,  // label 1: second
                0.2, 0.3, 0.5,  // label 0: third
                0.4, 0.4, 0.2,
            ])  // label 1 ties class 0: ranked second
        let labels = [1, 1, 0, 1]
        XCTAssertEqual(topKAccuracy(scores, labels: labels, k: 1), 0.25)
        XCTAssertEqual(topKAccuracy(scores, labels: labels, k: 2), 0.75)
        XCTAssertEqual(topKAccuracy(scores, labels: labels, k: 3), 1.0)
        // k = 1 agrees with argmax; every k agrees with membership in topk's indices.
        let random = Tensor.randn([20, 5], generator: RandomGenerator(seed: 10))
        let randomLabels = (0..<20).map { ($0 * 7) % 5 }
        let argmaxHits = zip(random.argmax(axis: 1), randomLabels).filter { $0 == $1 }.count
        XCTAssertEqual(topKAccuracy(random, labels: randomLabels, k: 1), Double(argmaxHits) / 20)
        for k in 1...5 {
            let top = random.topk(k).indices.values
            let hits = randomLabels.enumerated().filter { r, l in top[(r * k)..<(r * k + k)].contains(l) }.count
            XCTAssertEqual(topKAccuracy(random, labels: randomLabels, k: k), Double(hits) / 20, "k \(k)")
        }
    }
}
