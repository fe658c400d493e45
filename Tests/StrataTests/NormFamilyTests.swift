import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// LayerNorm, GroupNorm, InstanceNorm2d, BatchRenorm.
final class NormFamilyTests: XCTestCase {
    // MARK: PyTorch reference values

    func testLayerNormMatchesPyTorch() throws {
        try runNormFixture("layernorm", LayerNorm(normalizedShape: [4, 5]))
        try runNormFixture("layernorm_no_affine", LayerNorm(normalizedShape: [6], elementwiseAffine: false))
    }

    func testGroupNormMatchesPyTorch() throws {
        try runNormFixture("groupnorm", GroupNorm(numGroups: 2, numChannels: 6))
        try runNormFixture("groupnorm_no_affine", GroupNorm(numGroups: 3, numChannels: 3, affine: false))
    }

    func testInstanceNormMatchesPyTorch() throws {
        try runNormFixture("instancenorm", InstanceNorm2d(3))
        try runNormFixture("instancenorm_tracking", InstanceNorm2d(3, affine: true, trackRunningStats: true))
    }

    func testKeysAndDefaultsMatchPyTorch() {
        XCTAssertEqual(LayerNorm(normalizedShape: [3, 2]).stateDict().map(\.0), ["weight", "bias"])
        XCTAssertEqual(LayerNorm(normalizedShape: [3, 2]).weight!.shape, [3, 2])
        XCTAssertEqual(GroupNorm(numGroups: 2, numChannels: 4).stateDict().map(\.0), ["weight", "bias"])
        let inorm = InstanceNorm2d(3)
        XCTAssertTrue(inorm.stateDict().isEmpty)
        XCTAssertEqual(inorm.eps, 1e-5); XCTAssertEqual(inorm.momentum, 0.1)
        XCTAssertFalse(inorm.affine); XCTAssertFalse(inorm.trackRunningStats)
        XCTAssertEqual(
            InstanceNorm2d(3, affine: true, trackRunningStats: true).stateDict().map(\.0),
            ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        XCTAssertEqual(BatchRenorm2d(3).stateDict().map(\.0), BatchNorm2d(3).stateDict().map(\.0))
    }

    func testValidationMessages() {
        XCTAssertThrowsError(try LayerNorm(normalizedShape: [4]).validate(inputShape: [2, 5])) { error in
            XCTAssertEqual("\(error)", "LayerNorm([4]): expected input of shape [*, 4], got [2, 5]")
        }
        XCTAssertThrowsError(try GroupNorm(numGroups: 2, numChannels: 4).validate(inputShape: [2, 6, 3])) { error in
            XCTAssertEqual("\(error)", "GroupNorm(2, 4): expected input of shape [N, 4, *], got [2, 6, 3]")
        }
        XCTAssertThrowsError(try InstanceNorm2d(2).validate(inputShape: [3, 2, 1, 1])) { error in
            XCTAssertEqual(
                "\(error)", "InstanceNorm2d(2): expected more than 1 spatial element when training, got input of shape [3, 2, 1, 1]")
        }
    }

    // MARK: Properties

    func testGroupNormWithOneGroupPerChannelIsInstanceNorm() {
        let x = Tensor.randn([2, 4, 3, 5], mean: 2, std: 3, generator: RandomGenerator(seed: 7))
        let gn = GroupNorm(numGroups: 4, numChannels: 4, affine: false)
        assertClose(gn(x).scalars, InstanceNorm2d(4)(x).scalars, rtol: 1e-5, atol: 1e-5)
        // One group: LayerNorm over (C, H, W) without affine.
        let gn1 = GroupNorm(numGroups: 1, numChannels: 4, affine: false)
        let ln = LayerNorm(normalizedShape: [4, 3, 5], elementwiseAffine: false)
        assertClose(gn1(x).scalars, ln(x).scalars, rtol: 1e-5, atol: 1e-5)
    }

    func testLayerNormLargeMeanAndBatchIndependence() {
        let x = Tensor.randn([3, 300], mean: 1e4, std: 1, generator: RandomGenerator(seed: 8))
        let ln = LayerNorm(normalizedShape: [300])
        let y = ln(x)
        for r in 0..<3 {
            let row = (0..<300).map { Double(y[r, $0]) }
            let mean = row.reduce(0, +) / 300
            XCTAssertEqual(row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 300, 1, accuracy: 1e-3)
        }
        assertClose(ln(x.rows([1])).scalars, Array(y.scalars[300..<600]), rtol: 0, atol: 0)
    }

    // MARK: Gradient checks

    func testGradCheckFamily() {
        let gen = RandomGenerator(seed: 50)
        func randomise(_ m: any Module) {
            for p in m.parameters() { p.assign(Tensor.randn(p.shape, mean: 1, std: 0.5, generator: gen)) }
        }
        let ln = LayerNorm(normalizedShape: [3, 4]); randomise(ln)
        assertGradCheck(gradCheck(ln, input: Tensor.randn([2, 3, 4], generator: gen), rtol: 2e-2, atol: 2e-3), "LayerNorm")
        let lnPlain = LayerNorm(normalizedShape: [5], elementwiseAffine: false)
        assertGradCheck(gradCheck(lnPlain, input: Tensor.randn([3, 5], generator: gen), rtol: 2e-2, atol: 2e-3), "LayerNorm no affine")
        let gn = GroupNorm(numGroups: 2, numChannels: 4); randomise(gn)
        assertGradCheck(gradCheck(gn, input: Tensor.randn([2, 4, 2, 3], generator: gen), rtol: 2e-2, atol: 2e-3), "GroupNorm")
        let gn1d = GroupNorm(numGroups: 3, numChannels: 6, affine: false)
        assertGradCheck(gradCheck(gn1d, input: Tensor.randn([2, 6, 3], generator: gen), rtol: 2e-2, atol: 2e-3), "GroupNorm 1d")
        let inorm = InstanceNorm2d(2)
        assertGradCheck(gradCheck(inorm, input: Tensor.randn([2, 2, 3, 3], generator: gen), rtol: 2e-2, atol: 2e-3), "InstanceNorm")
        let inAffine = InstanceNorm2d(3, affine: true, trackRunningStats: true); randomise(inAffine)
        assertGradCheck(
            gradCheck(inAffine, input: Tensor.randn([2, 3, 2, 3], generator: gen), rtol: 2e-2, atol: 2e-3), "InstanceNorm affine train")
        inAffine.eval()
        assertGradCheck(
            gradCheck(inAffine, input: Tensor.randn([2, 3, 2, 3], generator: gen), rtol: 2e-2, atol: 2e-3), "InstanceNorm affine eval")
    }

    // MARK: Batch Renormalization

    func testBatchRenormWithDefaultLimitsIsBatchNorm() {
        let x = Tensor.randn([4, 3, 2, 2], mean: 1, std: 2, generator: RandomGenerator(seed: 60))
        let brn = BatchRenorm2d(3), bn = BatchNorm2d(3)
        for _ in 0..<2 { assertClose(brn(x).scalars, bn(x).scalars, rtol: 0, atol: 0) }
        XCTAssertEqual(brn.runningVar!.scalars, bn.runningVar!.scalars)
        brn.eval(); bn.eval()
        assertClose(brn(x).scalars, bn(x).scalars, rtol: 0, atol: 0)
    }

    func testBatchRenormForwardAndRunningStatistics() {
        let brn = BatchRenorm1d(3, rmax: 1.5, dmax: 0.5)
        brn.weight!.assign(Tensor([1.5, 0.5, 2])); brn.bias!.assign(Tensor([0.1, -0.2, 0.3]))
        brn.runningMean!.assign(Tensor([0.8, 5, 0.9])); brn.runningVar!.assign(Tensor([3, 4, 0.5]))
        let x = Tensor.randn([8, 3], mean: 1, std: 2, generator: RandomGenerator(seed: 61))
        let y = brn(x)
        let rm0: [Double] = [0.8, 5, 0.9], rv0: [Double] = [3, 4, 0.5]
        for c in 0..<3 {
            let col = (0..<8).map { Double(x[$0, c]) }
            let mu = col.reduce(0, +) / 8, v = col.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / 8
            let sigmaB = (v + 1e-5).squareRoot(), sigma = (rv0[c] + 1e-5).squareRoot()
            let r = min(max(sigmaB / sigma, 1 / 1.5), 1.5), d = min(max((mu - rm0[c]) / sigma, -0.5), 0.5)
            let g = Double(brn.weight!.data[c]), b = Double(brn.bias!.data[c])
            for i in 0..<8 { XCTAssertEqual(Double(y[i, c]), g * ((col[i] - mu) / sigmaB * r + d) + b, accuracy: 1e-4) }
            XCTAssertEqual(Double(brn.runningMean!.data[c]), 0.9 * rm0[c] + 0.1 * mu, accuracy: 1e-5)
            XCTAssertEqual(Double(brn.runningVar!.data[c]), 0.9 * rv0[c] + 0.1 * v * 8 / 7, accuracy: 1e-5)
        }
        brn.setSchedule(step: 0); XCTAssertEqual(brn.rmax, 1); XCTAssertEqual(brn.dmax, 0)
        brn.setSchedule(step: 40000); XCTAssertEqual(brn.rmax, 3); XCTAssertEqual(brn.dmax, 5)
    }

    func testGradCheckBatchRenormWithClippedCorrections() {
        // Running statistics far from the batch's, so r and d sit at their
        // clips and stay constant under the finite-difference steps (the
        // gradient treats them as constants). momentum 0 keeps the running
        // statistics fixed across the repeated forwards.
        for (k, shape) in [[6, 3], [3, 3, 2, 2]].enumerated() {
            let gen = RandomGenerator(seed: UInt64(70 + k))
            let brn: BatchRenormBase =
                shape.count == 2
                ? BatchRenorm1d(3, momentum: 0, rmax: 2, dmax: 0.5)
                : BatchRenorm2d(3, momentum: 0, rmax: 2, dmax: 0.5)
            brn.weight!.assign(Tensor.randn([3], mean: 1, std: 0.3, generator: gen))
            brn.bias!.assign(Tensor.randn([3], generator: gen))
            brn.runningMean!.assign(Tensor([50, -50, 50]))
            brn.runningVar!.assign(Tensor([400, 0.01, 400]))
            assertGradCheck(gradCheck(brn, input: Tensor.randn(shape, generator: gen), rtol: 2e-2, atol: 2e-3), "renorm \(shape)")
        }
    }

    // MARK: Folding

    func testFoldingLinearBatchNormMatchesEvalOutput() {
        let gen = RandomGenerator(seed: 80)
        let inner = Sequential(Linear(5, 4, generator: gen), BatchNorm1d(4))
        let model = Sequential(
            Linear(6, 5, generator: gen), BatchNorm1d(5), ReLU(), inner,
            Linear(4, 3, bias: false, generator: gen), BatchNorm1d(3, momentum: nil))
        for bn in model.namedModules().compactMap({ $0.1 as? BatchNormBase }) {
            bn.weight!.assign(Tensor.randn(bn.weight!.shape, mean: 1, std: 0.5, generator: gen))
            bn.bias!.assign(Tensor.randn(bn.bias!.shape, generator: gen))
        }
        for _ in 0..<4 { _ = model(Tensor.randn([16, 6], mean: 0.5, std: 2, generator: gen)) }
        model.eval()
        let folded = foldBatchNorm(model)
        XCTAssertEqual(folded.layers.count, 4)
        XCTAssertTrue(folded.namedModules().allSatisfy { !($0.1 is BatchNormBase) })
        let x = Tensor.randn([7, 6], generator: gen)
        assertClose(folded(x).scalars, model(x).scalars, rtol: 1e-5, atol: 1e-5)
    }

    func testFoldingTensorMathOnConvShapedWeight() {
        // [out, in, kh, kw]: every row of out is scaled by gamma/sqrt(var+eps).
        let bn = BatchNorm2d(2, eps: 1e-3)
        bn.weight!.assign(Tensor([2, -1])); bn.bias!.assign(Tensor([0.5, 1]))
        bn.runningMean!.assign(Tensor([1, -2])); bn.runningVar!.assign(Tensor([3.999, 0.249]))
        let w = Tensor.randn([2, 3, 2, 2], generator: RandomGenerator(seed: 81))
        let (fw, fb) = foldBatchNorm(weight: w, bias: Tensor([0.25, 0]), into: bn)
        let s: [Float] = [2 / 2, -1 / 0.5]
        for i in 0..<w.count { XCTAssertEqual(fw.data[i], w.data[i] * s[i / 12], accuracy: 1e-6) }
        assertClose(fb.scalars, [1 * (0.25 - 1) + 0.5, -2 * (0 + 2) + 1], rtol: 1e-6, atol: 1e-6)
        let (_, nb) = foldBatchNorm(weight: w, bias: nil, into: bn)
        assertClose(nb.scalars, [1 * (0 - 1) + 0.5, -2 * (0 + 2) + 1], rtol: 1e-6, atol: 1e-6)
    }

    // MARK: Precise BN

    func testPreciseBatchNormRecomputesPopulationStatistics() {
        let gen = RandomGenerator(seed: 90)
        let lin = Linear(4, 3, generator: gen), bn = BatchNorm1d(3, momentum: 0.3)
        let model = Sequential(lin, bn)
        for _ in 0..<3 { _ = model(Tensor.randn([8, 4], generator: gen)) }
        bn.freezeStatistics = true
        model.eval()
        let batches = (0..<5).map { _ in Tensor.randn([10, 4], mean: 1, std: 2, generator: gen) }
        lin.weight.grad = nil
        XCTAssertEqual(recomputeBatchNormStatistics(model, batches: batches), 5)
        var meanSum = [Double](repeating: 0, count: 3), varSum = meanSum
        for b in batches {
            let z = withNoGrad { lin(b) }
            for c in 0..<3 {
                let col = (0..<10).map { Double(z[$0, c]) }
                let mu = col.reduce(0, +) / 10
                meanSum[c] += mu
                varSum[c] += col.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / 9
            }
        }
        assertClose(bn.runningMean!.scalars, meanSum.map { Float($0 / 5) }, rtol: 1e-5, atol: 1e-5)
        assertClose(bn.runningVar!.scalars, varSum.map { Float($0 / 5) }, rtol: 1e-5, atol: 1e-5)
        XCTAssertEqual(bn.numBatchesTracked!.item, 5)
        XCTAssertEqual(bn.momentum, 0.3)
        XCTAssertTrue(bn.freezeStatistics)
        XCTAssertTrue(model.namedModules().allSatisfy { !$0.1.training })
        XCTAssertNil(lin.weight.grad)
    }

    /// Conv2d -> BatchNorm2d pairs (with and without conv bias, strided,
    /// grouped) fold into one Conv2d whose output equals the eval output.
    func testFoldBatchNormIntoConv2d() {
        let g = RandomGenerator(seed: 31)
        let model = Sequential(
            Conv2d(inputChannels: 2, outputChannels: 4, kernelSize: 3, padding: 1, generator: g), BatchNorm2d(4), ReLU(),
            Conv2d(inputChannels: 4, outputChannels: 6, kernelSize: [3, 2], stride: 2, groups: 2, bias: false, generator: g),
            BatchNorm2d(6))
        // A few train steps give the BatchNorms non-trivial statistics; random affine parameters too.
        for _ in 0..<3 { _ = model(Tensor.randn([4, 2, 9, 8], mean: 1, std: 2, generator: g)) }
        for case let bn as BatchNorm2d in model.layers {
            bn.weight?.assign(Tensor.rand([bn.numFeatures], low: 0.5, high: 2, generator: g))
            bn.bias?.assign(Tensor.randn([bn.numFeatures], generator: g))
        }
        model.eval()
        let folded = foldBatchNorm(model)
        XCTAssertEqual(folded.layers.count, 3)
        XCTAssertTrue(folded.layers[0] is Conv2d && folded.layers[2] is Conv2d)
        let x = Tensor.randn([3, 2, 9, 8], generator: g)
        let expected = withNoGrad { model(x) }
        assertClose(withNoGrad { folded(x) }.scalars, expected.scalars, rtol: 1e-5, atol: 1e-5)
    }
}
