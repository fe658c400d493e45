import Foundation
import XCTest

@testable import StrataCore
@testable import StrataNN
@testable import StrataTraining

// Modules written as a user writes them: stored properties, no lists. Their
// PyTorch twins are in Fixtures/make_module_fixtures.py.

/// torchvision's ResNet basic block, small.
final class BasicBlock: Module {
    var training = true
    let conv1: Conv2d
    let bn1: BatchNorm2d
    let relu = ReLU()
    let conv2: Conv2d
    let bn2: BatchNorm2d
    let downsample: Sequential?

    init(_ cin: Int, _ cout: Int, stride: Int = 1, generator g: RandomGenerator) {
        conv1 = Conv2d(cin, cout, kernelSize: 3, stride: Size2(stride), padding: 1, bias: false, generator: g)
        bn1 = BatchNorm2d(cout)
        conv2 = Conv2d(cout, cout, kernelSize: 3, padding: 1, bias: false, generator: g)
        bn2 = BatchNorm2d(cout)
        downsample =
            stride != 1 || cin != cout
            ? Sequential(Conv2d(cin, cout, kernelSize: 1, stride: Size2(stride), bias: false, generator: g), BatchNorm2d(cout))
            : nil
    }

    func forward(_ x: Tensor) -> Tensor {
        let identity = downsample.map { $0(x) } ?? x
        let out = bn2(conv2(relu(bn1(conv1(x)))))
        return relu(out + identity)
    }
}

/// A ResNet-like net: stem, an array stage, a Sequential stage, head.
final class SmallResNet: Module {
    var training = true
    let conv1: Conv2d
    let bn1 = BatchNorm2d(8)
    let relu = ReLU()
    let layer1: [BasicBlock]
    let layer2: Sequential
    let pool = AdaptiveAvgPool2d(outputSize: 1)
    let flatten = Flatten()
    let fc: Linear

    init(classes: Int = 10, generator g: RandomGenerator) {
        conv1 = Conv2d(3, 8, kernelSize: 3, padding: 1, bias: false, generator: g)
        layer1 = [BasicBlock(8, 8, generator: g), BasicBlock(8, 8, generator: g)]
        layer2 = Sequential(BasicBlock(8, 16, stride: 2, generator: g), BasicBlock(16, 16, generator: g))
        fc = Linear(16, classes, generator: g)
    }

    func forward(_ x: Tensor) -> Tensor {
        var h = relu(bn1(conv1(x)))
        for block in layer1 { h = block(h) }
        return fc(flatten(pool(layer2(h))))
    }
}

/// Own parameters, a buffer, a child, a parameter list, camelCase names and
/// things reflection must ignore.
final class Gated: Module {
    var training = true
    let gateScale = Tensor.ones([4], requiresGrad: true)
    @Buffer var runningScale = Tensor.ones([4])
    let proj: Linear
    let gains = [Tensor.ones([4], requiresGrad: true), Tensor.ones([2, 3], requiresGrad: true)]
    let offset = Tensor.zeros([1], requiresGrad: true)
    @Transient var cache: [String: Tensor] = ["last": Tensor.ones([1])]
    let label = "gated"
    let kernel: Size2 = 3
    let generator: RandomGenerator

    init(generator g: RandomGenerator) {
        proj = Linear(4, 4, generator: g)
        generator = g
    }

    func forward(_ x: Tensor) -> Tensor { proj(x * gateScale.reshaped([1, 4])) }
}

final class ModuleReflectionTests: XCTestCase {
    func fixture(_ name: String) throws -> [String: Any] {
        try XCTUnwrap(try loadFixture("module")[name] as? [String: Any], name)
    }

    /// [[key, shape]] from the fixture.
    func entries(_ case_: [String: Any], _ field: String) throws -> [[String]] {
        let list = try XCTUnwrap(case_[field] as? [[Any]], field)
        return list.map { ["\($0[0])", "\(($0[1] as? [Int]) ?? [-1])"] }
    }

    func entries(_ list: [(String, Tensor)]) -> [[String]] { list.map { [$0.0, "\($0.1.shape)"] } }

    func assertMatchesPyTorch(_ model: any Module, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try fixture(name)
        XCTAssertEqual(entries(model.stateDict()), try entries(f, "state_dict"), "\(name) state_dict", file: file, line: line)
        XCTAssertEqual(entries(model.namedParameters()), try entries(f, "parameters"), "\(name) parameters", file: file, line: line)
        XCTAssertEqual(model.parameterCount, f["parameter_count"] as? Int, "\(name) parameter count", file: file, line: line)
        XCTAssertEqual(model.description, f["repr"] as? String, "\(name) repr", file: file, line: line)
    }

    func testUserModulesHavePyTorchKeysShapesAndRepr() throws {
        let g = RandomGenerator(seed: 3)
        try assertMatchesPyTorch(BasicBlock(8, 16, stride: 2, generator: g), "block")
        try assertMatchesPyTorch(SmallResNet(generator: g), "resnet")
        try assertMatchesPyTorch(Gated(generator: g), "gated")
    }

    func testBuiltInLayersPrintAsPyTorch() throws {
        let zoo = Sequential(
            Conv2d(3, 16, kernelSize: 3, padding: 1, bias: false),
            Conv2d(16, 16, kernelSize: 3, stride: 2, padding: 2, dilation: 2, groups: 4),
            Conv2d(16, 8, kernelSize: [3, 5], padding: .same),
            Conv2d(8, 8, kernelSize: 1, padding: .valid),
            BatchNorm2d(8),
            BatchNorm2d(8, eps: 1e-3, momentum: nil, affine: false),
            InstanceNorm2d(8),
            InstanceNorm2d(8, affine: true, trackRunningStats: true),
            GroupNorm(numGroups: 2, numChannels: 8),
            MaxPool2d(kernelSize: 2),
            MaxPool2d(kernelSize: [2, 3], stride: 1, padding: 1),
            AvgPool2d(kernelSize: 2, stride: 1),
            AdaptiveAvgPool2d(outputSize: 1),
            AdaptiveAvgPool2d(outputSize: [2, 3]),
            ReLU(), LeakyReLU(), LeakyReLU(negativeSlope: 0.2), Sigmoid(), Tanh(), GELU(),
            Softmax(axis: -1), LogSoftmax(axis: 1), Dropout(), Dropout(p: 0.25), Flatten(),
            Linear(8, 4), Linear(4, 2, bias: false), BatchNorm1d(2),
            LayerNorm(normalizedShape: [8]), LayerNorm(normalizedShape: [4, 5], elementwiseAffine: false),
            Sequential())
        try assertMatchesPyTorch(zoo, "zoo")
        // The layers of issue 11 part 3.
        let newZoo = Sequential(
            SiLU(), ELU(), ELU(alpha: 0.5), Hardtanh(), Hardtanh(minValue: -2, maxValue: 3), ReLU6(),
            Hardswish(), Hardsigmoid(), Mish(), Softplus(), Softplus(beta: 2, threshold: 10),
            PReLU(), PReLU(numParameters: 4, initialValue: 0.1),
            ConvTranspose2d(4, 8, kernelSize: 3),
            ConvTranspose2d(8, 4, kernelSize: [3, 5], stride: 2, padding: 1, outputPadding: 1, groups: 2, bias: false, dilation: 2),
            Conv1d(4, 8, kernelSize: 3),
            Conv1d(8, 8, kernelSize: 5, stride: 2, padding: 2, dilation: 2, groups: 4, bias: false, paddingMode: .reflect),
            Conv1d(8, 4, kernelSize: 4, padding: .same, paddingMode: .circular),
            Conv2d(4, 4, kernelSize: 3, padding: 1, paddingMode: .replicate),
            Upsample(scaleFactor: 2),
            Upsample(scaleFactor: [1.5, 2.0], mode: .bilinear),
            Upsample(size: [5, 7], mode: .bilinear, alignCorners: true),
            Upsample(size: 6),
            AdaptiveMaxPool2d(outputSize: 1), AdaptiveMaxPool2d(outputSize: [2, 3]),
            MaxPool2d(kernelSize: 3, stride: 2, padding: 1, dilation: 2, ceilMode: true),
            AvgPool2d(kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false),
            InstanceNorm1d(4), InstanceNorm1d(4, eps: 1e-3, momentum: nil, affine: true, trackRunningStats: true),
            Identity(), Dropout2d(), Dropout2d(p: 0.2))
        try assertMatchesPyTorch(newZoo, "new_zoo")
        // Strata's own options show only where they differ from PyTorch.
        let bn = BatchNorm1d(4, unbiasedRunningVariance: false)
        bn.freezeStatistics = true
        XCTAssertEqual(
            bn.description,
            "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                + "track_running_stats=True, unbiased_running_variance=False, freeze_statistics=True)")
        XCTAssertEqual(
            BatchRenorm2d(4, rmax: 3, dmax: 5).description,
            "BatchRenorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True, rmax=3.0, dmax=5.0)")
    }

    /// Reflection over every built-in layer finds exactly what its explicit
    /// lists name, in the same order: a new layer that forgets a list fails here.
    func testReflectionAgreesWithBuiltInLists() throws {
        let layers: [any Module] = [
            Conv2d(2, 4, kernelSize: 3), Conv2d(2, 4, kernelSize: 3, bias: false), Linear(3, 2), Linear(3, 2, bias: false),
            BatchNorm1d(3), BatchNorm2d(3, affine: false), BatchNorm2d(3, trackRunningStats: false),
            BatchRenorm1d(3), BatchRenorm2d(3), InstanceNorm2d(3), InstanceNorm2d(3, affine: true, trackRunningStats: true),
            LayerNorm(normalizedShape: [3]), GroupNorm(numGroups: 1, numChannels: 3), MaxPool2d(kernelSize: 2),
            AvgPool2d(kernelSize: 2), AdaptiveAvgPool2d(outputSize: 1), ReLU(), LeakyReLU(), Sigmoid(), Tanh(), GELU(),
            Softmax(), LogSoftmax(), Flatten(), Dropout(),
            SiLU(), ELU(), Hardtanh(), ReLU6(), Hardswish(), Hardsigmoid(), Mish(), Softplus(), PReLU(), Identity(),
            Dropout2d(), ConvTranspose2d(2, 4, kernelSize: 3), ConvTranspose2d(2, 4, kernelSize: 3, bias: false),
            Conv1d(2, 4, kernelSize: 3), Conv1d(2, 4, kernelSize: 3, bias: false), Upsample(scaleFactor: 2),
            AdaptiveMaxPool2d(outputSize: 1),
        ]
        for layer in layers {
            let r = try reflectState(of: layer)
            let name = String(describing: type(of: layer))
            XCTAssertEqual((r.parameters + r.buffers).map(\.0), (layer.ownParameters + layer.ownBuffers).map(\.0), name)
            XCTAssertTrue(zip(r.parameters + r.buffers, layer.ownParameters + layer.ownBuffers).allSatisfy { $0.1 === $1.1 }, name)
            XCTAssertTrue(r.children.isEmpty && layer.children.isEmpty, name)
        }
        // Layers that wrap another layer list its tensors as their own, under
        // PyTorch's keys, with no nesting (reflection would see the inner layer as a child).
        let norm1d = InstanceNorm1d(3, affine: true, trackRunningStats: true)
        XCTAssertEqual(norm1d.stateDict().map(\.0), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        XCTAssertTrue(norm1d.children.isEmpty)
        XCTAssertEqual(Sequential(norm1d).namedModules().map(\.0), ["", "0"])
        XCTAssertEqual(InstanceNorm1d(3).stateDict().count, 0)
    }

    func testParametersBuffersAndOverrides() throws {
        let g = Gated(generator: RandomGenerator(seed: 1))
        XCTAssertTrue(same(g.ownParameters.map(\.1), [g.gateScale, g.offset]))
        XCTAssertTrue(same(g.ownBuffers.map(\.1), [g.runningScale]))
        XCTAssertEqual(g.children.map(\.0), ["proj", "gains"])
        // A frozen parameter keeps its key; the summary counts it as non-trainable.
        g.offset.requiresGrad = false
        XCTAssertEqual(g.stateDict().map(\.0), ["gate_scale", "offset", "running_scale", "proj.weight", "proj.bias", "gains.0", "gains.1"])
        XCTAssertTrue(g.summary().contains("Non-trainable params: 1\n"), g.summary())

        // An explicit ownBuffers makes a stored tensor a buffer, not also a parameter.
        final class Listed: Module {
            var training = true
            let weight = Tensor.ones([2], requiresGrad: true)
            let runningMean = Tensor.zeros([2])
            let inner = Linear(2, 2)
            var ownBuffers: [(String, Tensor)] { [("running_mean", runningMean)] }
            var children: [(String, any Module)] { [("renamed", inner)] }
            func forward(_ x: Tensor) -> Tensor { inner(x * weight.reshaped([1, 2])) }
        }
        XCTAssertEqual(Listed().stateDict().map(\.0), ["weight", "running_mean", "renamed.weight", "renamed.bias"])
    }

    func testReflectionStopsInsteadOfLosingState() {
        final class InDictionary: Module {
            var training = true
            let heads = ["a": Linear(2, 2)]
            func forward(_ x: Tensor) -> Tensor { x }
        }
        final class InTuple: Module {
            var training = true
            let pair = (Tensor.ones([1]), 3)
            func forward(_ x: Tensor) -> Tensor { x }
        }
        final class Lazy: Module {
            var training = true
            lazy var head = Linear(2, 2)
            func forward(_ x: Tensor) -> Tensor { head(x) }
        }
        final class SameKey: Module {
            var training = true
            let fcOut = Linear(2, 2)
            let fc_out = Linear(2, 2)
            func forward(_ x: Tensor) -> Tensor { x }
        }
        final class OptionalElements: Module {
            var training = true
            let blocks: [Linear?] = [Linear(2, 2), nil]
            func forward(_ x: Tensor) -> Tensor { x }
        }
        let cases: [(any Module, String)] = [
            (InDictionary(), "heads: a module or tensor inside a dictionary"),
            (InTuple(), "pair: a module or tensor inside a tuple"),
            (Lazy(), "Lazy.head: a lazy module or tensor"),
            (SameKey(), "the key \"fc_out\""),
            (OptionalElements(), "blocks[0]: an array element that is nil or optional"),
        ]
        for (module, expected) in cases {
            XCTAssertThrowsError(try reflectState(of: module)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    func testKeysAreSnakeCase() {
        XCTAssertEqual(pytorchKey("runningScale"), "running_scale")
        XCTAssertEqual(pytorchKey("downsampleBN"), "downsample_bn")
        XCTAssertEqual(pytorchKey("XMLHead"), "xml_head")
        XCTAssertEqual(pytorchKey("layer1"), "layer1")
        XCTAssertEqual(pytorchKey("conv_1"), "conv_1")
        XCTAssertEqual(pytorchKey("fc2Out"), "fc2_out")
    }

    func same(_ a: [Tensor], _ b: [Tensor]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { $0 === $1 } }

    func testOptimiserStepsEveryParameterOfAUserModule() throws {
        let g = RandomGenerator(seed: 7)
        let model = SmallResNet(classes: 4, generator: g)
        let params = model.parameters()
        XCTAssertEqual(params.count, model.namedParameters().count)
        // The PyTorch twin with 10 classes has the same tensors (32).
        XCTAssertEqual(params.count, try entries(try fixture("resnet"), "parameters").count)
        let before = params.map(\.scalars)
        let sgd = SGD(parameters: params, learningRate: 0.1)
        let loss = crossEntropy(model(Tensor.randn([2, 3, 8, 8], generator: g)), labels: [1, 3])
        loss.backward()
        sgd.step()
        for ((key, p), old) in zip(model.namedParameters(), before) {
            XCTAssertNotNil(p.grad, key)
            XCTAssertNotEqual(p.scalars, old, "\(key) was not stepped")
        }
        model.zeroGrad()
        XCTAssertTrue(params.allSatisfy { $0.grad == nil })
    }

    func testSummaryTable() throws {
        let model = SmallResNet(generator: RandomGenerator(seed: 2))
        let means = model.namedBuffers().map(\.1.scalars)
        let s = model.summary(inputShape: [1, 3, 8, 8])
        let lines = s.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        XCTAssertTrue(lines.contains("SmallResNet [1, 10] --"), s)
        XCTAssertTrue(lines.contains("layer1 (ModuleList) -- --"), s)
        XCTAssertTrue(lines.contains("layer2.0.downsample.0 (Conv2d) [1, 16, 4, 4] 128"), s)
        XCTAssertTrue(lines.contains("fc (Linear) [1, 10] 170"), s)
        let count = try XCTUnwrap(try fixture("resnet")["parameter_count"] as? Int)
        XCTAssertTrue(lines.contains("Total params: \(count / 1000),\(String(count % 1000).leftPadded(3))"), s)
        XCTAssertTrue(lines.contains("Non-trainable params: 0"), s)
        // The forward ran in eval mode, and the modes and running statistics are as before.
        XCTAssertTrue(model.namedModules().allSatisfy(\.1.training))
        XCTAssertEqual(model.namedBuffers().map(\.1.scalars), means)
        XCTAssertFalse(model.summary().contains("[1, 10]"))
    }

    func testNaNGuardNamesTheFirstBadModuleOfACustomModel() throws {
        let g = RandomGenerator(seed: 4)
        let model = SmallResNet(generator: g)
        let x = Tensor.randn([2, 3, 8, 8], generator: g)
        _ = try NaNGuard.forward(model, x)
        let buffers = model.namedBuffers().map(\.1.scalars)
        model.layer1[1].conv2.weight.data[0] = .nan
        XCTAssertThrowsError(try NaNGuard.forward(model, x)) { error in
            let e = error as! NonFiniteError
            XCTAssertEqual(e.kind, .output)
            XCTAssertEqual(e.name, "layer1.1.conv2")
            XCTAssertEqual(e.layerType, "Conv2d")
        }
        // Every running statistic is as before the failed pass.
        XCTAssertEqual(model.namedBuffers().map(\.1.scalars), buffers)

        // Values that go bad in a module's own code between its children name that module.
        final class Blowup: Module {
            var training = true
            let fc1 = Linear(3, 3, generator: RandomGenerator(seed: 5))
            let fc2 = Linear(3, 2, generator: RandomGenerator(seed: 6))
            func forward(_ x: Tensor) -> Tensor { fc2(fc1(x) * .infinity) }
        }
        let outer = Sequential(Linear(4, 3, generator: g), Blowup())
        XCTAssertThrowsError(try NaNGuard.forward(outer, Tensor.randn([2, 4], generator: g))) { error in
            XCTAssertEqual((error as! NonFiniteError).name, "1")
            XCTAssertEqual((error as! NonFiniteError).layerType, "Blowup")
        }
    }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
