/// A (height, width) pair for kernel sizes, strides, dilations and padding.
///
/// Write `3` for a square value, `[3, 5]` or `Size2(3, 5)` for height 3 and
/// width 5 (PyTorch's `3` and `(3, 5)`). Layer and op arguments take any
/// `Size2Convertible`, so an `Int` or `[Int]` variable works there as well.
public struct Size2: Hashable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    /// Both extents equal to `both`.
    public init(_ both: Int) { self.init(both, both) }

    public init(integerLiteral value: Int) { self.init(value, value) }

    /// `[height, width]`, or `[both]`.
    public init(arrayLiteral elements: Int...) {
        strataCheck(elements.count == 1 || elements.count == 2, "Size2: expected [height, width], got \(elements)")
        self.init(elements[0], elements[elements.count - 1])
    }

    public var description: String { "\(height)x\(width)" }
}

/// How a convolution pads its input (PyTorch's `padding=` argument).
public enum ConvPadding: Hashable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// Zeros on both sides of each spatial dimension: `height` rows above
    /// and below, `width` columns left and right.
    case explicit(Size2)
    /// Output the size of the input (stride 1 only). Total padding per
    /// dimension is dilation*(kernel-1); when that is odd (even kernels) the
    /// extra row/column goes at the bottom/right, as PyTorch does.
    case same
    /// No padding (PyTorch's `'valid'`).
    case valid

    public init(integerLiteral value: Int) { self = .explicit(Size2(value)) }
    public init(arrayLiteral elements: Int...) {
        strataCheck(elements.count == 1 || elements.count == 2, "ConvPadding: expected [height, width], got \(elements)")
        self = .explicit(Size2(elements[0], elements[elements.count - 1]))
    }

    public var description: String {
        switch self {
        case .explicit(let s): return "\(s)"
        case .same: return "same"
        case .valid: return "valid"
        }
    }

    /// Zeros before and after the input in each dimension: (top, left, bottom, right).
    func resolve(kernel: Size2, dilation: Size2) -> (top: Int, left: Int, bottom: Int, right: Int) {
        switch self {
        case .explicit(let p): return (p.height, p.width, p.height, p.width)
        case .valid: return (0, 0, 0, 0)
        case .same:
            let th = dilation.height * (kernel.height - 1), tw = dilation.width * (kernel.width - 1)
            return (th / 2, tw / 2, th - th / 2, tw - tw / 2)
        }
    }
}

/// The geometry of a convolution of `inputShape` [N, C, H, W] with a weight
/// of `weightShape` [O, C/groups, kh, kw]; throws a message naming `op`.
package func convGeometry(
    op: String, inputShape shape: [Int], weightShape w: [Int],
    stride: Size2, padding: ConvPadding, dilation: Size2, groups: Int
) throws -> ConvGeometry {
    let channels = w[1] * groups
    guard shape.count == 4, shape[1] == channels else {
        throw StrataError.shapeMismatch(op: op, expected: "[N, \(channels), H, W]", actual: shape)
    }
    let kernel = Size2(w[2], w[3])
    let pad = padding.resolve(kernel: kernel, dilation: dilation)
    let paddedH = shape[2] + pad.top + pad.bottom, paddedW = shape[3] + pad.left + pad.right
    let spanH = dilation.height * (kernel.height - 1) + 1, spanW = dilation.width * (kernel.width - 1) + 1
    guard spanH <= paddedH, spanW <= paddedW else {
        throw StrataError.invalidArgument(
            "\(op): kernel \(kernel) (dilated extent \(spanH)x\(spanW)) is larger than the padded input \(paddedH)x\(paddedW) (input \(shape))"
        )
    }
    return ConvGeometry(
        channels: channels, height: shape[2], width: shape[3],
        kernelH: kernel.height, kernelW: kernel.width,
        strideH: stride.height, strideW: stride.width,
        padTop: pad.top, padLeft: pad.left,
        dilationH: dilation.height, dilationW: dilation.width,
        outH: (paddedH - spanH) / stride.height + 1, outW: (paddedW - spanW) / stride.width + 1)
}
