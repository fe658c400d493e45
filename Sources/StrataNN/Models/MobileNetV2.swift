import StrataCore

/// torchvision's `Conv2dNormActivation`: Conv2d (no bias), BatchNorm2d and
/// an activation, children named `0`, `1`, `2` as in the `nn.Sequential`
/// it subclasses. Padding is (kernelSize - 1) / 2, so stride 1 keeps H, W.
public final class Conv2dNormActivation: Module {
    public var training = true
    public let conv: Conv2d
    public let norm: BatchNorm2d
    public let activation: any Module

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int = 3, stride: Int = 1, groups: Int = 1,
        activation: any Module = ReLU(), generator: RandomGenerator = .global
    ) {
        conv = Conv2d(
            inChannels, outChannels, kernelSize: Size2(kernelSize), stride: Size2(stride),
            padding: .explicit(Size2((kernelSize - 1) / 2)), groups: groups, bias: false, generator: generator)
        norm = BatchNorm2d(outChannels)
        self.activation = activation
    }

    /// PyTorch's keys: `0.weight`, `1.weight`, `1.running_mean`, ...
    public var children: [(String, any Module)] { [("0", conv), ("1", norm), ("2", activation)] }

    public func forward(_ x: Tensor) -> Tensor { activation(norm(conv(x))) }
}

/// MobileNetV2's inverted residual block (Sandler et al. 2018,
/// arXiv:1801.04381), as torchvision writes it.
///
/// - Input [N, inChannels, H, W], output [N, outChannels, H/stride, W/stride].
/// - `conv` is a Sequential: a 1x1 expansion to inChannels * expandRatio
///   channels with ReLU6 (left out when expandRatio is 1), a 3x3 depthwise
///   convolution with `stride` and ReLU6, a 1x1 linear projection and its
///   BatchNorm; keys `conv.0.0.weight`, ..., `conv.3.running_var`.
/// - The input is added back when stride is 1 and the channels agree.
public final class InvertedResidual: Module {
    public var training = true
    public let conv: Sequential
    public let useResidual: Bool

    public init(_ inChannels: Int, _ outChannels: Int, stride: Int, expandRatio: Int, generator: RandomGenerator = .global) {
        strataCheck(stride == 1 || stride == 2, "InvertedResidual: stride must be 1 or 2, got \(stride)")
        let hidden = inChannels * expandRatio
        var layers: [any Module] = []
        if expandRatio != 1 {
            layers.append(Conv2dNormActivation(inChannels, hidden, kernelSize: 1, activation: ReLU6(), generator: generator))
        }
        layers.append(Conv2dNormActivation(hidden, hidden, stride: stride, groups: hidden, activation: ReLU6(), generator: generator))
        layers.append(Conv2d(hidden, outChannels, kernelSize: 1, bias: false, generator: generator))
        layers.append(BatchNorm2d(outChannels))
        conv = Sequential(layers)
        useResidual = stride == 1 && inChannels == outChannels
    }

    public func forward(_ x: Tensor) -> Tensor { useResidual ? x + conv(x) : conv(x) }
}

/// torchvision's MobileNetV2 (Sandler et al. 2018), same module names,
/// state_dict keys and initialisation.
///
/// - Input [N, inChannels, H, W] (ImageNet: 224x224; the strides total 32),
///   output logits [N, numClasses].
/// - `features`: Sequential of the stem Conv2dNormActivation (3x3, stride
///   2, ReLU6), 17 `InvertedResidual` blocks (the paper's Table 2) and a
///   1x1 Conv2dNormActivation to `lastChannel`; keys
///   `features.0.0.weight`, `features.1.conv.0.0.weight`,
///   `features.18.1.running_mean`. Then global average pooling (a function
///   in torchvision, so no module) and `classifier`: Dropout, Linear
///   (keys `classifier.1.weight`, `classifier.1.bias`).
/// - `widthMult` scales the channels, rounded to multiples of
///   `roundNearest` as torchvision's `_make_divisible` does; lastChannel is
///   1280 * max(1, widthMult), rounded.
/// - Initialisation as torchvision: Conv2d Kaiming normal (fan_out), zero
///   biases, BatchNorm 1 and 0, Linear N(0, 0.01).
public final class MobileNetV2: Module {
    public var training = true
    public let features: Sequential
    public let classifier: Sequential
    /// Channels of the last feature map (input of the classifier's Linear).
    public let lastChannel: Int

    /// (expansion t, channels c, repeats n, first stride s) of each stage.
    public static let invertedResidualSetting: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]

    /// torchvision's `mobilenet_v2(num_classes=..., width_mult=..., dropout=...)`:
    /// 3,504,872 parameters at 1000 classes and widthMult 1.
    public init(
        numClasses: Int = 1000, widthMult: Float = 1, inChannels: Int = 3, roundNearest: Int = 8,
        dropout: Float = 0.2, generator: RandomGenerator = .global
    ) {
        strataCheck(
            numClasses > 0 && inChannels > 0 && widthMult > 0 && roundNearest > 0,
            "MobileNetV2: numClasses \(numClasses), inChannels \(inChannels), widthMult \(widthMult) and "
                + "roundNearest \(roundNearest) must be positive")
        var channels = MobileNetV2.makeDivisible(32 * widthMult, roundNearest)
        lastChannel = MobileNetV2.makeDivisible(1280 * max(1, widthMult), roundNearest)
        var layers: [any Module] = [Conv2dNormActivation(inChannels, channels, stride: 2, activation: ReLU6(), generator: generator)]
        for stage in MobileNetV2.invertedResidualSetting {
            let out = MobileNetV2.makeDivisible(Float(stage.c) * widthMult, roundNearest)
            for i in 0..<stage.n {
                layers.append(InvertedResidual(channels, out, stride: i == 0 ? stage.s : 1, expandRatio: stage.t, generator: generator))
                channels = out
            }
        }
        layers.append(Conv2dNormActivation(channels, lastChannel, kernelSize: 1, activation: ReLU6(), generator: generator))
        features = Sequential(layers)
        classifier = Sequential(Dropout(p: dropout, generator: generator), Linear(lastChannel, numClasses, generator: generator))
        for (_, m) in namedModules() {
            if let conv = m as? Conv2d {
                Init.kaimingNormal(conv.weight, fanOutMode: true, generator: generator)
                conv.bias.map(Init.zeros)
            } else if let linear = m as? Linear {
                Init.normal(linear.weight, std: 0.01, generator: generator)
                linear.bias.map(Init.zeros)
            }
        }
    }

    /// torchvision's `_make_divisible`: `v` rounded to the nearest multiple of
    /// `divisor` (at least `divisor`), one step up if that loses over 10%.
    public static func makeDivisible(_ v: Float, _ divisor: Int) -> Int {
        var rounded = max(divisor, Int(v + Float(divisor) / 2) / divisor * divisor)
        if Float(rounded) < 0.9 * v { rounded += divisor }
        return rounded
    }

    public func forward(_ x: Tensor) -> Tensor {
        classifier(adaptiveAvgPool2d(features(x), outputSize: 1).flattened())
    }
}
