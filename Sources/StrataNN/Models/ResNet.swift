import StrataCore

/// ResNet's basic block (He et al. 2016, arXiv:1512.03385, Fig. 2), as
/// torchvision writes it: two 3x3 convolutions with BatchNorm, the shortcut
/// added before the last ReLU.
///
/// - Input [N, inPlanes, H, W], output [N, planes, H/stride, W/stride].
/// - `downsample` is the projection shortcut Sequential(Conv2d 1x1 with
///   `stride`, BatchNorm2d) when the shape changes (option B of the paper),
///   nil otherwise; keys `conv1.weight`, `bn1.*`, `conv2.weight`, `bn2.*`,
///   `downsample.0.weight`, `downsample.1.*`, as torchvision's.
/// - `relu` is one module called twice, as in torchvision.
public final class BasicBlock: Module {
    public var training = true
    public let conv1: Conv2d
    public let bn1: BatchNorm2d
    public let relu = ReLU()
    public let conv2: Conv2d
    public let bn2: BatchNorm2d
    public let downsample: Sequential?

    /// torchvision's `BasicBlock(inplanes, planes, stride)`; the shortcut is
    /// projected when `stride != 1` or `inPlanes != planes`.
    public init(_ inPlanes: Int, _ planes: Int, stride: Int = 1, generator: RandomGenerator = .global) {
        conv1 = Conv2d(inPlanes, planes, kernelSize: 3, stride: Size2(stride), padding: 1, bias: false, generator: generator)
        bn1 = BatchNorm2d(planes)
        conv2 = Conv2d(planes, planes, kernelSize: 3, padding: 1, bias: false, generator: generator)
        bn2 = BatchNorm2d(planes)
        downsample =
            stride != 1 || inPlanes != planes
            ? Sequential(
                Conv2d(inPlanes, planes, kernelSize: 1, stride: Size2(stride), bias: false, generator: generator),
                BatchNorm2d(planes))
            : nil
    }

    public func forward(_ x: Tensor) -> Tensor {
        // relu(bn2(conv2(relu(bn1(conv1(x))))) + identity), BatchNorm, add and ReLU fused.
        let identity = downsample.map { $0(x) } ?? x
        let h = fusedBatchNorm(bn1, conv1(x), relu: relu)
        return fusedBatchNorm(bn2, conv2(h), adding: identity, relu: relu)
    }
}

/// torchvision's ResNet with basic blocks (ResNet-18 and ResNet-34), same
/// module names, state_dict keys and initialisation.
///
/// - Input [N, inChannels, H, W] (ImageNet: 224x224; any size >= 32 works,
///   the head pools globally), output logits [N, numClasses].
/// - Modules: `conv1` (7x7, stride 2), `bn1`, `relu`, `maxpool` (3x3,
///   stride 2, padding 1), `layer1`...`layer4` (Sequential of `BasicBlock`,
///   the first block of layers 2-4 with stride 2 and a projection
///   `downsample`), `avgpool` (AdaptiveAvgPool2d to 1x1), `fc`.
/// - `baseWidth` is the channel count of conv1 and layer1 (64 in the paper;
///   layers 2-4 use 2x, 4x, 8x). It is not a torchvision argument: a
///   narrower net has the same keys with smaller shapes (the tests use 8).
/// - Initialisation as torchvision: convolutions Kaiming normal (fan_out,
///   ReLU gain), BatchNorm weight 1 and bias 0, `fc` PyTorch's Linear
///   default; `zeroInitResidual` zeroes each block's `bn2.weight`.
public final class ResNet: Module {
    public var training = true
    public let conv1: Conv2d
    public let bn1: BatchNorm2d
    public let relu = ReLU()
    public let maxpool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
    public let layer1: Sequential
    public let layer2: Sequential
    public let layer3: Sequential
    public let layer4: Sequential
    public let avgpool = AdaptiveAvgPool2d(outputSize: 1)
    public let fc: Linear

    /// `layers`: blocks per stage, four entries ([2, 2, 2, 2] is ResNet-18).
    public init(
        layers: [Int], numClasses: Int = 1000, inChannels: Int = 3, baseWidth: Int = 64,
        zeroInitResidual: Bool = false, generator: RandomGenerator = .global
    ) {
        strataCheck(
            layers.count == 4 && layers.allSatisfy { $0 > 0 },
            "ResNet: layers must be four positive block counts, got \(layers)")
        strataCheck(
            numClasses > 0 && inChannels > 0 && baseWidth > 0,
            "ResNet: numClasses \(numClasses), inChannels \(inChannels) and baseWidth \(baseWidth) must be positive")
        conv1 = Conv2d(inChannels, baseWidth, kernelSize: 7, stride: 2, padding: 3, bias: false, generator: generator)
        bn1 = BatchNorm2d(baseWidth)
        let stages = makeResNetStages(
            blocks: layers, widths: (0..<4).map { baseWidth << $0 },
            inPlanes: baseWidth, firstStride: 1, generator: generator)
        (layer1, layer2, layer3, layer4) = (stages[0], stages[1], stages[2], stages[3])
        fc = Linear(baseWidth * 8, numClasses, generator: generator)
        initializeResNet(self, zeroInitResidual: zeroInitResidual, generator: generator)
    }

    /// torchvision's `resnet18(num_classes=...)`: 11,689,512 parameters at 1000 classes.
    public static func resnet18(
        numClasses: Int = 1000, inChannels: Int = 3, baseWidth: Int = 64,
        generator: RandomGenerator = .global
    ) -> ResNet {
        ResNet(layers: [2, 2, 2, 2], numClasses: numClasses, inChannels: inChannels, baseWidth: baseWidth, generator: generator)
    }

    /// torchvision's `resnet34(num_classes=...)`: 21,797,672 parameters at 1000 classes.
    public static func resnet34(
        numClasses: Int = 1000, inChannels: Int = 3, baseWidth: Int = 64,
        generator: RandomGenerator = .global
    ) -> ResNet {
        ResNet(layers: [3, 4, 6, 3], numClasses: numClasses, inChannels: inChannels, baseWidth: baseWidth, generator: generator)
    }

    public func forward(_ x: Tensor) -> Tensor {
        var h = maxpool(fusedBatchNorm(bn1, conv1(x), relu: relu))
        h = layer4(layer3(layer2(layer1(h))))
        return fc(avgpool(h).flattened())
    }
}

/// The stages of a basic-block ResNet: stage i has `blocks[i]` blocks of
/// `widths[i]` channels; every stage after the first starts with stride 2
/// (the first with `firstStride`), its first block projecting the shortcut.
func makeResNetStages(
    blocks: [Int], widths: [Int], inPlanes: Int, firstStride: Int,
    generator: RandomGenerator
) -> [Sequential] {
    var planesIn = inPlanes
    return zip(blocks, widths).enumerated().map { i, stage in
        let (count, width) = stage
        var list: [any Module] = []
        for b in 0..<count {
            let stride = b > 0 ? 1 : (i == 0 ? firstStride : 2)
            list.append(BasicBlock(planesIn, width, stride: stride, generator: generator))
            planesIn = width
        }
        return Sequential(list)
    }
}

/// torchvision's ResNet initialisation: every Conv2d Kaiming normal
/// (fan_out, ReLU gain), every BatchNorm2d weight 1 and bias 0 (their
/// defaults), and with `zeroInitResidual` each block's `bn2.weight` 0.
func initializeResNet(_ model: any Module, zeroInitResidual: Bool, generator: RandomGenerator) {
    for (_, m) in model.namedModules() {
        if let conv = m as? Conv2d {
            Init.kaimingNormal(conv.weight, nonlinearity: .relu, fanOutMode: true, generator: generator)
        } else if zeroInitResidual, let block = m as? BasicBlock, let gamma = block.bn2.weight {
            Init.zeros(gamma)
        }
    }
}
