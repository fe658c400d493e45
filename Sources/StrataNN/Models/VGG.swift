import StrataCore

/// torchvision's VGG (Simonyan & Zisserman 2015, arXiv:1409.1556), with or
/// without BatchNorm, same module names, state_dict keys and initialisation.
///
/// - Input [N, inChannels, H, W] with H, W >= 32 (five 2x2 max-poolings),
///   output logits [N, numClasses].
/// - `features`: Sequential of Conv2d(3x3, padding 1) [+ BatchNorm2d] + ReLU
///   per configuration entry and MaxPool2d(2, 2) per pooling entry; keys
///   `features.0.weight`, `features.1.running_mean`, ... at torchvision's
///   indices. `avgpool`: AdaptiveAvgPool2d to 7x7 (a 1x1 map from a 32x32
///   input is repeated, as PyTorch does). `classifier`: Linear(C*7*7,
///   hidden), ReLU, Dropout, Linear(hidden, hidden), ReLU, Dropout,
///   Linear(hidden, numClasses); keys `classifier.0.*`, `.3.*`, `.6.*`.
/// - `baseWidth` scales every convolution (64 in the paper: 64, 128, 256,
///   512 channels; 8 gives 8, 16, 32, 64) and `hiddenFeatures` is the width
///   of the two hidden Linear layers (4096). Neither is a torchvision
///   argument; a narrower net keeps the keys (the tests use one).
/// - Initialisation as torchvision: Conv2d Kaiming normal (fan_out, ReLU
///   gain) with zero bias, BatchNorm 1 and 0, Linear N(0, 0.01) with zero bias.
public final class VGG: Module {
    public var training = true
    public let features: Sequential
    public let avgpool = AdaptiveAvgPool2d(outputSize: 7)
    public let classifier: Sequential

    /// The layer lists of the paper's Table 1: channels of each 3x3
    /// convolution, nil for a 2x2 max-pooling.
    public enum Configuration: String, CaseIterable, Sendable {
        /// VGG-11 (torchvision's "A").
        case a
        /// VGG-13 ("B").
        case b
        /// VGG-16 ("D").
        case d
        /// VGG-19 ("E").
        case e

        public var layers: [Int?] {
            switch self {
            case .a: return [64, nil, 128, nil, 256, 256, nil, 512, 512, nil, 512, 512, nil]
            case .b: return [64, 64, nil, 128, 128, nil, 256, 256, nil, 512, 512, nil, 512, 512, nil]
            case .d: return [64, 64, nil, 128, 128, nil, 256, 256, 256, nil, 512, 512, 512, nil, 512, 512, 512, nil]
            case .e: return [64, 64, nil, 128, 128, nil, 256, 256, 256, 256, nil, 512, 512, 512, 512, nil, 512, 512, 512, 512, nil]
            }
        }
    }

    /// torchvision's `VGG(make_layers(cfg, batch_norm), num_classes, dropout=...)`.
    public init(
        configuration: Configuration, batchNorm: Bool, numClasses: Int = 1000, inChannels: Int = 3,
        dropout: Float = 0.5, baseWidth: Int = 64, hiddenFeatures: Int = 4096,
        generator: RandomGenerator = .global
    ) {
        strataCheck(
            numClasses > 0 && inChannels > 0 && baseWidth > 0 && hiddenFeatures > 0,
            "VGG: numClasses \(numClasses), inChannels \(inChannels), baseWidth \(baseWidth) and "
                + "hiddenFeatures \(hiddenFeatures) must be positive")
        var layers: [any Module] = []
        var channels = inChannels
        for entry in configuration.layers {
            guard let width = entry.map({ $0 * baseWidth / 64 }) else {
                layers.append(MaxPool2d(kernelSize: 2, stride: 2))
                continue
            }
            layers.append(Conv2d(channels, width, kernelSize: 3, padding: 1, generator: generator))
            if batchNorm { layers.append(BatchNorm2d(width)) }
            layers.append(ReLU())
            channels = width
        }
        features = Sequential(layers)
        classifier = Sequential(
            Linear(channels * 7 * 7, hiddenFeatures, generator: generator), ReLU(), Dropout(p: dropout, generator: generator),
            Linear(hiddenFeatures, hiddenFeatures, generator: generator), ReLU(), Dropout(p: dropout, generator: generator),
            Linear(hiddenFeatures, numClasses, generator: generator))
        for (_, m) in namedModules() {
            if let conv = m as? Conv2d {
                Init.kaimingNormal(conv.weight, nonlinearity: .relu, fanOutMode: true, generator: generator)
                conv.bias.map(Init.zeros)
            } else if let linear = m as? Linear {
                Init.normal(linear.weight, std: 0.01, generator: generator)
                linear.bias.map(Init.zeros)
            }
        }
    }

    /// torchvision's `vgg11_bn(num_classes=...)`: 132,868,840 parameters at 1000 classes.
    public static func vgg11BN(
        numClasses: Int = 1000, inChannels: Int = 3, dropout: Float = 0.5,
        baseWidth: Int = 64, hiddenFeatures: Int = 4096,
        generator: RandomGenerator = .global
    ) -> VGG {
        VGG(
            configuration: .a, batchNorm: true, numClasses: numClasses, inChannels: inChannels, dropout: dropout,
            baseWidth: baseWidth, hiddenFeatures: hiddenFeatures, generator: generator)
    }

    public func forward(_ x: Tensor) -> Tensor {
        classifier(avgpool(features(x)).flattened())
    }
}
