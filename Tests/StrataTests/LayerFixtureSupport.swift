import Foundation
import XCTest

@testable import StrataCore
@testable import StrataNN

/// One entry of layers.json (made by Fixtures/make_layer_fixtures.py).
func layerFixture(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let all = try LayerFixtureCache.all ?? loadFixture("layers", file: file, line: line)
    LayerFixtureCache.all = all
    return try XCTUnwrap(all[name] as? [String: Any], "layers.json has no entry \(name)", file: file, line: line)
}

/// layers.json parsed once per test run (tests of one class run serially).
enum LayerFixtureCache {
    nonisolated(unsafe) static var all: [String: Any]?
}

/// Copies the fixture's parameter values into `module`, runs it on the
/// fixture's x, backpropagates its g, and compares the output, the input
/// gradient, every parameter gradient and the state_dict keys with PyTorch's.
func checkAgainstLayerFixture(
    _ module: any Module, _ f: [String: Any], _ name: String, rtol: Float = 1e-4, atol: Float = 1e-5,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(module.stateDict().map(\.0), (f["keys"] as? [String]) ?? [], "state_dict keys \(name)", file: file, line: line)
    for (key, p) in module.namedParameters() {
        XCTAssertEqual(p.shape, ints(f[key + "_shape"]), "shape of \(key) \(name)", file: file, line: line)
        p.assign(Tensor(shape: p.shape, floats(f[key])))
    }
    let x = Tensor(shape: ints(f["x_shape"]), floats(f["x"]), requiresGrad: true)
    let y = module(x)
    XCTAssertEqual(y.shape, ints(f["y_shape"]), "output shape \(name)", file: file, line: line)
    guard y.shape == ints(f["y_shape"]) else { return }
    assertClose(y.scalars, floats(f["y"]), rtol: rtol, atol: atol, "y \(name)", file: file, line: line)
    y.backward(Tensor(shape: y.shape, floats(f["g"])))
    assertClose(x.grad?.scalars ?? [], floats(f["dx"]), rtol: rtol, atol: atol, "dx \(name)", file: file, line: line)
    for (key, p) in module.namedParameters() {
        assertClose(p.grad?.scalars ?? [], floats(f["d" + key]), rtol: rtol, atol: 10 * atol, "d\(key) \(name)", file: file, line: line)
    }
}
