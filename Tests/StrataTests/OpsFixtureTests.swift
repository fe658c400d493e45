import XCTest

@testable import StrataCore

/// Tensor ops against PyTorch (Fixtures/ops.json, made by make_ops_fixtures.py):
/// outputs and the input gradients of backward(g).
final class OpsFixtureTests: XCTestCase {
    private func cases(_ key: String) throws -> [[String: Any]] {
        let all = try loadFixture("ops")
        return try XCTUnwrap(all[key] as? [[String: Any]], "ops.json has no list \(key)")
    }

    private func entry(_ key: String) throws -> [String: Any] {
        try XCTUnwrap(try loadFixture("ops")[key] as? [String: Any], "ops.json has no object \(key)")
    }

    /// Runs `backward(g)` on `y` and compares each input's gradient.
    private func checkBackward(
        _ y: Tensor, _ g: [Float], _ pairs: [(Tensor, [Float])], _ label: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        y.backward(Tensor(shape: y.shape, g))
        for (k, (x, expected)) in pairs.enumerated() {
            assertClose(x.grad?.scalars ?? [], expected, rtol: 1e-5, atol: 1e-6, "\(label) gradient \(k)", file: file, line: line)
        }
    }

    func testPadMatchesPyTorch() throws {
        for c in try cases("pad") {
            let mode = try XCTUnwrap(PadMode(rawValue: c["mode"] as? String ?? ""))
            let x = Tensor(shape: ints(c["shape"]), floats(c["x"]), requiresGrad: true)
            let y = x.padded(ints(c["pad"]), mode: mode, value: Float((c["value"] as? Double) ?? 0))
            let label = "pad \(mode) \(ints(c["pad"]))"
            XCTAssertEqual(y.shape, ints(c["y_shape"]), label)
            assertClose(y.scalars, floats(c["y"]), rtol: 0, atol: 0, label)
            checkBackward(y, floats(c["g"]), [(x, floats(c["dx"]))], label)
        }
    }

    func testGatherMatchesPyTorch() throws {
        for c in try cases("gather") {
            let x = Tensor(shape: ints(c["shape"]), floats(c["x"]), requiresGrad: true)
            let index = IndexTensor(shape: ints(c["index_shape"]), ints(c["index"]))
            let axis = (c["dim"] as? Int) ?? -1
            let y = x.gather(axis: axis, index: index)
            assertClose(y.scalars, floats(c["y"]), rtol: 0, atol: 0, "gather dim \(axis)")
            checkBackward(y, floats(c["g"]), [(x, floats(c["dx"]))], "gather dim \(axis)")
        }
    }

    func testExtremaWithTiesMatchPyTorch() throws {
        let c = try entry("extrema")
        let shape = ints(c["shape"]), values = floats(c["x"])
        for (name, largest) in [("max", true), ("min", false)] {
            let e = try XCTUnwrap(c[name] as? [String: Any])
            let x = Tensor(shape: shape, values, requiresGrad: true)
            let (v, i) = largest ? max(x, axis: 1) : min(x, axis: 1)
            XCTAssertEqual(v.scalars, floats(e["values"]), name)
            XCTAssertEqual(i.values, ints(e["indices"]), "\(name): ties pick the first index")
            checkBackward(v, floats(e["g"]), [(x, floats(e["dx"]))], name)
        }
        let reductions: [(String, (Tensor) -> Tensor)] = [
            ("amax0", { $0.amax(axis: 0) }), ("amin1", { $0.amin(axis: 1) }), ("amax_all", { $0.amax() }),
        ]
        for (name, f) in reductions {
            let e = try XCTUnwrap(c[name] as? [String: Any])
            let x = Tensor(shape: shape, values, requiresGrad: true)
            let y = f(x)
            XCTAssertEqual(y.scalars, floats(e["values"]), name)
            checkBackward(y, floats(e["g"]), [(x, floats(e["dx"]))], "\(name): ties share the gradient")
        }
    }

    func testWhereMatchesPyTorch() throws {
        let c = try entry("where")
        let condition = Tensor(shape: [2, 1, 4], floats(c["cond"]))
        let a = Tensor(shape: [2, 3, 4], floats(c["a"]), requiresGrad: true)
        let b = Tensor(shape: [3, 1], floats(c["b"]), requiresGrad: true)
        let y = Tensor.where(condition, a, b)
        assertClose(y.scalars, floats(c["y"]), rtol: 0, atol: 0, "where")
        checkBackward(y, floats(c["g"]), [(a, floats(c["da"])), (b, floats(c["db"]))], "where")
    }

    func testMaximumMinimumAndClampAtTiesMatchPyTorch() throws {
        let c = try entry("maximum_minimum")
        for (name, f) in [("maximum", maximum), ("minimum", minimum)] {
            let e = try XCTUnwrap(c[name] as? [String: Any])
            let a = Tensor(shape: [2, 3], floats(c["a"]), requiresGrad: true)
            let b = Tensor(shape: [3], floats(c["b"]), requiresGrad: true)
            let y = f(a, b)
            XCTAssertEqual(y.scalars, floats(e["y"]), name)
            checkBackward(y, floats(e["g"]), [(a, floats(e["da"])), (b, floats(e["db"]))], "\(name): ties split the gradient")
        }
        let e = try entry("clamp")
        let x = Tensor(floats(e["x"]), requiresGrad: true)
        let y = x.clamp(min: -1, max: 1)
        XCTAssertEqual(y.scalars, floats(e["y"]))
        checkBackward(y, floats(e["g"]), [(x, floats(e["dx"]))], "clamp: a bound itself gets no gradient")
    }

    func testTopKMatchesPyTorch() throws {
        let c = try entry("topk")
        let x = Tensor(shape: [3, 6], floats(c["x"]), requiresGrad: true)
        let (values, indices) = x.topk((c["k"] as? Int) ?? 0, axis: 1)
        XCTAssertEqual(values.scalars, floats(c["values"]))
        XCTAssertEqual(indices.values, ints(c["indices"]))
        checkBackward(values, floats(c["g"]), [(x, floats(c["dx"]))], "topk")
    }
}
