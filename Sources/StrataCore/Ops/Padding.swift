/// Padding, as PyTorch's `torch.nn.functional.pad`.

/// How `padded` fills the border (PyTorch's `mode` argument of `F.pad`).
public enum PadMode: String, Sendable, CaseIterable {
    /// A constant value (`value`, 0 by default).
    case constant
    /// The input mirrored about its edge, the edge itself not repeated:
    /// [a b c] padded by 2 on each side is [c b a b c b a]. Each pad must be
    /// smaller than the extent.
    case reflect
    /// The edge element repeated: [a b c] → [a a a b c c c].
    case replicate
    /// The input wrapped around: [a b c] → [b c a b c a b]. Each pad must be
    /// at most the extent.
    case circular
}

extension Tensor {
    /// This tensor padded on the last `pad.count / 2` dimensions.
    ///
    /// `pad` lists (before, after) pairs starting with the LAST dimension,
    /// as PyTorch's `F.pad(x, pad, mode, value)`: `[left, right]` pads the
    /// width, `[left, right, top, bottom]` the width and the height. A
    /// negative pad removes elements (allowed in every mode, as long as the
    /// result is not negative). The backward adds each output gradient to the
    /// input element it was copied from (constant fill gets none).
    public func padded(_ pad: [Int], mode: PadMode = .constant, value: Float = 0) -> Tensor {
        strataCheck(
            pad.count % 2 == 0 && pad.count / 2 <= rank,
            "pad: \(pad) must hold (before, after) pairs for at most \(rank) dimensions of shape \(shape)")
        var maps = shape.map { Array(0..<$0) }
        for k in 0..<(pad.count / 2) {
            let d = rank - 1 - k
            let n = shape[d], before = pad[2 * k], after = pad[2 * k + 1]
            let extent = n + before + after
            strataCheck(extent >= 0, "pad: \(pad) leaves a negative extent for dimension \(d) of shape \(shape)")
            switch mode {
            case .constant: break
            case .reflect:
                strataCheck(
                    before < n && after < n,
                    "pad: reflect padding (\(before), \(after)) must be smaller than extent \(n) of dimension \(d) in shape \(shape)")
            case .replicate:
                strataCheck(n > 0 || extent == 0, "pad: replicate padding of an empty dimension \(d) in shape \(shape)")
            case .circular:
                strataCheck(
                    before <= n && after <= n,
                    "pad: circular padding (\(before), \(after)) must be at most extent \(n) of dimension \(d) in shape \(shape)")
            }
            maps[d] = (0..<extent).map { o in
                let i = o - before
                if i >= 0 && i < n { return i }
                switch mode {
                case .constant: return -1
                case .reflect: return i < 0 ? -i : 2 * (n - 1) - i
                case .replicate: return i < 0 ? 0 : n - 1
                case .circular: return ((i % n) + n) % n
                }
            }
        }
        return mapped(AxisMaps(inShape: shape, maps: maps), fill: value, op: "pad_\(mode.rawValue)")
    }
}
