/// What layer arguments of kind `Size2` accept: an `Int` (both extents), a
/// `Size2`, or an `[Int]` of one or two elements (`[height, width]`), as a
/// literal or a variable (PyTorch's `3` and `(3, 5)`):
///
///     let k = 3, s = [2, 1]
///     Conv2d(1, 8, kernelSize: k, stride: s, padding: k / 2)
public protocol Size2Convertible {
    /// The (height, width) pair this value stands for.
    var size2: Size2 { get }
}

extension Size2: Size2Convertible {
    public var size2: Size2 { self }
}

extension Int: Size2Convertible {
    public var size2: Size2 { Size2(self) }
}

extension Array: Size2Convertible where Element == Int {
    /// `[height, width]` or `[both]`; traps on another length.
    public var size2: Size2 {
        strataCheck(count == 1 || count == 2, "Size2: expected [height, width] or [both], got \(self)")
        return Size2(self[0], self[count - 1])
    }
}

extension ScaleFactor2 {
    /// Both factors equal to `both`.
    public init(_ both: Double) { self.init(both, both) }
}
