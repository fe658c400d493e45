import StrataCore

/// Two 3x3 convolutions (padding 1, no bias), each followed by BatchNorm2d
/// and ReLU: U-Net's unit. [N, inChannels, H, W] -> [N, outChannels, H, W];
/// keys `double_conv.0.weight`, `double_conv.1.*`, `double_conv.3.weight`,
/// `double_conv.4.*`.
public final class DoubleConv: Module {
    public var training = true
    public let doubleConv: Sequential

    public init(_ inChannels: Int, _ outChannels: Int, generator: RandomGenerator = .global) {
        doubleConv = Sequential(
            Conv2d(inChannels, outChannels, kernelSize: 3, padding: 1, bias: false, generator: generator),
            BatchNorm2d(outChannels), ReLU(),
            Conv2d(outChannels, outChannels, kernelSize: 3, padding: 1, bias: false, generator: generator),
            BatchNorm2d(outChannels), ReLU())
    }

    public func forward(_ x: Tensor) -> Tensor { doubleConv(x) }
}

/// A small U-Net (Ronneberger et al. 2015, arXiv:1505.04597) with two
/// down-sampling and two up-sampling levels, padded convolutions (the
/// output has the input's size) and BatchNorm.
///
/// - Input [N, inChannels, H, W] with H and W multiples of 4, output
///   per-pixel logits [N, numClasses, H, W].
/// - Encoder: `inc` DoubleConv(inChannels, w) at full size, `down1`
///   Sequential(MaxPool2d(2), DoubleConv(w, 2w)) at 1/2, `down2`
///   Sequential(MaxPool2d(2), DoubleConv(2w, 4w)) at 1/4 (w = `baseWidth`).
/// - Decoder: `up1` ConvTranspose2d(4w, 2w, 2, stride 2) back to 1/2, its
///   output concatenated after the skip of `down1` along channels
///   ([skip, up]) into `dec1` DoubleConv(4w, 2w); `up2` ConvTranspose2d(2w,
///   w, 2, stride 2) to full size, cat with `inc`'s output, `dec2`
///   DoubleConv(2w, w); `outc` Conv2d(w, numClasses, 1).
/// - Keys: `inc.double_conv.0.weight`, `down1.1.double_conv.1.running_mean`,
///   `up1.weight`, `up1.bias`, `dec2.double_conv.4.bias`, `outc.weight`, ...
///   The PyTorch module with these names is in
///   Tests/StrataTests/Fixtures/make_zoo_fixtures.py.
/// - Initialisation: PyTorch's layer defaults.
public final class UNet: Module {
    public var training = true
    public let inc: DoubleConv
    public let down1: Sequential
    public let down2: Sequential
    public let up1: ConvTranspose2d
    public let dec1: DoubleConv
    public let up2: ConvTranspose2d
    public let dec2: DoubleConv
    public let outc: Conv2d

    public init(inChannels: Int = 3, numClasses: Int = 2, baseWidth: Int = 64, generator: RandomGenerator = .global) {
        strataCheck(
            inChannels > 0 && numClasses > 0 && baseWidth > 0,
            "UNet: inChannels \(inChannels), numClasses \(numClasses) and baseWidth \(baseWidth) must be positive")
        let w = baseWidth
        inc = DoubleConv(inChannels, w, generator: generator)
        down1 = Sequential(MaxPool2d(kernelSize: 2), DoubleConv(w, 2 * w, generator: generator))
        down2 = Sequential(MaxPool2d(kernelSize: 2), DoubleConv(2 * w, 4 * w, generator: generator))
        up1 = ConvTranspose2d(4 * w, 2 * w, kernelSize: 2, stride: 2, generator: generator)
        dec1 = DoubleConv(4 * w, 2 * w, generator: generator)
        up2 = ConvTranspose2d(2 * w, w, kernelSize: 2, stride: 2, generator: generator)
        dec2 = DoubleConv(2 * w, w, generator: generator)
        outc = Conv2d(w, numClasses, kernelSize: 1, generator: generator)
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataCheck(
            x.rank == 4 && x.shape[2] % 4 == 0 && x.shape[3] % 4 == 0,
            "UNet: input must be [N, C, H, W] with H and W multiples of 4 (two 2x2 poolings), got \(x.shape)")
        let s1 = inc(x)
        let s2 = down1(s1)
        let bottom = down2(s2)
        let d1 = dec1(cat([s2, up1(bottom)], axis: 1))
        let d2 = dec2(cat([s1, up2(d1)], axis: 1))
        return outc(d2)
    }
}
