import StrataCore

/// The ResNets for 32x32 inputs of He et al. 2016 (arXiv:1512.03385, §4.2):
/// ResNet-20, -32, -44, -56, -110 for CIFAR-10 and similar data.
///
/// - Input [N, inChannels, 32, 32] (other sizes work: the head pools
///   globally), output logits [N, numClasses].
/// - depth = 6n + 2: a 3x3 convolution of 16 channels, three stages of n
///   basic blocks with 16, 32 and 64 channels (the second and third start
///   with stride 2), global average pooling and a fully connected layer.
/// - Shortcuts that change shape are 1x1 projections with BatchNorm (the
///   paper's option B; its CIFAR table used option A, zero padding, which
///   has no parameters), the others identities.
/// - Module names follow torchvision's ResNet so the keys read the same:
///   `conv1`, `bn1`, `relu`, `layer1`...`layer3` (Sequential of
///   `BasicBlock`: `layer2.0.downsample.0.weight`, ...), `avgpool`, `fc`.
///   There is no `maxpool`: the 32x32 stem does not pool.
/// - `baseWidth` is the first stage's width (16 in the paper; the stages use
///   1x, 2x, 4x). The tests use narrower nets for speed; the keys are the
///   same.
/// - Initialisation as torchvision's ResNet: Kaiming normal (fan_out, ReLU
///   gain) convolutions, BatchNorm 1 and 0, PyTorch's Linear default.
public final class CIFARResNet: Module {
    public var training = true
    public let conv1: Conv2d
    public let bn1: BatchNorm2d
    public let relu = ReLU()
    public let layer1: Sequential
    public let layer2: Sequential
    public let layer3: Sequential
    public let avgpool = AdaptiveAvgPool2d(outputSize: 1)
    public let fc: Linear

    /// `depth` must be 6n + 2 (20, 32, 44, 56, 110, ...).
    public init(
        depth: Int, numClasses: Int = 10, inChannels: Int = 3, baseWidth: Int = 16,
        zeroInitResidual: Bool = false, generator: RandomGenerator = .global
    ) {
        strataCheck(depth >= 8 && (depth - 2) % 6 == 0, "CIFARResNet: depth must be 6n + 2 (20, 32, 56, ...), got \(depth)")
        strataCheck(
            numClasses > 0 && inChannels > 0 && baseWidth > 0,
            "CIFARResNet: numClasses \(numClasses), inChannels \(inChannels) and baseWidth \(baseWidth) must be positive")
        let n = (depth - 2) / 6
        conv1 = Conv2d(inChannels, baseWidth, kernelSize: 3, padding: 1, bias: false, generator: generator)
        bn1 = BatchNorm2d(baseWidth)
        let stages = makeResNetStages(
            blocks: [n, n, n], widths: [baseWidth, 2 * baseWidth, 4 * baseWidth],
            inPlanes: baseWidth, firstStride: 1, generator: generator)
        (layer1, layer2, layer3) = (stages[0], stages[1], stages[2])
        fc = Linear(4 * baseWidth, numClasses, generator: generator)
        initializeResNet(self, zeroInitResidual: zeroInitResidual, generator: generator)
    }

    /// ResNet-20 (n = 3): 272,474 parameters at 10 classes.
    public static func resnet20(
        numClasses: Int = 10, inChannels: Int = 3, baseWidth: Int = 16,
        generator: RandomGenerator = .global
    ) -> CIFARResNet {
        CIFARResNet(depth: 20, numClasses: numClasses, inChannels: inChannels, baseWidth: baseWidth, generator: generator)
    }

    /// ResNet-32 (n = 5).
    public static func resnet32(
        numClasses: Int = 10, inChannels: Int = 3, baseWidth: Int = 16,
        generator: RandomGenerator = .global
    ) -> CIFARResNet {
        CIFARResNet(depth: 32, numClasses: numClasses, inChannels: inChannels, baseWidth: baseWidth, generator: generator)
    }

    /// ResNet-56 (n = 9).
    public static func resnet56(
        numClasses: Int = 10, inChannels: Int = 3, baseWidth: Int = 16,
        generator: RandomGenerator = .global
    ) -> CIFARResNet {
        CIFARResNet(depth: 56, numClasses: numClasses, inChannels: inChannels, baseWidth: baseWidth, generator: generator)
    }

    public func forward(_ x: Tensor) -> Tensor {
        let h = layer3(layer2(layer1(fusedBatchNorm(bn1, conv1(x), relu: relu))))
        return fc(avgpool(h).flattened())
    }
}
