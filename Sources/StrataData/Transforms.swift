import Foundation
import StrataCore

/// A per-sample transform of a [C, H, W] image (torchvision's
/// `transforms.*`), applied by `DataLoader` before batching.
///
/// Random transforms draw only from `generator`, which the loader seeds
/// from (seed, epoch, position in the epoch): the same sample at the same
/// place gets the same draws whatever the number of workers. Deterministic
/// transforms ignore it. A transform returns a new tensor and never changes
/// its input.
public protocol Transform: Sendable {
    /// Throws `StrataError` for an image the transform cannot take (wrong
    /// rank, too small for the crop, channel count unlike `Normalize`'s).
    func apply(_ image: Tensor, generator: RandomGenerator) throws -> Tensor
}

extension Transform {
    /// `apply` outside a loader: `try Normalize(mean: [0.5], std: [0.25])(image)`.
    /// Random transforms draw from `generator` (the global one by default).
    public func callAsFunction(_ image: Tensor, generator: RandomGenerator = .global) throws -> Tensor {
        try apply(image, generator: generator)
    }
}

/// Applies `transforms` in order (torchvision's `Compose`).
public struct Compose: Transform {
    public let transforms: [any Transform]
    public init(_ transforms: [any Transform]) { self.transforms = transforms }

    public func apply(_ image: Tensor, generator: RandomGenerator) throws -> Tensor {
        try transforms.reduce(image) { try $1.apply($0, generator: generator) }
    }
}

/// The dimensions of a [C, H, W] image, or a thrown shape error naming `op`.
func chw(_ t: Tensor, _ op: String) throws -> (c: Int, h: Int, w: Int) {
    guard t.rank == 3 else { throw StrataError.shapeMismatch(op: op, expected: "[C, H, W]", actual: t.shape) }
    return (t.shape[0], t.shape[1], t.shape[2])
}

/// `(x - mean[c]) / std[c]` per channel; one value applies to every channel.
public struct Normalize: Transform {
    public let mean: [Float]
    public let std: [Float]

    public init(mean: [Float], std: [Float]) {
        strataCheck(!mean.isEmpty && mean.count == std.count, "Normalize: needs as many means as stds, got \(mean.count) and \(std.count)")
        strataCheck(std.allSatisfy { $0 > 0 }, "Normalize: std must be positive, got \(std)")
        self.mean = mean
        self.std = std
    }

    public func apply(_ image: Tensor, generator: RandomGenerator) throws -> Tensor {
        let (c, h, w) = try chw(image, "Normalize")
        guard mean.count == 1 || mean.count == c else {
            throw StrataError.shapeMismatch(op: "Normalize (\(mean.count) means)", expected: "[\(mean.count), H, W]", actual: image.shape)
        }
        let out = Tensor(uninitialized: image.shape)
        for ch in 0..<c {
            let k = mean.count == 1 ? 0 : ch
            let m = mean[k], inv = 1 / std[k]
            let src = image.data + ch * h * w, dst = out.data + ch * h * w
            for j in 0..<(h * w) { dst[j] = (src[j] - m) * inv }
        }
        return out
    }
}

/// Pads with a constant (torchvision's `Pad(padding, fill)`, constant mode).
public struct Pad: Transform {
    public let left: Int, top: Int, right: Int, bottom: Int
    public let fill: Float

    /// The same `padding` on all four sides.
    public init(_ padding: Int, fill: Float = 0) { self.init(left: padding, top: padding, right: padding, bottom: padding, fill: fill) }

    public init(left: Int, top: Int, right: Int, bottom: Int, fill: Float = 0) {
        strataCheck(min(left, top, right, bottom) >= 0, "Pad: padding must be >= 0, got \((left, top, right, bottom))")
        (self.left, self.top, self.right, self.bottom, self.fill) = (left, top, right, bottom, fill)
    }

    public func apply(_ image: Tensor, generator: RandomGenerator) throws -> Tensor {
        let (c, h, w) = try chw(image, "Pad")
        return padded(image, c: c, h: h, w: w, left: left, top: top, right: right, bottom: bottom, fill: fill)
    }
}

/// `image` surrounded by constant `fill`.
func padded(_ image: Tensor, c: Int, h: Int, w: Int, left: Int, top: Int, right: Int, bottom: Int, fill: Float) -> Tensor {
    let oh = h + top + bottom, ow = w + left + right
    let out = Tensor(uninitialized: [c, oh, ow])
    out.fill(fill)
    for ch in 0..<c {
        for y in 0..<h {
            (out.data + (ch * oh + y + top) * ow + left).update(from: image.data + (ch * h + y) * w, count: w)
        }
    }
    return out
}

/// The window of `image` at (top, left) of size height x width (inside the image).
func cropped(_ image: Tensor, c: Int, h: Int, w: Int, top: Int, left: Int, height: Int, width: Int) -> Tensor {
    let out = Tensor(uninitialized: [c, height, width])
    for ch in 0..<c {
        for y in 0..<height {
            (out.data + (ch * height + y) * width).update(from: image.data + (ch * h + y + top) * w + left, count: width)
        }
    }
    return out
}

/// Pads each side by `padding` (constant `fill`), then crops `height` x
/// `width` at a uniformly random position (torchvision's
/// `RandomCrop(size, padding)`; the row offset is drawn before the column).
public struct RandomCrop: Transform {
    public let height: Int, width: Int, padding: Int
    public let fill: Float

    public init(height: Int, width: Int, padding: Int = 0, fill: Float = 0) {
        strataCheck(
            height > 0 && width > 0 && padding >= 0,
            "RandomCrop: size must be positive and padding >= 0, got \(height) x \(width), padding \(padding)")
        (self.height, self.width, self.padding, self.fill) = (height, width, padding, fill)
    }

    /// A square crop.
    public init(_ size: Int, padding: Int = 0, fill: Float = 0) { self.init(height: size, width: size, padding: padding, fill: fill) }

    public func apply(_ image: Tensor, generator: RandomGenerator) throws -> Tensor {
        let (c, h, w) = try chw(image, "RandomCrop")
        let ph = h + 2 * padding, pw = w + 2 * padding
        guard ph >= height && pw >= width else {
            throw StrataError.shapeMismatch(
                op: "RandomCrop(\(height) x \(width), padding \(padding))",
                expected: "an image at least that large", actual: image.shape)
        }
        let top = generator.nextInt(below: ph - height + 1), left = generator.nextInt(below: pw - width + 1)
        let src =
            padding > 0
            ? padded(image, c: c, h: h, w: w, left: padding, top: padding, right: padding, bottom: padding, fill: fill) : image
        return cropped(src, c: c, h: ph, w: pw, top: top, left: left, height: height, width: width)
    }
}

/// The central `height` x `width` window (torchvision's `CenterCrop`,
/// offsets rounded as `int(round((H - h) / 2))`).
public struct CenterCrop: Transform {
    public let height: Int, width: Int

    public init(height: Int, width: Int) {
        strataCheck(height > 0 && width > 0, "CenterCrop: size must be positive, got \(height) x \(width)")
        (self.height, self.width) = (height, width)
    }

    public init(_ size: Int) { self.init(height: size, width: size) }

    public func apply(_ image: Tensor, generator: RandomGenerator) throws -> Tensor {
        let (c, h, w) = try chw(image, "CenterCrop")
        guard h >= height && w >= width else {
            throw StrataError.shapeMismatch(
                op: "CenterCrop(\(height) x \(width))", expected: "an image at least that large",
                actual: image.shape)
        }
        // Python's round() is half-to-even.
        let top = Int((Double(h - height) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(w - width) / 2).rounded(.toNearestOrEven))
        return cropped(image, c: c, h: h, w: w, top: top, left: left, height: height, width: width)
    }
}

/// Mirrors left-right with probability `p` (torchvision's `RandomHorizontalFlip`).
public struct RandomHorizontalFlip: Transform {
    public let p: Double

    public init(p: Double = 0.5) {
        strataCheck(p >= 0 && p <= 1, "RandomHorizontalFlip: p must be in [0, 1], got \(p)")
        self.p = p
    }

    public func apply(_ image: Tensor, generator: RandomGenerator) throws -> Tensor {
        let (c, h, w) = try chw(image, "RandomHorizontalFlip")
        guard generator.nextDouble() < p else { return image.copy() }
        let out = Tensor(uninitialized: image.shape)
        for row in 0..<(c * h) {
            let src = image.data + row * w, dst = out.data + row * w
            for x in 0..<w { dst[x] = src[w - 1 - x] }
        }
        return out
    }
}

/// Erases a random rectangle with `value`, with probability `p`
/// (torchvision's `RandomErasing`, on a tensor, after `Normalize` as there):
/// up to 10 tries draw an area fraction in `scale` and a log-uniform aspect
/// ratio in `ratio`; the first rectangle that fits is filled; if none does,
/// the image is left unchanged.
public struct RandomErasing: Transform {
    public let p: Double
    public let scale: ClosedRange<Double>
    public let ratio: ClosedRange<Double>
    public let value: Float

    public init(p: Double = 0.5, scale: ClosedRange<Double> = 0.02...0.33, ratio: ClosedRange<Double> = 0.3...3.3, value: Float = 0) {
        strataCheck(p >= 0 && p <= 1, "RandomErasing: p must be in [0, 1], got \(p)")
        strataCheck(scale.lowerBound >= 0 && scale.upperBound <= 1, "RandomErasing: scale must lie in [0, 1], got \(scale)")
        strataCheck(ratio.lowerBound > 0, "RandomErasing: ratio must be positive, got \(ratio)")
        (self.p, self.scale, self.ratio, self.value) = (p, scale, ratio, value)
    }

    public func apply(_ image: Tensor, generator g: RandomGenerator) throws -> Tensor {
        let (c, h, w) = try chw(image, "RandomErasing")
        let out = image.copy()
        guard g.nextDouble() < p else { return out }
        let area = Double(h * w)
        let logLo = Foundation.log(ratio.lowerBound), logHi = Foundation.log(ratio.upperBound)
        for _ in 0..<10 {
            let target = area * (scale.lowerBound + (scale.upperBound - scale.lowerBound) * g.nextDouble())
            let aspect = Foundation.exp(logLo + (logHi - logLo) * g.nextDouble())
            let eh = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
            let ew = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
            guard eh > 0 && ew > 0 && eh < h && ew < w else { continue }
            let top = g.nextInt(below: h - eh + 1), left = g.nextInt(below: w - ew + 1)
            for ch in 0..<c {
                for y in top..<(top + eh) { (out.data + (ch * h + y) * w + left).update(repeating: value, count: ew) }
            }
            return out
        }
        return out
    }
}

/// Bilinear resize to `height` x `width` (torchvision's `Resize((h, w))` on
/// a tensor with `antialias=False`: half-pixel centres, edges clamped,
/// `F.interpolate(mode="bilinear", align_corners=False)`).
public struct Resize: Transform {
    public let height: Int, width: Int

    public init(height: Int, width: Int) {
        strataCheck(height > 0 && width > 0, "Resize: size must be positive, got \(height) x \(width)")
        (self.height, self.width) = (height, width)
    }

    public func apply(_ image: Tensor, generator: RandomGenerator) throws -> Tensor {
        let (c, h, w) = try chw(image, "Resize")
        if h == height && w == width { return image.copy() }
        // Source coordinate of output index i: (i + 0.5) * in / out - 0.5, clamped at 0.
        func taps(_ n: Int, _ inN: Int) -> [(Int, Int, Float)] {
            let s = Float(inN) / Float(n)
            return (0..<n).map { i in
                let x = max((Float(i) + 0.5) * s - 0.5, 0)
                let x0 = min(Int(x), inN - 1), x1 = min(x0 + 1, inN - 1)
                return (x0, x1, x - Float(x0))
            }
        }
        let ys = taps(height, h), xs = taps(width, w)
        let out = Tensor(uninitialized: [c, height, width])
        for ch in 0..<c {
            let src = image.data + ch * h * w, dst = out.data + ch * height * width
            for (oy, (y0, y1, fy)) in ys.enumerated() {
                for (ox, (x0, x1, fx)) in xs.enumerated() {
                    let top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx
                    let bottom = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx
                    dst[oy * width + ox] = top * (1 - fy) + bottom * fy
                }
            }
        }
        return out
    }
}

/// An 8-bit `Image` ([H, W, C] bytes) as a [C, H, W] Float32 tensor in
/// [0, 1] (torchvision's `ToTensor`: byte / 255). The image readers apply it
/// before the loader's `transform`, which therefore sees tensors.
public struct ToTensor: Sendable {
    public init() {}

    public func callAsFunction(_ image: Image) -> Tensor {
        let (h, w, c) = (image.height, image.width, image.channels)
        let out = Tensor(uninitialized: [c, h, w])
        let scale: Float = 1.0 / 255.0
        image.pixels.withUnsafeBufferPointer { px in
            for y in 0..<h {
                for x in 0..<w {
                    for ch in 0..<c { out.data[(ch * h + y) * w + x] = Float(px[(y * w + x) * c + ch]) * scale }
                }
            }
        }
        return out
    }
}
