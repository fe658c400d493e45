import XCTest

@testable import StrataCore
@testable import StrataNN

/// `fusedBatchNorm` (BatchNorm + residual add + ReLU in one op) against three
/// oracles: the same modules called one by one, a plain Double loop of the
/// forward, and central finite differences.
final class BatchNormFusionTests: XCTestCase {
    /// Two layers with the same (non-default) state.
    func twinLayers(_ c: Int, twoD: Bool, seed: UInt64) -> (BatchNormBase, BatchNormBase) {
        let make: () -> BatchNormBase = { twoD ? BatchNorm2d(c) : BatchNorm1d(c) }
        let (a, b) = (make(), make())
        let g = RandomGenerator(seed: seed)
        let w = Tensor.rand([c], low: 0.5, high: 1.5, generator: g), bias = Tensor.randn([c], generator: g)
        let rm = Tensor.randn([c], generator: g), rv = Tensor.rand([c], low: 0.5, high: 2, generator: g)
        for l in [a, b] {
            l.weight?.assign(w); l.bias?.assign(bias)
            l.runningMean?.assign(rm); l.runningVar?.assign(rv)
        }
        return (a, b)
    }

    /// Output, gradients (x, residual, weight, bias) and buffers after
    /// backward of sum(out * w), the layer called through `body`.
    func run(
        _ layer: BatchNormBase, x: Tensor, residual: Tensor?, weights: Tensor, seedGrad: Bool,
        _ body: (Tensor, Tensor?) -> Tensor
    ) -> [String: [Float]] {
        let xin = Tensor(shape: x.shape, x.scalars, requiresGrad: true)
        let rin = residual.map { Tensor(shape: $0.shape, $0.scalars, requiresGrad: true) }
        if seedGrad {
            // Gradients already present: the backward must add to them.
            xin.grad = Tensor(shape: x.shape, [Float](repeating: 0.25, count: x.count))
            rin?.grad = Tensor(shape: x.shape, [Float](repeating: -0.5, count: x.count))
            layer.weight?.grad = Tensor(shape: [layer.numFeatures], [Float](repeating: 1, count: layer.numFeatures))
        }
        let y = body(xin, rin)
        (y * weights).sum().backward()
        var out = ["y": y.scalars, "dx": xin.grad?.scalars ?? []]
        if let r = rin { out["dresidual"] = r.grad?.scalars ?? [] }
        for (k, t) in layer.namedParameters() { out["d" + k] = t.grad?.scalars ?? [] }
        for (k, t) in layer.namedBuffers() { out[k] = t.scalars }
        return out
    }

    func assertSame(_ a: [String: [Float]], _ b: [String: [Float]], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(a.keys), Set(b.keys), what, file: file, line: line)
        for (k, u) in a { assertClose(u, b[k] ?? [], rtol: 2e-5, atol: 2e-5, "\(what) \(k)", file: file, line: line) }
    }

    /// Every combination of layout, mode, residual, ReLU and pre-existing
    /// gradients gives the separate modules' outputs, gradients and buffers.
    func testFusedMatchesSeparateModules() {
        for twoD in [true, false] {
            let shape = twoD ? [3, 5, 6, 7] : [9, 5]
            let x = Tensor.randn(shape, generator: RandomGenerator(seed: 11))
            let r = Tensor.randn(shape, generator: RandomGenerator(seed: 12))
            let w = Tensor.randn(shape, generator: RandomGenerator(seed: 13))
            for training in [true, false] {
                for useResidual in [true, false] {
                    for useReLU in [true, false] {
                        for seedGrad in [false, true] {
                            let what = "\(twoD ? "2d" : "1d") train \(training) residual \(useResidual) relu \(useReLU) seeded \(seedGrad)"
                            let (fusedLayer, plainLayer) = twinLayers(5, twoD: twoD, seed: 3)
                            if !training { fusedLayer.eval(); plainLayer.eval() }
                            let relu = ReLU()
                            let residual = useResidual ? r : nil
                            let fused = run(fusedLayer, x: x, residual: residual, weights: w, seedGrad: seedGrad) { xin, rin in
                                fusedBatchNorm(fusedLayer, xin, adding: rin, relu: useReLU ? relu : nil)
                            }
                            let plain = run(plainLayer, x: x, residual: residual, weights: w, seedGrad: seedGrad) { xin, rin in
                                var y = plainLayer(xin)
                                if let rin { y = y + rin }
                                return useReLU ? y.relu() : y
                            }
                            assertSame(fused, plain, what)
                        }
                    }
                }
            }
        }
    }

    /// relu(bn(x) + x): the residual is x itself, so both terms of the
    /// gradient land in one buffer.
    func testResidualIsTheInput() {
        for twoD in [true, false] {
            let shape = twoD ? [2, 3, 4, 5] : [8, 3]
            let x = Tensor.randn(shape, generator: RandomGenerator(seed: 21))
            let w = Tensor.randn(shape, generator: RandomGenerator(seed: 22))
            let (fusedLayer, plainLayer) = twinLayers(3, twoD: twoD, seed: 4)
            let relu = ReLU()
            let fused = run(fusedLayer, x: x, residual: nil, weights: w, seedGrad: false) { xin, _ in
                fusedBatchNorm(fusedLayer, xin, adding: xin, relu: relu)
            }
            let plain = run(plainLayer, x: x, residual: nil, weights: w, seedGrad: false) { xin, _ in
                (plainLayer(xin) + xin).relu()
            }
            assertSame(fused, plain, "residual === x, \(twoD ? "2d" : "1d")")
        }
    }

    /// The forward against a plain Double loop of the definition (train mode,
    /// biased batch variance), and the running statistics PyTorch's rule gives.
    func testForwardAgainstPlainLoop() {
        let (N, C, S) = (4, 3, 10)
        let x = Tensor.randn([N, C, 2, 5], generator: RandomGenerator(seed: 31))
        let r = Tensor.randn([N, C, 2, 5], generator: RandomGenerator(seed: 32))
        let (bn, _) = twinLayers(C, twoD: true, seed: 5)
        let gamma = bn.weight?.scalars ?? [], beta = bn.bias?.scalars ?? []
        let rm0 = bn.runningMean?.scalars ?? [], rv0 = bn.runningVar?.scalars ?? []
        let y = fusedBatchNorm(bn, x, adding: r, relu: ReLU())
        for c in 0..<C {
            var values: [Double] = []
            for n in 0..<N { for s in 0..<S { values.append(Double(x.data[(n * C + c) * S + s])) } }
            let m = Double(values.count)
            let mean = values.reduce(0, +) / m
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / m
            for n in 0..<N {
                for s in 0..<S {
                    let i = (n * C + c) * S + s
                    let z = (Double(x.data[i]) - mean) / (variance + 1e-5).squareRoot() * Double(gamma[c]) + Double(beta[c])
                    let expected = max(z + Double(r.data[i]), 0)
                    XCTAssertEqual(Double(y.data[i]), expected, accuracy: 1e-5, "element \(i)")
                }
            }
            XCTAssertEqual(Double(bn.runningMean?.data[c] ?? .nan), 0.9 * Double(rm0[c]) + 0.1 * mean, accuracy: 1e-5)
            XCTAssertEqual(
                Double(bn.runningVar?.data[c] ?? .nan), 0.9 * Double(rv0[c]) + 0.1 * variance * m / (m - 1), accuracy: 1e-5)
        }
        XCTAssertEqual(bn.numBatchesTracked?.scalars, [1])
        XCTAssertEqual(y.gradNode?.op, "BatchNorm2d(3)", "one op, not three")
    }

    /// Central finite differences of the fused op (inputs drawn so that no
    /// output sits near ReLU's kink).
    func testFiniteDifferences() {
        for training in [true, false] {
            let (bn, _) = twinLayers(2, twoD: true, seed: 6)
            if !training { bn.eval() }
            let x = randomAwayFromZero([2, 2, 3, 3], seed: 41)
            x.requiresGrad = true
            let r = Tensor.randn([2, 2, 3, 3], generator: RandomGenerator(seed: 42))
            r.requiresGrad = true
            if !training { bn.runningMean?.fill(0.1); bn.runningVar?.fill(1.3) }
            let params = bn.parameters()
            // An output near zero would make a finite difference straddle the kink.
            let probe = withNoGrad { fusedBatchNorm(bn, x, adding: r, relu: nil) }
            let nearest = probe.scalars.map(abs).min() ?? 0
            XCTAssertGreaterThan(nearest, 0.02, "the draw puts an output near the kink: pick another seed")
            let result = gradCheck([x, r] + params, step: 2e-3, rtol: 2e-2, atol: 2e-3) { inputs in
                fusedBatchNorm(bn, inputs[0], adding: inputs[1], relu: ReLU())
            }
            assertGradCheck(result, "training \(training)")
        }
    }

    /// A forward hook on the ReLU or the BatchNorm, or a forward observer,
    /// turns fusion off: every module is called, the hooks see every call,
    /// and the result does not change.
    func testWatchedModulesAreCalledUnfused() {
        let block = BasicBlock(4, 4, generator: RandomGenerator(seed: 7))
        let twin = BasicBlock(4, 4, generator: RandomGenerator(seed: 7))
        let x = Tensor.randn([2, 4, 6, 6], generator: RandomGenerator(seed: 51))
        let reference = twin(x)
        var reluCalls = 0
        let handle = block.relu.registerForwardHook { _, _, _ in
            reluCalls += 1; return nil
        }
        let watched = block(x)
        handle.remove()
        XCTAssertEqual(reluCalls, 2, "the block's ReLU runs twice, and the hook sees both")
        assertClose(watched, reference, rtol: 1e-5, atol: 1e-5)
        var bnCalls = 0
        let bnHandle = block.bn2.registerForwardHook { _, _, _ in
            bnCalls += 1; return nil
        }
        _ = block(x)
        bnHandle.remove()
        XCTAssertEqual(bnCalls, 1)
        // Unwatched, the same block fuses and still agrees (third batch on both).
        _ = twin(x)
        assertClose(block(x), twin(x), rtol: 1e-5, atol: 1e-5)
        // summary (a forward observer) records the ReLU's output shape: it was called.
        let table = block.summary(inputShape: [2, 4, 6, 6])
        let reluRow = table.split(separator: "\n").first { $0.contains("relu (ReLU)") } ?? ""
        XCTAssertTrue(reluRow.contains("[2, 4, 6, 6]"), "summary's ReLU row has no shape:\n\(table)")
    }

    /// Sequential fuses BatchNorm -> ReLU pairs (the reference CNN's), and the
    /// result equals calling the same layers one by one.
    func testSequentialFusesBatchNormReLU() {
        let a = ReferenceCNN.make(generator: RandomGenerator(seed: 8))
        let b = ReferenceCNN.make(generator: RandomGenerator(seed: 8))
        let x = Tensor.randn([3, 1, 28, 28], generator: RandomGenerator(seed: 61))
        let ya = a(x)
        var h = x
        for layer in b.layers { h = layer(h) }
        assertClose(ya, h, rtol: 1e-5, atol: 1e-5)
        ya.sum().backward()
        h.sum().backward()
        for ((name, p), (_, q)) in zip(a.namedParameters(), b.namedParameters()) {
            assertClose(p.grad?.scalars ?? [], q.grad?.scalars ?? [], rtol: 1e-4, atol: 1e-5, name)
        }
        for ((name, p), (_, q)) in zip(a.namedBuffers(), b.namedBuffers()) { assertClose(p, q, rtol: 1e-6, atol: 1e-6, name) }
    }
    /// relu(bn(x)) on NCHW recomputes the ReLU's mask from x in the backward
    /// (no saved output read); the result must be the separate ReLU's, bit
    /// for bit, at the kink too. Channel 0 is constant with bias 0, so its
    /// output is exactly 0 (no gradient passes, PyTorch's rule); channel 1 is
    /// constant with bias 0.5 (every gradient passes); channel 2 straddles 0;
    /// a plane of 37 elements leaves a scalar tail after two 16-wide blocks.
    func testRecomputedReLUMaskIsTheSavedOutputs() {
        for training in [true, false] {
            let (fusedLayer, plainLayer) = twinLayers(3, twoD: true, seed: 9)
            for l in [fusedLayer, plainLayer] {
                l.bias?.assign(Tensor(shape: [3], [0, 0.5, 0.1]))
                if !training { l.eval() }
            }
            let g = RandomGenerator(seed: 71)
            var values = Tensor.randn([2, 3, 37, 1], generator: g).scalars
            for n in 0..<2 {
                for s in 0..<37 {
                    values[(n * 3 + 0) * 37 + s] = 1.25
                    values[(n * 3 + 1) * 37 + s] = -0.75
                }
            }
            let x = Tensor(shape: [2, 3, 37, 1], values)
            if !training {
                // Eval: the running mean equals the constant channels' values.
                for l in [fusedLayer, plainLayer] { l.runningMean?.assign(Tensor(shape: [3], [1.25, -0.75, 0])) }
            }
            let w = Tensor.randn([2, 3, 37, 1], generator: RandomGenerator(seed: 72))
            let relu = ReLU()
            let fused = run(fusedLayer, x: x, residual: nil, weights: w, seedGrad: false) { xin, _ in
                fusedBatchNorm(fusedLayer, xin, adding: nil, relu: relu)
            }
            let plain = run(plainLayer, x: x, residual: nil, weights: w, seedGrad: false) { xin, _ in
                plainLayer(xin).relu()
            }
            let what = "training \(training)"
            XCTAssertEqual(Set(fused.keys), Set(plain.keys), what)
            for (k, u) in fused { XCTAssertEqual(u, plain[k] ?? [], "\(what) \(k): not the same bits") }
            let y = fused["y"] ?? []
            XCTAssertEqual(Array(y[0..<37]), [Float](repeating: 0, count: 37), "\(what): channel 0 sits on the kink")
            XCTAssertTrue(y[37..<74].allSatisfy { $0 == 0.5 }, "\(what): channel 1 is the bias")
            let dx = fused["dx"] ?? []
            if training {
                XCTAssertEqual(Array(dx[0..<37]), [Float](repeating: 0, count: 37), "\(what): no gradient through the kink")
            }
            XCTAssertTrue(y[74..<111].contains { $0 == 0 } && y[74..<111].contains { $0 > 0 }, "\(what): channel 2 straddles 0")
        }
    }
}
