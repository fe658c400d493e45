import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// Runs a module through the steps of a norm.json fixture case (train and
/// eval steps on fresh inputs) and compares output, input gradient,
/// parameter gradients and buffers after every step with PyTorch's.
func runNormFixture(
    _ name: String, _ module: any Module, tolerance: Float = 1e-4,
    file: StaticString = #filePath, line: UInt = #line
) throws {
    let case_ = try loadFixture("norm")[name] as! [String: Any]
    let params = case_["params"] as! [String: Any]
    for (key, p) in module.namedParameters() {
        p.assign(Tensor(shape: p.shape, floats(params[key])))
    }
    for (i, step) in (case_["steps"] as! [[String: Any]]).enumerated() {
        let what = "\(name) step \(i) (\(step["mode"]!))"
        module.train(step["mode"] as! String == "train")
        module.zeroGrad()
        let shape = ints(step["shape"])
        let x = Tensor(shape: shape, floats(step["x"]), requiresGrad: true)
        let y = module(x)
        assertClose(y.scalars, floats(step["y"]), rtol: tolerance, atol: tolerance, "y of \(what)", file: file, line: line)
        y.backward(Tensor(shape: shape, floats(step["g"])))
        assertClose(x.grad!.scalars, floats(step["dx"]), rtol: tolerance, atol: tolerance, "dx of \(what)", file: file, line: line)
        for (key, p) in module.namedParameters() {
            assertClose(
                p.grad!.scalars, floats(step["d" + key]), rtol: tolerance, atol: tolerance, "d\(key) of \(what)", file: file, line: line)
        }
        let buffers = module.namedBuffers()
        XCTAssertEqual(
            buffers.map(\.0).sorted(), step.keys.filter { ["running_mean", "running_var", "num_batches_tracked"].contains($0) }.sorted(),
            "buffer keys of \(what)", file: file, line: line)
        for (key, b) in buffers {
            assertClose(b.scalars, floats(step[key]), rtol: tolerance, atol: tolerance, "\(key) of \(what)", file: file, line: line)
        }
    }
}

/// A plain two-pass BatchNorm in Double over [N, C, inner]: returns y, dx,
/// dgamma, dbeta, batch mean and biased variance.
func referenceBatchNorm(x: [Float], dy: [Float], n: Int, c: Int, inner: Int, gamma: [Float], beta: [Float], eps: Double)
    -> (y: [Float], dx: [Float], dgamma: [Float], dbeta: [Float], mean: [Double], variance: [Double])
{
    var y = [Float](repeating: 0, count: x.count), dx = y
    var dg = [Float](repeating: 0, count: c), db = dg
    var means = [Double](repeating: 0, count: c), vars = means
    let m = Double(n * inner)
    for ch in 0..<c {
        var idx: [Int] = []
        for s in 0..<n { for i in 0..<inner { idx.append((s * c + ch) * inner + i) } }
        let mean = idx.reduce(0.0) { $0 + Double(x[$1]) } / m
        let variance = idx.reduce(0.0) { $0 + (Double(x[$1]) - mean) * (Double(x[$1]) - mean) } / m
        let istd = 1 / (variance + eps).squareRoot()
        var sdy = 0.0, sdyx = 0.0
        for j in idx {
            let xh = (Double(x[j]) - mean) * istd
            y[j] = Float(xh * Double(gamma[ch]) + Double(beta[ch]))
            sdy += Double(dy[j]); sdyx += Double(dy[j]) * xh
        }
        for j in idx {
            let xh = (Double(x[j]) - mean) * istd
            dx[j] = Float(Double(gamma[ch]) * istd / m * (m * Double(dy[j]) - sdy - xh * sdyx))
        }
        dg[ch] = Float(sdyx); db[ch] = Float(sdy); means[ch] = mean; vars[ch] = variance
    }
    return (y, dx, dg, db, means, vars)
}

final class BatchNormTests: XCTestCase {
    // MARK: PyTorch reference values

    func testBatchNorm2dMatchesPyTorchWithMomentum() throws {
        try runNormFixture("bn2d_momentum", BatchNorm2d(4))
    }

    func testBatchNorm2dMatchesPyTorchWithCumulativeAverage() throws {
        try runNormFixture("bn2d_cumulative", BatchNorm2d(4, momentum: nil))
    }

    func testBatchNorm1dMatchesPyTorchOnNCAndNCL() throws {
        try runNormFixture("bn1d_nc", BatchNorm1d(5))
        try runNormFixture("bn1d_ncl", BatchNorm1d(3))
    }

    func testBatchNormOptionsMatchPyTorch() throws {
        try runNormFixture("bn2d_no_affine", BatchNorm2d(3, affine: false))
        try runNormFixture("bn2d_no_tracking", BatchNorm2d(3, trackRunningStats: false))
        try runNormFixture("bn2d_eps_momentum", BatchNorm2d(3, eps: 1e-3, momentum: 0.3))
    }

    func testStateDictKeysAndDefaultsMatchPyTorch() {
        let bn = BatchNorm2d(3)
        XCTAssertEqual(bn.stateDict().map(\.0), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        XCTAssertEqual(bn.weight!.scalars, [1, 1, 1]); XCTAssertEqual(bn.bias!.scalars, [0, 0, 0])
        XCTAssertEqual(bn.runningMean!.scalars, [0, 0, 0]); XCTAssertEqual(bn.runningVar!.scalars, [1, 1, 1])
        XCTAssertEqual(bn.numBatchesTracked!.shape, []); XCTAssertEqual(bn.eps, 1e-5); XCTAssertEqual(bn.momentum, 0.1)
        XCTAssertEqual(BatchNorm1d(2, affine: false).stateDict().map(\.0), ["running_mean", "running_var", "num_batches_tracked"])
        XCTAssertEqual(BatchNorm1d(2, trackRunningStats: false).stateDict().map(\.0), ["weight", "bias"])
        let net = Sequential(Linear(3, 2), BatchNorm1d(2))
        XCTAssertEqual(net.parameters().count, 4)
        XCTAssertEqual(net.namedBuffers().map(\.0), ["1.running_mean", "1.running_var", "1.num_batches_tracked"])
    }

    // MARK: Fused kernels against the naive reference

    func testFusedKernelsMatchNaiveReferenceOnManyShapes() {
        let shapes: [[Int]] = [
            [2, 3, 5, 7], [2, 1, 4, 4], [5, 3, 1, 1], [3, 2, 40, 40], [7, 5, 3, 3], [2, 17, 9, 11],
            [8, 16, 32, 32], [2, 33], [100, 100], [129, 20], [600, 128], [3, 7, 5], [2, 1],
        ]
        for (k, shape) in shapes.enumerated() {
            let gen = RandomGenerator(seed: UInt64(100 + k))
            let c = shape[1], n = shape[0], inner = shape[2...].reduce(1, *)
            let bn: BatchNormBase = shape.count == 4 ? BatchNorm2d(c) : BatchNorm1d(c)
            bn.weight!.assign(Tensor.randn([c], mean: 1, std: 0.5, generator: gen))
            bn.bias!.assign(Tensor.randn([c], generator: gen))
            let x = Tensor.randn(shape, mean: 3, std: 2, generator: gen)
            x.requiresGrad = true
            let dy = Tensor.randn(shape, generator: gen)
            let ref = referenceBatchNorm(
                x: x.scalars, dy: dy.scalars, n: n, c: c, inner: inner,
                gamma: bn.weight!.scalars, beta: bn.bias!.scalars, eps: 1e-5)
            let y = bn(x)
            y.backward(dy)
            let tag = "shape \(shape)"
            assertClose(y.scalars, ref.y, rtol: 1e-4, atol: 1e-4, tag)
            assertClose(x.grad!.scalars, ref.dx, rtol: 1e-3, atol: 1e-4, tag)
            assertClose(bn.weight!.grad!.scalars, ref.dgamma, rtol: 1e-3, atol: 1e-3, tag)
            assertClose(bn.bias!.grad!.scalars, ref.dbeta, rtol: 1e-4, atol: 1e-3, tag)
            let m = Double(n * inner)
            assertClose(bn.runningMean!.scalars, ref.mean.map { Float(0.1 * $0) }, rtol: 1e-5, atol: 1e-5, tag)
            assertClose(bn.runningVar!.scalars, ref.variance.map { Float(0.9 + 0.1 * $0 * m / (m - 1)) }, rtol: 1e-5, atol: 1e-5, tag)
            // Eval forward (one pass) and its backward.
            bn.eval()
            x.grad = nil
            let ye = bn(x)
            ye.backward(dy)
            let rm = bn.runningMean!.scalars, rv = bn.runningVar!.scalars, w = bn.weight!.scalars, b = bn.bias!.scalars
            var expected = [Float](), expectedDx = [Float]()
            for i in 0..<x.count {
                let ch = (i / inner) % c
                let s = w[ch] / (rv[ch] + 1e-5).squareRoot()
                expected.append((x.data[i] - rm[ch]) * s + b[ch])
                expectedDx.append(dy.data[i] * s)
            }
            assertClose(ye.scalars, expected, rtol: 1e-4, atol: 1e-4, "eval \(tag)")
            assertClose(x.grad!.scalars, expectedDx, rtol: 1e-5, atol: 1e-6, "eval dx \(tag)")
        }
    }

    func testChannelBlocksAndThreadCountsGiveTheSameResult() {
        // [2, 20, 64, 64]: on one thread the 20 channels run as blocks of 16 and 4.
        let shape = [2, 20, 64, 64]
        let gen = RandomGenerator(seed: 77)
        let x = Tensor.randn(shape, mean: -2, std: 3, generator: gen)
        let dy = Tensor.randn(shape, generator: gen)
        let ref = referenceBatchNorm(
            x: x.scalars, dy: dy.scalars, n: 2, c: 20, inner: 4096,
            gamma: [Float](repeating: 1, count: 20), beta: [Float](repeating: 0, count: 20), eps: 1e-5)
        let saved = Threading.count
        defer { Threading.count = saved }
        for threads in [1, 2] {
            Threading.count = threads
            let bn = BatchNorm2d(20)
            x.requiresGrad = true
            x.grad = nil
            let y = bn(x)
            y.backward(dy)
            assertClose(y.scalars, ref.y, rtol: 1e-4, atol: 1e-4, "threads \(threads)")
            assertClose(x.grad!.scalars, ref.dx, rtol: 1e-3, atol: 1e-4, "threads \(threads)")
            assertClose(bn.weight!.grad!.scalars, ref.dgamma, rtol: 1e-3, atol: 1e-2, "threads \(threads)")
        }
    }

    func testGradientAccumulatesIntoExistingGrad() {
        let bn = BatchNorm2d(2)
        let x = randomAwayFromZero([3, 2, 2, 2], seed: 5)
        x.requiresGrad = true
        let dy = Tensor.randn([3, 2, 2, 2], generator: RandomGenerator(seed: 6))
        bn(x).backward(dy)
        let once = x.grad!.scalars
        bn(x).backward(dy)
        assertClose(x.grad!.scalars, once.map { 2 * $0 }, rtol: 1e-5, atol: 1e-6)
    }

    // MARK: Robustness and errors

    func testLargeMeanNormalisesToUnitVariance() {
        for shape in [[8, 2, 16, 16], [512, 3]] {
            let x = Tensor.randn(shape, mean: 1e4, std: 1, generator: RandomGenerator(seed: 9))
            let bn: BatchNormBase = shape.count == 4 ? BatchNorm2d(shape[1]) : BatchNorm1d(shape[1])
            let y = bn(x)
            let inner = shape[2...].reduce(1, *), c = shape[1]
            for ch in 0..<c {
                var vals: [Double] = []
                for i in 0..<y.count where (i / inner) % c == ch { vals.append(Double(y.data[i])) }
                let mean = vals.reduce(0, +) / Double(vals.count)
                let variance = vals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(vals.count)
                XCTAssertEqual(variance, 1, accuracy: 1e-3, "shape \(shape) channel \(ch)")
                XCTAssertEqual(mean, 0, accuracy: 1e-3, "shape \(shape) channel \(ch)")
            }
            XCTAssertEqual(Double(bn.runningMean!.data[0]), 1e3, accuracy: 0.1)
        }
        // The naive one-pass formula in Float is useless here (why the kernels shift and use Double).
        let x = Tensor.randn([4096], mean: 1e4, std: 1, generator: RandomGenerator(seed: 10))
        var s1: Float = 0, s2: Float = 0
        for v in x.scalars { s1 += v; s2 += v * v }
        let naive = s2 / 4096 - (s1 / 4096) * (s1 / 4096)
        XCTAssertGreaterThan(abs(naive - 1), 0.1, "naive variance \(naive)")
    }

    func testShiftFarFromMeanStillAccurate() {
        // First element an outlier: the shifted sums fall back to a second pass.
        let x = Tensor.randn([4, 1, 8, 8], mean: 0, std: 1, generator: RandomGenerator(seed: 3))
        x.data[0] = 1e5
        let ref = referenceBatchNorm(x: x.scalars, dy: x.scalars, n: 4, c: 1, inner: 64, gamma: [1], beta: [0], eps: 1e-5)
        assertClose(BatchNorm2d(1)(x).scalars, ref.y, rtol: 1e-4, atol: 1e-4)
        assertClose(BatchNorm1d(1)(x.reshaped([256, 1])).scalars, ref.y, rtol: 1e-4, atol: 1e-4)
    }

    func testConstantChannelGivesExactlyBeta() {
        for shape in [[4, 3, 5, 5], [6, 3]] {
            let bn: BatchNormBase = shape.count == 4 ? BatchNorm2d(3) : BatchNorm1d(3)
            bn.weight!.assign(Tensor([2, 3, 4])); bn.bias!.assign(Tensor([0.25, -1.5, 7]))
            let x = Tensor.randn(shape, generator: RandomGenerator(seed: 4))
            x.requiresGrad = true
            let inner = shape[2...].reduce(1, *)
            for i in 0..<x.count where (i / inner) % 3 == 1 { x.data[i] = 3.7 }
            let y = bn(x)
            for i in 0..<y.count where (i / inner) % 3 == 1 { XCTAssertEqual(y.data[i], -1.5, "shape \(shape)") }
            y.backward(Tensor.randn(shape, generator: RandomGenerator(seed: 5)))
            XCTAssertTrue(x.grad!.scalars.allSatisfy(\.isFinite))
            XCTAssertTrue(bn.runningVar!.scalars.allSatisfy(\.isFinite))
        }
    }

    func testOneValuePerChannelInTrainingIsAnErrorWithMessage() {
        let bn = BatchNorm2d(3)
        XCTAssertThrowsError(try bn.validate(inputShape: [1, 3, 1, 1])) { error in
            XCTAssertEqual(
                "\(error)", "BatchNorm2d(3): expected more than 1 value per channel when training, got input of shape [1, 3, 1, 1]")
        }
        XCTAssertNoThrow(try bn.validate(inputShape: [1, 3, 1, 2]))
        XCTAssertThrowsError(try bn.validate(inputShape: [2, 4, 3, 3])) { error in
            XCTAssertEqual("\(error)", "BatchNorm2d(3): expected input of shape [N, 3, H, W], got [2, 4, 3, 3]")
        }
        bn.eval()
        XCTAssertNoThrow(try bn.validate(inputShape: [1, 3, 1, 1]))
        let bn1 = BatchNorm1d(4)
        XCTAssertThrowsError(try bn1.validate(inputShape: [1, 4])) { error in
            XCTAssertEqual("\(error)", "BatchNorm1d(4): expected more than 1 value per channel when training, got input of shape [1, 4]")
        }
        XCTAssertNoThrow(try bn1.validate(inputShape: [1, 4, 2]))
        XCTAssertThrowsError(try bn1.validate(inputShape: [2, 4, 2, 2]))
        let untracked = BatchNorm1d(4, trackRunningStats: false)
        untracked.eval()  // still uses batch statistics: PyTorch rejects a batch of one here too
        XCTAssertThrowsError(try untracked.validate(inputShape: [1, 4]))
    }

    // MARK: Conventions and options

    func testSeedArticleConventionIsReachable() {
        // Seed 001: running = 0.9 * running + 0.1 * batch (decay 0.9 <=> momentum 0.1),
        // biased variance stored, running_var starting at 0, eps 1e-6 inside the sqrt.
        let bn = BatchNorm1d(4, eps: 1e-6, momentum: 0.1, affine: false, unbiasedRunningVariance: false)
        bn.runningVar!.fill(0)
        var rm = [Double](repeating: 0, count: 4), rv = rm
        let gen = RandomGenerator(seed: 21)
        for _ in 0..<3 {
            let x = Tensor.randn([10, 4], mean: 2, std: 3, generator: gen)
            let y = bn(x)
            for c in 0..<4 {
                let col = (0..<10).map { Double(x[$0, c]) }
                let mu = col.reduce(0, +) / 10
                let v = col.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / 10
                rm[c] = 0.9 * rm[c] + 0.1 * mu
                rv[c] = 0.9 * rv[c] + 0.1 * v
                for r in 0..<10 { XCTAssertEqual(Double(y[r, c]), (col[r] - mu) / (v + 1e-6).squareRoot(), accuracy: 1e-4) }
            }
        }
        assertClose(bn.runningMean!.scalars, rm.map(Float.init), rtol: 1e-5, atol: 1e-6)
        assertClose(bn.runningVar!.scalars, rv.map(Float.init), rtol: 1e-5, atol: 1e-6)
        bn.eval()
        let x = Tensor.randn([3, 4], generator: gen)
        let y = bn(x)
        for r in 0..<3 {
            for c in 0..<4 {
                XCTAssertEqual(Double(y[r, c]), (Double(x[r, c]) - rm[c]) / (rv[c] + 1e-6).squareRoot(), accuracy: 1e-4)
            }
        }
    }

    func testFreezingKeepsAndUsesRunningStatisticsInTrainMode() {
        let bn = BatchNorm2d(3)
        let gen = RandomGenerator(seed: 31)
        for _ in 0..<3 { _ = bn(Tensor.randn([4, 3, 2, 2], mean: 1, std: 2, generator: gen)) }
        let (rm, rv, nbt) = (bn.runningMean!.scalars, bn.runningVar!.scalars, bn.numBatchesTracked!.item)
        XCTAssertEqual(nbt, 3)
        bn.freezeStatistics = true
        bn.train()
        XCTAssertFalse(bn.usesBatchStatistics)
        let x = Tensor.randn([4, 3, 2, 2], generator: gen)
        let y = bn(x)
        y.sum().backward()
        XCTAssertEqual(bn.runningMean!.scalars, rm); XCTAssertEqual(bn.runningVar!.scalars, rv)
        XCTAssertEqual(bn.numBatchesTracked!.item, 3)
        XCTAssertNotNil(bn.weight!.grad)
        bn.freezeStatistics = false
        bn.eval()
        assertClose(y.scalars, bn(x).scalars, rtol: 0, atol: 0)
        XCTAssertNoThrow(
            try {
                bn.train(); bn.freezeStatistics = true; try bn.validate(inputShape: [1, 3, 1, 1])
            }())
    }

    // MARK: Gradient checks

    func testGradCheckBatchNormInEveryMode() {
        var seed: UInt64 = 40
        func check(_ bn: BatchNormBase, _ shape: [Int], _ what: String) {
            seed += 1
            let gen = RandomGenerator(seed: seed)
            if let w = bn.weight { w.assign(Tensor.randn(w.shape, mean: 1, std: 0.3, generator: gen)) }
            if let b = bn.bias { b.assign(Tensor.randn(b.shape, generator: gen)) }
            if let rm = bn.runningMean { rm.assign(Tensor.randn(rm.shape, generator: gen)) }
            if let rv = bn.runningVar { rv.assign(Tensor.rand(rv.shape, low: 0.5, high: 2, generator: gen)) }
            assertGradCheck(gradCheck(bn, input: Tensor.randn(shape, generator: gen), step: 1e-2, rtol: 2e-2, atol: 2e-3), what)
        }
        check(BatchNorm1d(3), [5, 3], "1d (N, C) train")
        check(BatchNorm1d(3), [3, 3, 4], "1d (N, C, L) train")
        check(BatchNorm2d(2), [3, 2, 2, 3], "2d train")
        check(BatchNorm2d(2, affine: false), [3, 2, 2, 2], "2d affine off")
        let eval2 = BatchNorm2d(2); eval2.eval()
        check(eval2, [2, 2, 3, 2], "2d eval")
        let eval1 = BatchNorm1d(4); eval1.eval()
        check(eval1, [3, 4], "1d eval")
        let untracked = BatchNorm2d(2, trackRunningStats: false); untracked.eval()
        check(untracked, [2, 2, 2, 3], "2d tracking off, eval")
        let frozen = BatchNorm1d(3); frozen.freezeStatistics = true
        check(frozen, [4, 3], "1d frozen")
        check(BatchNorm1d(3, momentum: nil), [4, 3, 2], "1d cumulative")
    }
}
