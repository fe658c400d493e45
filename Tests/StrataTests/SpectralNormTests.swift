import XCTest

@testable import StrataCore
@testable import StrataIO
@testable import StrataNN

/// Spectral and weight normalization against PyTorch's hook forms
/// (Fixtures/make_spectral_fixtures.py), finite differences and a plain
/// reference computation.
final class SpectralNormTests: XCTestCase {
    func fixture(_ name: String) throws -> [String: Any] {
        try XCTUnwrap(try loadFixture("spectral")[name] as? [String: Any], name)
    }

    /// PyTorch's state dict of a case as Strata tensors, by key.
    func pytorchState(_ f: [String: Any]) throws -> [(String, Tensor)] {
        let entries = try XCTUnwrap(f["state_dict"] as? [[Any]])
        return entries.map { e in ("\(e[0])", Tensor(shape: ints(e[1]), floats(e[2]))) }
    }

    func input(_ f: [String: Any]) -> Tensor { Tensor(shape: ints(f["input_shape"]), floats(f["input"])) }

    /// Loads PyTorch's state dict into `module` (strict: the keys and shapes
    /// must be exactly PyTorch's), then checks every fixture value.
    func checkSpectral(_ module: any Module, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try fixture(name)
        let state = try pytorchState(f)
        XCTAssertEqual(module.stateDict().map(\.0), state.map(\.0), "\(name) keys", file: file, line: line)
        try module.loadStateDict(state)
        let x = input(f)
        module.train()
        for (step, expected) in try XCTUnwrap(f["train"] as? [[String: Any]]).enumerated() {
            let y = module(x)
            assertClose(
                y.scalars, floats(expected["output"]), rtol: 1e-4, atol: 1e-5, "\(name) train step \(step) output", file: file, line: line)
            let buffers = Dictionary(uniqueKeysWithValues: module.namedBuffers())
            assertClose(
                try XCTUnwrap(buffers["weight_u"]).scalars, floats(expected["u"]), rtol: 1e-4, atol: 1e-5,
                "\(name) u after step \(step)", file: file, line: line)
            assertClose(
                try XCTUnwrap(buffers["weight_v"]).scalars, floats(expected["v"]), rtol: 1e-4, atol: 1e-5,
                "\(name) v after step \(step)", file: file, line: line)
        }
        module.eval()
        let y = module(x)
        XCTAssertEqual(y.shape, ints(f["output_shape"]), file: file, line: line)
        assertClose(y.scalars, floats(f["eval_output"]), rtol: 1e-4, atol: 1e-5, "\(name) eval output", file: file, line: line)
        try checkGradients(module, y, f, name, file: file, line: line)
    }

    func checkGradients(
        _ module: any Module, _ y: Tensor, _ f: [String: Any], _ name: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        module.zeroGrad()
        (y * Tensor(shape: y.shape, floats(f["r"]))).sum().backward()
        let grads = try XCTUnwrap(f["grads"] as? [String: Any])
        XCTAssertEqual(Set(module.namedParameters().map(\.0)), Set(grads.keys), "\(name) parameters", file: file, line: line)
        for (key, p) in module.namedParameters() {
            assertClose(
                try XCTUnwrap(p.grad, "\(name) \(key) has no gradient").scalars, floats(grads[key]),
                rtol: 1e-3, atol: 1e-5, "\(name) gradient of \(key)", file: file, line: line)
        }
    }

    func testSpectralNormMatchesPyTorch() throws {
        try checkSpectral(spectralNorm(Linear(5, 4)), "spectral_linear")
        try checkSpectral(spectralNorm(Linear(5, 4, bias: false), nPowerIterations: 2), "spectral_linear_2iter")
        try checkSpectral(spectralNorm(Conv2d(2, 3, kernelSize: 3, padding: 1)), "spectral_conv")
        // ConvTranspose2d keeps dimension 1 (its output channels) as rows by default, as PyTorch.
        let transposed = spectralNorm(ConvTranspose2d(3, 2, kernelSize: 3, stride: 2))
        XCTAssertEqual(transposed.dim, 1)
        try checkSpectral(transposed, "spectral_conv_transpose")
        try checkSpectral(spectralNorm(Conv1d(2, 3, kernelSize: 3), dim: 1), "spectral_conv1d_dim1")
    }

    func testWeightNormMatchesPyTorch() throws {
        let cases: [(any Module, String)] = [
            (weightNorm(Conv2d(2, 3, kernelSize: 3, padding: 1)), "weight_norm_conv"),
            (weightNorm(Linear(5, 4), dim: 1), "weight_norm_linear_dim1"),
            (weightNorm(Linear(5, 4), dim: nil), "weight_norm_linear_whole"),
        ]
        for (module, name) in cases {
            let f = try fixture(name)
            let state = try pytorchState(f)
            XCTAssertEqual(module.stateDict().map { [$0.0, "\($0.1.shape)"] }, state.map { [$0.0, "\($0.1.shape)"] }, name)
            try module.loadStateDict(state)
            let y = module(input(f))
            XCTAssertEqual(y.shape, ints(f["output_shape"]), name)
            assertClose(y.scalars, floats(f["output"]), rtol: 1e-4, atol: 1e-5, "\(name) output")
            try checkGradients(module, y, f, name)
        }
    }

    /// A new wrapper starts as PyTorch's: g is the weight's norm, so the
    /// layer computes what it computed before.
    func testWeightNormStartsAsTheLayer() {
        let g = RandomGenerator(seed: 4)
        let conv = Conv2d(2, 3, kernelSize: 3, padding: 1, generator: g)
        let x = Tensor.randn([1, 2, 4, 4], generator: g)
        let before = conv(x).scalars
        let wrapped = weightNorm(conv)
        XCTAssertEqual(wrapped.g.shape, [3, 1, 1, 1])
        XCTAssertTrue(wrapped.v === conv.weight)
        assertClose(wrapped(x).scalars, before, rtol: 1e-5, atol: 1e-6)
    }

    /// The model of the fixture's "model" case.
    func discriminator() -> Sequential {
        Sequential(
            spectralNorm(Conv2d(3, 8, kernelSize: 4, stride: 2, padding: 1)),
            LeakyReLU(negativeSlope: 0.2),
            spectralNorm(ConvTranspose2d(8, 4, kernelSize: 2, stride: 2, bias: false)),
            Flatten(),
            weightNorm(Linear(16, 1)))
    }

    func testKeysAndPrintedTreeOfAWrappedModelAreTorchs() throws {
        let f = try fixture("model")
        let model = discriminator()
        func entries(_ key: String) throws -> [[String]] {
            try XCTUnwrap(f[key] as? [[Any]]).map { ["\($0[0])", "\(ints($0[1]))"] }
        }
        XCTAssertEqual(model.stateDict().map { [$0.0, "\($0.1.shape)"] }, try entries("state_dict"))
        XCTAssertEqual(model.namedParameters().map { [$0.0, "\($0.1.shape)"] }, try entries("parameters"))
        XCTAssertEqual(model.description, f["repr"] as? String)
        // A forward through the discriminator-style model, and the round trip through safetensors.
        let x = Tensor.randn([2, 3, 2, 2], generator: RandomGenerator(seed: 2))
        XCTAssertEqual(model(x).shape, [2, 1])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "spectral-\(UInt64.random(in: 0...UInt64.max)).safetensors"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.saveSafetensors(to: path)
        let copy = discriminator()
        try copy.loadSafetensors(from: path)
        model.eval()
        copy.eval()
        assertClose(copy(x).scalars, model(x).scalars, rtol: 1e-6, atol: 1e-7)
    }

    /// sigma = u^T W v against a plain matrix product, and after many power
    /// iterations sigma approaches the largest singular value (checked by
    /// the power method on W^T W written out here).
    func testSigmaAgainstAPlainReference() {
        let g = RandomGenerator(seed: 9)
        let conv = Conv2d(2, 3, kernelSize: 2, generator: g)
        let sn = spectralNorm(conv, nPowerIterations: 200, generator: g)
        sn.powerIteration()
        let w = conv.weight.scalars, u = sn.u.scalars, v = sn.v.scalars
        let rows = 3, cols = 8
        var plain: Double = 0
        for i in 0..<rows { for j in 0..<cols { plain += Double(u[i]) * Double(w[i * cols + j]) * Double(v[j]) } }
        XCTAssertEqual(Double(sn.sigma), plain, accuracy: 1e-5)
        // Largest eigenvalue of W W^T ([3, 3]) by repeated multiplication.
        var m = [Double](repeating: 0, count: 9)
        for a in 0..<3 { for b in 0..<3 { for j in 0..<cols { m[a * 3 + b] += Double(w[a * cols + j]) * Double(w[b * cols + j]) } } }
        var x = [1.0, 1.0, 1.0], lambda = 0.0
        for _ in 0..<500 {
            let y = (0..<3).map { a in (0..<3).reduce(0.0) { $0 + m[a * 3 + $1] * x[$1] } }
            lambda = (y.reduce(0) { $0 + $1 * $1 }).squareRoot()
            x = y.map { $0 / lambda }
        }
        XCTAssertEqual(Double(sn.sigma), lambda.squareRoot(), accuracy: 1e-4)
        // The normalised weight then has spectral norm 1.
        let normalised = sn.weight.scalars.map(Double.init)
        XCTAssertEqual(normalised[0] * Double(sn.sigma), Double(w[0]), accuracy: 1e-5)
    }

    /// Eval mode leaves u and v alone; train mode changes them.
    func testPowerIterationRunsInTrainModeOnly() {
        let g = RandomGenerator(seed: 5)
        let sn = spectralNorm(Linear(4, 3, generator: g), generator: g)
        let x = Tensor.randn([2, 4], generator: g)
        let u0 = sn.u.scalars
        sn.eval()
        _ = sn(x)
        XCTAssertEqual(sn.u.scalars, u0)
        sn.train()
        _ = sn(x)
        XCTAssertNotEqual(sn.u.scalars, u0)
    }

    func testGradCheck() {
        let g = RandomGenerator(seed: 11)
        // Eval mode: u and v fixed, so the function is deterministic; the gradient
        // still flows through sigma.
        let sn = spectralNorm(Conv2d(2, 2, kernelSize: 2, generator: g), generator: g)
        sn.train()
        _ = sn(Tensor.randn([1, 2, 3, 3], generator: g))
        sn.eval()
        assertGradCheck(
            gradCheck(sn, input: Tensor.randn([1, 2, 3, 3], generator: g), step: 1e-2, rtol: 2e-2, atol: 2e-3), "spectral conv")
        let snLinear = spectralNorm(Linear(3, 4, generator: g), generator: g)
        snLinear.eval()
        assertGradCheck(
            gradCheck(snLinear, input: Tensor.randn([2, 3], generator: g), step: 1e-2, rtol: 2e-2, atol: 2e-3), "spectral linear")
        for dim in [0, 1, nil] as [Int?] {
            let wn = weightNorm(Conv2d(2, 3, kernelSize: 2, generator: g), dim: dim)
            assertGradCheck(
                gradCheck(wn, input: Tensor.randn([1, 2, 3, 3], generator: g), step: 1e-2, rtol: 2e-2, atol: 2e-3),
                "weight norm dim \(dim.map(String.init) ?? "nil")")
        }
    }

    func testMatrixViewOfAnyDimension() {
        // [2, 3, 2] with dim 1: rows are dimension 1, columns (d0, d2) in order.
        let (row, column) = matrixView([2, 3, 2], rowDimension: 1)
        for k in 0..<12 {
            let (d0, d1, d2) = (k / 6, (k / 2) % 3, k % 2)
            XCTAssertEqual(row[k], d1)
            XCTAssertEqual(column[k], d0 * 2 + d2)
        }
    }
}
