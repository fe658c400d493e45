import StrataCore

/// Upsampling (or downsampling) of NCHW images (PyTorch's `nn.Upsample`
/// for 4-D input): nearest neighbour or bilinear, to a fixed `size` or by
/// a `scaleFactor`. No parameters.
///
/// - Input [N, C, H, W]; output [N, C, size] or
///   [N, C, floor(H * factor.h), floor(W * factor.w)].
/// - `alignCorners` (bilinear only, default false as PyTorch) is described
///   at `interpolate`, which does the work.
///
/// `Upsample(scaleFactor: 2)` is nearest 2x; `Upsample(size: [5, 7], mode:
/// .bilinear, alignCorners: true)` resizes to 5x7 with the corners aligned.
public final class Upsample: Module, ListsOwnState {
    public var training = true
    public let size: Size2?
    public let scaleFactor: ScaleFactor2?
    public let mode: UpsampleMode
    public let alignCorners: Bool

    public init(size: Size2? = nil, scaleFactor: ScaleFactor2? = nil, mode: UpsampleMode = .nearest, alignCorners: Bool = false) {
        strataCheck((size == nil) != (scaleFactor == nil), "Upsample: give exactly one of size and scaleFactor")
        strataCheck(!alignCorners || mode == .bilinear, "Upsample: alignCorners is only valid with mode bilinear, not \(mode)")
        self.size = size
        self.scaleFactor = scaleFactor
        self.mode = mode
        self.alignCorners = alignCorners
    }

    /// PyTorch's line: `scale_factor=2.0, mode='nearest'` or `size=(5, 7), mode='bilinear'`
    /// (PyTorch does not show align_corners).
    /// To a fixed size from a variable (`Upsample(size: s)`, an `Int`, `Size2` or `[Int]`).
    public convenience init(size: some Size2Convertible, mode: UpsampleMode = .nearest, alignCorners: Bool = false) {
        self.init(size: Optional(size.size2), scaleFactor: nil, mode: mode, alignCorners: alignCorners)
    }

    /// By one factor for both dimensions from a variable (`Upsample(scaleFactor: f)`).
    public convenience init(scaleFactor: Double, mode: UpsampleMode = .nearest, alignCorners: Bool = false) {
        self.init(size: nil, scaleFactor: Optional(ScaleFactor2(scaleFactor)), mode: mode, alignCorners: alignCorners)
    }

    public var extraRepresentation: String {
        let target: String
        if let f = scaleFactor {
            target = "scale_factor=" + (f.height == f.width ? "\(f.height)" : "(\(f.height), \(f.width))")
        } else {
            target = "size=" + (size.map(PythonRepr.size) ?? "None")
        }
        return target + ", mode='\(mode.rawValue)'"
    }

    var name: String {
        "Upsample(" + (size.map { "size: \($0)" } ?? "scaleFactor: \(scaleFactor.map { "\($0)" } ?? "")")
            + ", mode: \(mode)" + (alignCorners ? ", alignCorners: true" : "") + ")"
    }

    /// Throws unless `shape` is [N, C, H, W] with a non-empty output.
    public func validate(inputShape shape: [Int]) throws {
        _ = try resampleOutputSize(op: name, inputShape: shape, size: size, scaleFactor: scaleFactor)
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return interpolate(x, size: size, scaleFactor: scaleFactor, mode: mode, alignCorners: alignCorners)
    }
}
