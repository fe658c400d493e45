/// The copy behind slicing, padding and expanding: an output whose index
/// along each dimension is mapped, dimension by dimension, to an input index.

/// out[o₀, …, oᵣ₋₁] = x[maps[0][o₀], …, maps[r-1][oᵣ₋₁]], or a fill value
/// where any map entry is -1 (constant padding).
///
/// `maps[d].count` is the output extent of dimension d; entries index
/// `inShape[d]`. The backward is the transpose: a scatter-add, so input
/// elements that several outputs read (reflect padding, expand) sum their
/// gradients.
struct AxisMaps {
    let inShape: [Int]
    let maps: [[Int]]

    var outShape: [Int] { maps.map(\.count) }

    init(inShape: [Int], maps: [[Int]]) {
        precondition(inShape.count == maps.count)
        self.inShape = inShape
        self.maps = maps
    }

    /// The identity map of `shape` except along `axis`.
    static func along(_ axis: Int, of shape: [Int], _ map: [Int]) -> AxisMaps {
        var maps = shape.map { Array(0..<$0) }
        maps[axis] = map
        return AxisMaps(inShape: shape, maps: maps)
    }

    /// Calls `body(outOffset, base, last)` for every run along the last
    /// output dimension: output element `outOffset + j` reads input
    /// `base + last[j]`, or is filled when `base` is nil (a leading
    /// dimension is filled) or `last[j]` is -1.
    private func forEachRow(_ body: (Int, Int?, [Int]) -> Void) {
        let r = inShape.count
        if r == 0 { body(0, 0, [0]); return }
        var strides = [Int](repeating: 1, count: r)
        for d in stride(from: r - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * inShape[d + 1] }
        // Offsets scaled by stride, -1 kept as the fill marker.
        let offsets = (0..<r).map { d in maps[d].map { $0 < 0 ? -1 : $0 * strides[d] } }
        let out = outShape
        let n = out[r - 1]
        let rows = out.dropLast().reduce(1, *)
        if n == 0 || rows == 0 { return }
        var idx = [Int](repeating: 0, count: r - 1)
        for row in 0..<rows {
            var base: Int? = 0
            for d in 0..<(r - 1) {
                let o = offsets[d][idx[d]]
                if o < 0 { base = nil; break }
                base? += o
            }
            body(row * n, base, offsets[r - 1])
            var d = r - 2
            while d >= 0 {
                idx[d] += 1
                if idx[d] < out[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
    }

    /// Whether the last dimension is copied whole and in order (a run is one contiguous copy).
    private var lastIsIdentity: Bool {
        guard let last = maps.last, let extent = inShape.last else { return false }
        return last.count == extent && last.enumerated().allSatisfy { $0.offset == $0.element }
    }

    /// Writes the mapped copy of `x` into `out` (of `outShape`).
    func gather(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, fill: Float = 0) {
        let contiguous = lastIsIdentity
        forEachRow { o, base, last in
            guard let base else { (out + o).update(repeating: fill, count: last.count); return }
            if contiguous { (out + o).update(from: x + base, count: last.count); return }
            for (j, s) in last.enumerated() { out[o + j] = s < 0 ? fill : x[base + s] }
        }
    }

    /// Adds `g` (of `outShape`) into `dx` (of `inShape`) at the mapped places.
    func scatterAdd(_ g: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        forEachRow { o, base, last in
            guard let base else { return }
            for (j, s) in last.enumerated() where s >= 0 { dx[base + s] += g[o + j] }
        }
    }
}

extension Tensor {
    /// Applies `maps` to this tensor (of `maps.inShape` element count) as a
    /// differentiable op named `op`.
    func mapped(_ maps: AxisMaps, fill: Float = 0, op: String) -> Tensor {
        let out = Tensor(uninitialized: maps.outShape)
        maps.gather(data, into: out.data, fill: fill)
        let x = self
        return out.recordOp(op, inputs: [x]) { g in
            let dx = Tensor(zeros: x.shape)
            maps.scatterAdd(g.data, into: dx.data)
            x.accumulateGrad(dx, owned: true)
        }
    }
}
