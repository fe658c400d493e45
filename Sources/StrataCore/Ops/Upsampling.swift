import Foundation

/// How `interpolate` and `Upsample` compute output pixels (PyTorch's `mode`).
public enum UpsampleMode: String, Sendable {
    /// Copy of the nearest source pixel (PyTorch's "nearest").
    case nearest
    /// Linear in each of the two spatial dimensions (PyTorch's "bilinear").
    case bilinear
}

/// Scale factors (height, width) of an upsampling: `2`, `1.5` or `[1.5, 2]`.
public struct ScaleFactor2: Hashable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByArrayLiteral, CustomStringConvertible
{
    public var height: Double
    public var width: Double

    public init(_ height: Double, _ width: Double) {
        self.height = height
        self.width = width
    }
    public init(integerLiteral value: Int) { self.init(Double(value), Double(value)) }
    public init(floatLiteral value: Double) { self.init(value, value) }
    /// `[height, width]`, or `[both]`.
    public init(arrayLiteral elements: Double...) {
        strataCheck(elements.count == 1 || elements.count == 2, "ScaleFactor2: expected [height, width], got \(elements)")
        self.init(elements[0], elements[elements.count - 1])
    }
    public var description: String { "\(height)x\(width)" }
}

/// The output size of resampling `shape` [N, C, H, W] to `size` or by
/// `scaleFactor` (exactly one of the two; floor(H * factor) as PyTorch).
/// Throws a message naming `op`.
package func resampleOutputSize(op: String, inputShape shape: [Int], size: Size2?, scaleFactor: ScaleFactor2?) throws -> Size2 {
    guard shape.count == 4, shape[2] > 0, shape[3] > 0 else {
        throw StrataError.shapeMismatch(op: op, expected: "[N, C, H, W]", actual: shape)
    }
    switch (size, scaleFactor) {
    case (let s?, nil):
        guard s.height > 0, s.width > 0 else { throw StrataError.invalidArgument("\(op): size \(s) must be positive") }
        return s
    case (nil, let f?):
        guard f.height > 0, f.width > 0 else { throw StrataError.invalidArgument("\(op): scaleFactor \(f) must be positive") }
        let out = Size2(Int(Foundation.floor(Double(shape[2]) * f.height)), Int(Foundation.floor(Double(shape[3]) * f.width)))
        guard out.height > 0, out.width > 0 else {
            throw StrataError.invalidArgument("\(op): scaleFactor \(f) gives an empty output \(out) for input \(shape)")
        }
        return out
    default:
        throw StrataError.invalidArgument("\(op): give exactly one of size and scaleFactor")
    }
}

/// Resamples x [N, C, H, W] to [N, C, OH, OW] (PyTorch's `F.interpolate`
/// for 4-D input with mode "nearest" or "bilinear"), given the output
/// `size` or a `scaleFactor` (then OH = floor(H * factor), and the factor
/// itself, not OH/H, sets the source positions, as in PyTorch).
///
/// - nearest: source index floor(dst * H/OH) (1/factor when given).
/// - bilinear, `alignCorners` false (PyTorch's default): pixel centres are
///   aligned, src = (dst + 0.5) * H/OH - 0.5 clamped at 0; true: the corner
///   pixels are aligned, src = dst * (H-1)/(OH-1). `alignCorners` is only
///   meaningful for bilinear.
///
/// Backward scatters each output gradient to the same taps with the same weights.
public func interpolate(
    _ x: Tensor, size: Size2? = nil, scaleFactor: ScaleFactor2? = nil,
    mode: UpsampleMode = .nearest, alignCorners: Bool = false
) -> Tensor {
    let outSize = strataTry { try resampleOutputSize(op: "interpolate", inputShape: x.shape, size: size, scaleFactor: scaleFactor) }
    strataCheck(!alignCorners || mode == .bilinear, "interpolate: alignCorners is only valid with mode bilinear, not \(mode)")
    let (h, w) = (x.shape[2], x.shape[3])
    let ty: ResampleTaps, tx: ResampleTaps
    switch mode {
    case .nearest:
        ty = .nearest(input: h, output: outSize.height, scaleFactor: scaleFactor?.height)
        tx = .nearest(input: w, output: outSize.width, scaleFactor: scaleFactor?.width)
    case .bilinear:
        ty = .linear(input: h, output: outSize.height, scaleFactor: scaleFactor?.height, alignCorners: alignCorners)
        tx = .linear(input: w, output: outSize.width, scaleFactor: scaleFactor?.width, alignCorners: alignCorners)
    }
    let planes = x.shape[0] * x.shape[1]
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], outSize.height, outSize.width])
    let (xp, op) = (x.data, out.data)
    Threading.parallelFor(planes, minChunk: 8) { range in
        ResampleKernels.forward(xp, height: h, width: w, ty, tx, planes: range, out: op)
    }
    return out.recordOp("upsample_\(mode)", inputs: [x]) { gradOut in
        let (gi, go) = (x.gradBuffer().data, gradOut.data)
        Threading.parallelFor(planes, minChunk: 8) { range in
            ResampleKernels.backward(go, height: h, width: w, ty, tx, planes: range, gradIn: gi)
        }
    }
}
