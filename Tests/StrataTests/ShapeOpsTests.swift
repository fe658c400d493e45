import XCTest

@testable import StrataCore

/// Every multi-index of `shape` in row-major order (for naive references).
func allIndices(_ shape: [Int]) -> [[Int]] {
    var result: [[Int]] = [[]]
    for n in shape { result = result.flatMap { prefix in (0..<n).map { prefix + [$0] } } }
    return result
}

/// A tensor of `shape` with element at each index `value(index)`.
func tensorFrom(_ shape: [Int], _ value: ([Int]) -> Float) -> Tensor {
    Tensor(shape: shape, allIndices(shape).map(value))
}

/// Element at a multi-index given as an array.
func element(_ t: Tensor, _ index: [Int]) -> Float { t.data[t.flatIndex(index)] }

/// cat, stack, split/chunk, slice, permute/transpose, squeeze/unsqueeze, expand, pad:
/// values against naive references, gradients against finite differences.
final class ShapeOpsTests: XCTestCase {
    private func tracked(_ shape: [Int], seed: UInt64) -> Tensor {
        let t = randomAwayFromZero(shape, seed: seed)
        t.requiresGrad = true
        return t
    }

    func testCatMatchesNaiveReferenceAlongEveryAxis() {
        for axis in 0..<3 {
            var shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
            shapes[1][axis] = 1; shapes[2][axis] = 2
            let parts = shapes.enumerated().map { tracked($0.element, seed: UInt64(10 * axis + $0.offset)) }
            let y = cat(parts, axis: axis - 3)  // negative axis
            var expectedShape = shapes[0]; expectedShape[axis] = shapes.map { $0[axis] }.reduce(0, +)
            let expected = tensorFrom(expectedShape) { idx in
                var i = idx, k = 0
                while i[axis] >= parts[k].shape[axis] { i[axis] -= parts[k].shape[axis]; k += 1 }
                return element(parts[k], i)
            }
            assertClose(y, expected, rtol: 0, atol: 0)
            assertGradCheck(gradCheck(parts) { cat($0, axis: axis) }, "cat axis \(axis)")
        }
    }

    func testCatOfTheSameTensorTwiceAddsBothGradients() {
        let a = Tensor([1, 2], requiresGrad: true)
        let y = cat([a, a * 3, a])
        XCTAssertEqual(y.scalars, [1, 2, 3, 6, 1, 2])
        y.backward(Tensor([1, 10, 100, 1000, 5, 50]))
        XCTAssertEqual(a.grad?.scalars, [306, 3060])
    }

    func testStackInsertsANewAxis() {
        let a = tracked([2, 3], seed: 1), b = tracked([2, 3], seed: 2)
        for axis in [0, 1, 2, -1] {
            let y = stack([a, b], axis: axis)
            let a0 = axis < 0 ? axis + 3 : axis
            var shape = [2, 3]; shape.insert(2, at: a0)
            let expected = tensorFrom(shape) { idx in
                var i = idx; let which = i.remove(at: a0)
                return element(which == 0 ? a : b, i)
            }
            assertClose(y, expected, rtol: 0, atol: 0)
            assertGradCheck(gradCheck([a, b]) { stack($0, axis: axis) }, "stack axis \(axis)")
        }
    }

    func testSliceWithStartEndStepAndNegativeBounds() {
        let x = tracked([3, 7, 2], seed: 3)
        let cases: [(Int, Int, Int?, Int, [Int])] = [
            (1, 1, 6, 2, [1, 3, 5]), (1, -3, nil, 1, [4, 5, 6]), (1, 0, -1, 3, [0, 3]),
            (1, 5, 100, 1, [5, 6]), (1, 4, 2, 1, []), (0, 1, nil, 1, [1, 2]), (-1, 1, 2, 1, [1]),
        ]
        for (axis, start, end, step, picked) in cases {
            let y = x.slice(axis: axis, start: start, end: end, step: step)
            let a = axis < 0 ? axis + 3 : axis
            var shape = x.shape; shape[a] = picked.count
            let expected = tensorFrom(shape) { idx in
                var i = idx; i[a] = picked[idx[a]]; return element(x, i)
            }
            assertClose(y, expected, rtol: 0, atol: 0, "slice \(axis) \(start) \(String(describing: end)) \(step)")
            if !picked.isEmpty {
                assertGradCheck(gradCheck([x]) { $0[0].slice(axis: axis, start: start, end: end, step: step) })
            }
        }
        XCTAssertEqual(x.select(axis: 1, index: -1).shape, [3, 2])
        assertClose(x.select(axis: 1, index: -1).scalars, x.slice(axis: 1, start: 6).scalars)
    }

    func testSplitAndChunk() {
        let x = tracked([2, 7], seed: 4)
        let pieces = x.split([3, 0, 4], axis: 1)
        XCTAssertEqual(pieces.map(\.shape), [[2, 3], [2, 0], [2, 4]])
        assertClose(cat(pieces, axis: 1), x.detached(), rtol: 0, atol: 0)
        XCTAssertEqual(x.split(size: 3, axis: -1).map(\.shape), [[2, 3], [2, 3], [2, 1]])
        // PyTorch's chunk: ceil(7 / 3) = 3 per chunk; ceil(7 / 4) = 2 gives 4 chunks; 6 into 4 gives 3.
        XCTAssertEqual(x.chunk(3, axis: 1).map { $0.shape[1] }, [3, 3, 1])
        XCTAssertEqual(x.chunk(4, axis: 1).map { $0.shape[1] }, [2, 2, 2, 1])
        XCTAssertEqual(Tensor(zeros: [6]).chunk(4).map { $0.shape[0] }, [2, 2, 2])
        // Using every piece: the gradients of the pieces add up in x.
        assertGradCheck(
            gradCheck([x]) { xs in
                let p = xs[0].chunk(3, axis: 1)
                return cat([p[2], p[0] * 2, p[1]], axis: 1)
            }, "chunk")
    }

    func testPermuteAndTransposeOfAnyRank() {
        let x = tracked([2, 3, 4, 5], seed: 5)
        for dims in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [0, 2, -1, 1]] {
            let p = dims.map { $0 < 0 ? $0 + 4 : $0 }
            let y = x.permuted(dims)
            let expected = tensorFrom(p.map { x.shape[$0] }) { idx in
                var src = [Int](repeating: 0, count: 4)
                for (k, d) in p.enumerated() { src[d] = idx[k] }
                return element(x, src)
            }
            assertClose(y, expected, rtol: 0, atol: 0, "permute \(dims)")
        }
        let small = tracked([2, 3, 2], seed: 6)
        assertGradCheck(gradCheck([small]) { $0[0].permuted([2, 0, 1]) }, "permute")
        assertGradCheck(gradCheck([small]) { $0[0].transposed(0, -1) }, "transpose")
        XCTAssertEqual(small.transposed(1, 2).shape, [2, 2, 3])
        let m = tracked([3, 4], seed: 7)
        assertClose(m.transposed(0, 1), m.transposed(), rtol: 0, atol: 0)
        XCTAssertEqual(Tensor.scalar(3).permuted([]).scalars, [3])
    }

    func testSqueezeUnsqueezeExpand() {
        let x = tracked([2, 1, 3, 1], seed: 8)
        XCTAssertEqual(x.squeezed().shape, [2, 3])
        XCTAssertEqual(x.squeezed(axis: 1).shape, [2, 3, 1])
        XCTAssertEqual(x.squeezed(axis: 0).shape, [2, 1, 3, 1])
        XCTAssertEqual(x.squeezed(axis: -1).shape, [2, 1, 3])
        XCTAssertEqual(x.unsqueezed(axis: 0).shape, [1, 2, 1, 3, 1])
        XCTAssertEqual(x.unsqueezed(axis: -1).shape, [2, 1, 3, 1, 1])
        assertGradCheck(gradCheck([x]) { $0[0].squeezed().unsqueezed(axis: 1) }, "squeeze/unsqueeze")

        let v = tracked([3, 1], seed: 9)
        let e = v.expanded(to: [2, 3, 4])
        XCTAssertEqual(e.shape, [2, 3, 4])
        assertClose(e, tensorFrom([2, 3, 4]) { element(v, [$0[1], 0]) }, rtol: 0, atol: 0)
        XCTAssertEqual(v.expanded(to: [-1, 5]).shape, [3, 5])
        assertGradCheck(gradCheck([v]) { $0[0].expanded(to: [2, 3, 4]) }, "expand")
        // The same as broadcasting in arithmetic.
        assertClose(v.expanded(to: [3, 4]), (v + Tensor(zeros: [3, 4])).detached(), rtol: 0, atol: 0)
    }

    func testPadByHandAndInEveryMode() {
        let x = Tensor([1, 2, 3])
        XCTAssertEqual(x.padded([2, 2], mode: .reflect).scalars, [3, 2, 1, 2, 3, 2, 1])
        XCTAssertEqual(x.padded([2, 1], mode: .replicate).scalars, [1, 1, 1, 2, 3, 3])
        XCTAssertEqual(x.padded([2, 3], mode: .circular).scalars, [2, 3, 1, 2, 3, 1, 2, 3])
        XCTAssertEqual(x.padded([1, 0], value: 9).scalars, [9, 1, 2, 3])
        XCTAssertEqual(x.padded([-1, 1]).scalars, [2, 3, 0])
        let img = tensorFrom([1, 2, 2]) { Float($0[1] * 10 + $0[2]) }
        // Pairs start with the last dimension: [left, right, top, bottom].
        XCTAssertEqual(img.padded([1, 0, 0, 1]).shape, [1, 3, 3])
        XCTAssertEqual(img.padded([1, 0, 0, 1]).scalars, [0, 0, 1, 0, 10, 11, 0, 0, 0])

        let t = tracked([2, 3, 4], seed: 10)
        for mode in PadMode.allCases {
            assertGradCheck(gradCheck([t]) { $0[0].padded([2, 1, 1, 2], mode: mode, value: 0.5) }, "pad \(mode)")
            assertGradCheck(gradCheck([t]) { $0[0].padded([3, -1], mode: mode) }, "pad \(mode) with crop")
        }
    }
}
