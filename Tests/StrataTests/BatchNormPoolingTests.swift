import XCTest

@testable import StrataCore
@testable import StrataNN

/// `fusedBatchNorm(_:_:relu:maxPool:)`: BatchNorm, ReLU and MaxPool2d(2) in
/// one op, against the three modules called one by one (bit for bit) and
/// central finite differences.
extension BatchNormFusionTests {
    /// Values on a grid of halves, so that windows hold ties (and the ReLU
    /// zeroes whole windows: ties at 0), with NaNs at `nanEvery`-th places.
    func quantised(_ shape: [Int], seed: UInt64, nanEvery: Int? = nil) -> Tensor {
        let g = RandomGenerator(seed: seed)
        var v = Tensor.randn(shape, generator: g).scalars.map { ($0 * 2).rounded() / 2 }
        if let k = nanEvery { for i in stride(from: 3, to: v.count, by: k) { v[i] = .nan } }
        return Tensor(shape: shape, v)
    }

    func assertSameBits(_ a: [String: [Float]], _ b: [String: [Float]], _ what: String) {
        XCTAssertEqual(Set(a.keys), Set(b.keys), what)
        for (k, u) in a {
            XCTAssertEqual(u.map(\.bitPattern), (b[k] ?? []).map(\.bitPattern), "\(what) \(k): not the same bits")
        }
    }

    /// Train and eval, fresh and accumulated gradients, odd heights and
    /// widths (a last row or column outside every window), batch 1, ties and
    /// (eval: per element) NaNs: output, every gradient and the running
    /// statistics are those of bn, ReLU and maxPool2d called one by one.
    func testFusedMaxPoolMatchesSeparateModulesBitForBit() {
        // [5, 7, 4, 6]: 35 planes, two workers, the second starting inside a sample.
        for shape in [[3, 5, 6, 7], [2, 3, 9, 8], [1, 2, 2, 2], [2, 4, 28, 28], [5, 7, 4, 6]] {
            for training in [true, false] {
                for seedGrad in [false, true] {
                    let what = "\(shape) train \(training) seeded \(seedGrad)"
                    let x = quantised(shape, seed: 81, nanEvery: training ? nil : 29)
                    let pooledShape = [shape[0], shape[1], shape[2] / 2, shape[3] / 2]
                    let w = Tensor.randn(pooledShape, generator: RandomGenerator(seed: 82))
                    let (fusedLayer, plainLayer) = twinLayers(shape[1], twoD: true, seed: 10)
                    if !training { fusedLayer.eval(); plainLayer.eval() }
                    let (relu, pool) = (ReLU(), MaxPool2d(kernelSize: 2))
                    let fused = run(fusedLayer, x: x, residual: nil, weights: w, seedGrad: seedGrad) { xin, _ in
                        fusedBatchNorm(fusedLayer, xin, relu: relu, maxPool: pool)
                    }
                    let plain = run(plainLayer, x: x, residual: nil, weights: w, seedGrad: seedGrad) { xin, _ in
                        maxPool2d(plainLayer(xin).relu(), kernelSize: 2)
                    }
                    XCTAssertEqual(fused["y"]?.count, pooledShape.reduce(1, *), what)
                    assertSameBits(fused, plain, what)
                }
            }
        }
    }

    /// The op's output and graph are freed with or without a backward: its
    /// backward holds the argmax, never the output (which holds the
    /// backward), in train and eval mode.
    func testFusedMaxPoolGraphIsFreedWithoutBackward() {
        for training in [true, false] {
            let (bn, _) = twinLayers(3, twoD: true, seed: 13)
            if !training { bn.eval() }
            weak var weakOut: Tensor?
            do {
                let y = fusedBatchNorm(bn, quantised([2, 3, 6, 6], seed: 64), relu: ReLU(), maxPool: MaxPool2d(kernelSize: 2))
                XCTAssertTrue(y.requiresGrad)
                weakOut = y
            }
            XCTAssertNil(weakOut, "training \(training): the pooled output outlived its forward (a cycle through its backward?)")
            do {
                let y = fusedBatchNorm(bn, quantised([2, 3, 6, 6], seed: 65), relu: ReLU(), maxPool: MaxPool2d(kernelSize: 2))
                weakOut = y
                y.sum().backward()
            }
            XCTAssertNil(weakOut, "training \(training): the pooled output outlived its backward")
        }
    }

    /// Central finite differences of the fused op, on inputs whose windows
    /// have distinct maxima away from ReLU's kink.
    func testFusedMaxPoolFiniteDifferences() {
        for training in [true, false] {
            let (bn, _) = twinLayers(2, twoD: true, seed: 6)
            if !training { bn.eval(); bn.runningMean?.fill(0.1); bn.runningVar?.fill(1.3) }
            let x = randomAwayFromZero([2, 2, 4, 5], seed: 43)
            x.requiresGrad = true
            let probe = withNoGrad { fusedBatchNorm(bn, x, adding: nil, relu: nil) }
            XCTAssertGreaterThan(probe.scalars.map(abs).min() ?? 0, 0.02, "an activation near the kink: pick another seed")
            let result = gradCheck([x] + bn.parameters(), step: 2e-3, rtol: 2e-2, atol: 2e-3) { inputs in
                fusedBatchNorm(bn, inputs[0], relu: ReLU(), maxPool: MaxPool2d(kernelSize: 2))
            }
            assertGradCheck(result, "training \(training)")
        }
    }

    /// Sequential fuses BatchNorm -> ReLU -> MaxPool2d(2) (the reference
    /// CNN's blocks, with BatchNorm and with Batch Renormalization); a hook
    /// on the pool, or a pool other than MaxPool2d(2), runs the modules one
    /// by one; every way gives the same bits.
    func testSequentialFusesBatchNormReLUMaxPool() {
        for norm in [ReferenceCNN.Norm.batch, .renorm] {
            let a = ReferenceCNN.make(norm: norm, generator: RandomGenerator(seed: 8))
            let b = ReferenceCNN.make(norm: norm, generator: RandomGenerator(seed: 8))
            let x = Tensor.randn([3, 1, 28, 28], generator: RandomGenerator(seed: 62))
            let ya = a(x)
            var h = x
            for layer in b.layers { h = layer(h) }
            XCTAssertEqual(ya.scalars.map(\.bitPattern), h.scalars.map(\.bitPattern), "\(norm): fused forward")
            ya.sum().backward()
            h.sum().backward()
            for ((name, p), (_, q)) in zip(a.namedParameters(), b.namedParameters()) {
                XCTAssertEqual(p.grad?.scalars ?? [], q.grad?.scalars ?? [], "\(norm): \(name)")
            }
            for ((name, p), (_, q)) in zip(a.namedBuffers(), b.namedBuffers()) {
                XCTAssertEqual(p.scalars, q.scalars, "\(norm): \(name)")
            }
        }
        let x = quantised([2, 3, 8, 6], seed: 63)
        let (bn, twin) = twinLayers(3, twoD: true, seed: 11)
        let pool = MaxPool2d(kernelSize: 2)
        var calls = 0
        let handle = pool.registerForwardHook { _, _, _ in
            calls += 1; return nil
        }
        let watched = Sequential(bn, ReLU(), pool)(x)
        handle.remove()
        XCTAssertEqual(calls, 1, "a hooked pool is called as a module")
        XCTAssertEqual(watched.scalars, Sequential(twin, ReLU(), MaxPool2d(kernelSize: 2))(x).scalars)
        // Not MaxPool2d(2): stride 1, a 3x3 window, ceil mode, padding.
        let others = [
            MaxPool2d(kernelSize: 2, stride: Size2(1)), MaxPool2d(kernelSize: 3, stride: Size2(2)),
            MaxPool2d(kernelSize: 2, ceilMode: true), MaxPool2d(kernelSize: 2, padding: 1),
        ]
        for p in others {
            XCTAssertFalse(p.halves, p.extraRepresentation)
            let (l1, l2) = twinLayers(3, twoD: true, seed: 12)
            let y = Sequential(l1, ReLU(), p)(x)
            XCTAssertEqual(y.scalars, p(l2(x).relu()).scalars, p.extraRepresentation)
        }
        XCTAssertTrue(pool.halves)
    }
}
