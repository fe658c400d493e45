import CKernels
import Foundation

/// Winograd F(2x2, 3x3) and F(4x4, 3x3) for conv2d's most common case: a
/// 3x3 kernel with stride 1, dilation 1, padding 1 and one group (every 3x3
/// convolution of a ResNet's stages but the strided ones).
///
/// Each m x m block of outputs ("tile", m = 2 or 4) of one output channel
/// takes (m+2)^2 multiplies per input channel instead of 9 m^2 (16 instead
/// of 36, or 36 instead of 144): with the (m+2) x (m+2) input patch d under
/// the tile and the kernel g,
///
///     y = A^T [(G g G^T) ⊙ (B^T d B)] A
///
/// (Lavin & Gray 2016). The C kernels (CKernels, `strata_winograd_*`)
/// transform the inputs of a chunk of samples into V [P][C][tiles], multiply
/// V by the transformed kernels U [P][O][C] (P = (m+2)^2 products, one per
/// position of the transformed tile), and transform the products back. The
/// input gradient is the same convolution of the output gradient with the
/// kernels transposed and turned by 180 degrees. The weight gradient is
/// G^T [sum over tiles (A dY A^T) ⊙ (B^T d B)] G: the output gradient's
/// tiles transformed, multiplied by the transformed inputs and summed over
/// the tiles (P products of [O, tiles] by [tiles, C]), then taken back to
/// the 3x3 kernel.
///
/// Numerics: F(2x2)'s transforms only add and halve, so its result differs
/// from the direct sum by rounding alone. F(4x4)'s multiply by up to 8 and
/// divide by 6 and 24, which loses about one more decimal digit (WinogradTests
/// checks both against a Double reference for every shape class).
enum Winograd {
    /// Vector width of the running CPU's kernel variant (16, 8 or 4 floats).
    static let isa = strata_vector_width()

    /// Runs a narrower variant than the CPU's (tests: each variant the CPU
    /// can run); nil runs `isa`.
    nonisolated(unsafe) static var forcedISA: Int32?

    /// The variant the kernels run: `isa`, or `forcedISA` if narrower.
    static var variant: Int32 { forcedISA.map { min($0, isa) } ?? isa }

    /// Forces the tile size, 2 or 4 (tests, benchmarks); nil chooses.
    nonisolated(unsafe) static var forcedTile: Int?

    /// F(4x4) for planes a multiple of 4 high and at least 8 high that are
    /// a multiple of 16 wide (each row splits in whole blocks of 16
    /// floats) or 8 wide (the kernels take 4 samples' planes side by side,
    /// so that an 8x8 plane's 4 tiles fill a vector with 3 other
    /// samples'), or, for other widths a multiple of 4, at least 24 high
    /// and wide. F(2x2) for the others. On ResNet-20's 32x32 and 16x16
    /// planes F(4x4) made resnet20-step 13-39% faster (2 threads; three
    /// paired runs); on 8x8 planes one sample at a time it made conv3x3-64
    /// 6-24% slower. Forward, input gradient and weight gradient of 64
    /// samples, 32 channels, cold data, one thread (C harness at the
    /// package's flags, fastest / median of 40 calls, F(2x2) -> F(4x4)):
    /// 28x28 21.2 / 23.5 -> 17.0 / 22.4 ms, 24x24 13.6 / 16.1 -> 11.5 /
    /// 13.7, 32x24 17.0 / 17.9 -> 14.4 / 16.6, 8x16 2.8 / 3.2 -> 2.4 / 2.6,
    /// 12x16 5.6 / 6.4 -> 3.8 / 4.1; and not: 20x20 9.9 / 10.9 -> 10.0 /
    /// 12.0, 16x28 11.0 / 12.2 -> 9.2 / 12.1, 12x24 6.5 / 7.0 -> 6.8 / 7.4,
    /// 12x12 4.0 / 4.7 -> 6.7 / 7.4 (rows of 3 to 7 tiles take the generic
    /// split, which pays only on tall planes).
    ///
    /// Also F(4x4), from 8 rows of any height, for widths 13 to 15 past a
    /// multiple of 16 (up to 256): their rows are read through a copy
    /// padded to whole blocks of 16 and written by a masked store, so they
    /// take the whole-block paths (a 14x14 plane is 4x4 tiles, one AVX-512
    /// vector, against F(2x2)'s 7x7). Same harness, 32 channels, 64
    /// samples, fastest / median of 40 calls, F(2x2) -> F(4x4): 13x13 5.1 /
    /// 5.5 -> 4.0 / 4.3 ms, 15x15 6.9 / 7.2 -> 4.2 / 4.4, 30x30 22.6 / 23.1
    /// -> 16.7 / 17.2, 8x14 2.8 / 3.7 -> 2.4 / 2.6, 14x30 10.4 / 10.8 -> 8.3
    /// / 9.2, 46x46 49.2 / 51.7 -> 42.1 / 42.7.
    static func tile(height h: Int, width w: Int) -> Int {
        if let t = forcedTile { return t }
        if w % 16 >= 13, w <= Int(STRATA_WINOGRAD_PADDED_ROW_MAX), h >= 8 { return 4 }
        guard h % 4 == 0, w % 4 == 0, h >= 8 else { return 2 }
        return w % 16 == 0 || w == 8 || (h >= 24 && w >= 24) ? 4 : 2
    }

    /// Whether `plan` is the case the kernels take.
    static func supports(_ plan: ConvPlan) -> Bool {
        let g = plan.geometry
        return plan.groups == 1 && g.kernelH == 3 && g.kernelW == 3 && g.strideH == 1 && g.strideW == 1
            && g.dilationH == 1 && g.dilationW == 1 && g.padTop == 1 && g.padLeft == 1
            && g.outH == g.height && g.outW == g.width
    }

    /// Tiles of one H x W plane: ceil(H/m) * ceil(W/m).
    static func tiles(height: Int, width: Int, tile m: Int) -> Int { ((height + m - 1) / m) * ((width + m - 1) / m) }

    /// Positions of a transformed tile: (m+2)^2.
    static func positions(tile m: Int) -> Int { (m + 2) * (m + 2) }

    /// Floats of the kernels' per-call scratch for H x W planes (the padded
    /// plane split by row and column offset).
    static func scratchCount(height: Int, width: Int, tile: Int) -> Int {
        Int(strata_winograd_scratch(Int32(tile), Int64(height), Int64(width)))
    }

    /// Tiles per kernel call: about the same bytes of V and M for both tile
    /// sizes (16 x 512 against 36 x 256 floats a channel).
    static func chunkTiles(tile: Int) -> Int { tile == 4 ? 256 : 512 }

    /// Slots of the weight gradient (`ConvPlan.weightGradientWinograd`):
    /// at most this many partial sums, whatever the thread count, so that
    /// the sum's order is fixed; 4 keeps two workers balanced while holding
    /// twice the partial sums that one per worker would.
    static let gradientSlots = 4

    /// Samples per kernel call: the multiply runs on blocks of 64 tiles, so
    /// a chunk's tile count is rounded up to 64; take the number of samples
    /// (up to `chunkTiles` tiles' worth) that wastes the least of that.
    static func chunk(tiles t: Int, batch: Int, tile: Int) -> Int {
        var best = 1, bestWaste = Double.infinity
        for k in 1...max(1, min(batch, chunkTiles(tile: tile) / t)) {
            let used = k * t, padded = (used + 63) / 64 * 64
            let waste = Double(padded - used) / Double(used)
            if waste < bestWaste - 1e-9 { (best, bestWaste) = (k, waste) }
        }
        return best
    }

    /// out [N, M, H, W] (= or += when `accumulate`) the convolution (+ `bias` [M]) of
    /// x [N, K, H, W] with the transformed kernels `u` [P][mPad][K] of
    /// `tile`; chunks of samples taken one at a time by the workers, each
    /// with its own scratch.
    static func convolve(
        _ x: UnsafePointer<Float>, batch: Int, inChannels k: Int, height h: Int, width w: Int, tile: Int,
        kernels u: UnsafePointer<Float>, mPad: Int, outChannels m: Int,
        into out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil, accumulate: Bool
    ) {
        let t = tiles(height: h, width: w, tile: tile), per = chunk(tiles: t, batch: batch, tile: tile)
        let chunks = (batch + per - 1) / per, nPad = (per * t + 63) / 64 * 64, p = positions(tile: tile)
        let variant = Winograd.variant, padCount = scratchCount(height: h, width: w, tile: tile)
        Threading.parallelDynamic(chunks) { next in
            Workspace.with(count: p * (k * nPad + 16)) { v in
                Workspace.with(count: p * (mPad * nPad + 16)) { products in
                    Workspace.with(count: padCount) { scratch in
                        while let c = next() {
                            let first = c * per, samples = min(per, batch - first)
                            strata_winograd_conv3x3(
                                Int32(tile), x + first * k * h * w, Int64(samples), Int64(k), Int64(h), Int64(w), u, Int64(mPad),
                                Int64(m), out + first * m * h * w, bias, accumulate ? 1 : 0, v, products, scratch, variant)
                        }
                    }
                }
            }
        }
    }

    /// Runs `body` with the transformed kernels of w [O, C, 3, 3] for
    /// `tile`: for the forward convolution (rows O, mPad = O rounded up to
    /// 4) or, with `inputGradient`, for the input gradient's (rows C).
    static func withKernels<R>(
        _ w: UnsafePointer<Float>, outChannels o: Int, inChannels c: Int, inputGradient: Bool, tile: Int,
        _ body: (UnsafePointer<Float>, Int) -> R
    ) -> R {
        let rows = inputGradient ? c : o, k = inputGradient ? o : c
        let mPad = (rows + 3) / 4 * 4
        return Workspace.with(count: positions(tile: tile) * mPad * k) { u in
            // Rows split over the workers: serial, this was 2.5% of
            // conv3x3-64's CPU time with the other core idle.
            Threading.parallelFor(mPad, minChunk: 16) { range in
                strata_winograd_weights(
                    Int32(tile), w, Int64(o), Int64(c), inputGradient ? 1 : 0, u, Int64(mPad), Int64(range.lowerBound),
                    Int64(range.upperBound))
            }
            return body(UnsafePointer(u), mPad)
        }
    }
}

extension ConvPlan {
    /// The Winograd tile size for this plan's planes (2 or 4).
    var winogradTile: Int { Winograd.tile(height: geometry.height, width: geometry.width) }

    /// out = conv(x, W) (+ bias) through Winograd.
    func forwardWinograd(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let g = geometry, tile = winogradTile
        // The bias is added by the output transform as it writes `out`
        // (filling `out` with it first and accumulating cost two passes
        // over the output, the fill on one thread).
        Winograd.withKernels(w, outChannels: outChannels, inChannels: g.channels, inputGradient: false, tile: tile) { u, mPad in
            Winograd.convolve(
                x, batch: batch, inChannels: g.channels, height: g.height, width: g.width, tile: tile,
                kernels: u, mPad: mPad, outChannels: outChannels, into: out, bias: bias, accumulate: false)
        }
    }

    /// dx (= when `freshGX`, else +=) and dW += through Winograd.
    func backwardWinograd(
        x: UnsafePointer<Float>, w: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        gx: UnsafeMutablePointer<Float>?, freshGX: Bool, gw: UnsafeMutablePointer<Float>?
    ) {
        let g = geometry, tile = winogradTile
        if let dx = gx {
            Winograd.withKernels(w, outChannels: outChannels, inChannels: g.channels, inputGradient: true, tile: tile) { u, mPad in
                Winograd.convolve(
                    gradOut, batch: batch, inChannels: outChannels, height: g.height, width: g.width, tile: tile,
                    kernels: u, mPad: mPad, outChannels: g.channels, into: dx, accumulate: !freshGX)
            }
        }
        if let dW = gw { weightGradientWinograd(x: x, gradOut: gradOut, gw: dW, tile: tile) }
    }

    /// dW += G^T [sum over tiles (A dY A^T) ⊙ (B^T d B)] G over chunks of
    /// at least `Winograd.chunkTiles` tiles. The chunks form a fixed number
    /// of slots (`gradientSlots`, runs of consecutive chunks), which the
    /// workers take one at a time; each slot sums into its own dU
    /// [P][O][C], and the slots' dU are added in slot order before one
    /// kernel-space transform adds them to `gw`. The sum's order thus
    /// depends on the shapes alone: the weight gradient is the same bits
    /// for any thread count and any scheduling.
    func weightGradientWinograd(x: UnsafePointer<Float>, gradOut: UnsafePointer<Float>, gw: UnsafeMutablePointer<Float>, tile: Int) {
        let g = geometry, c = g.channels, o = outChannels, p = Winograd.positions(tile: tile)
        let t = Winograd.tiles(height: g.height, width: g.width, tile: tile), target = Winograd.chunkTiles(tile: tile)
        let per = max(1, min(batch, (target + t - 1) / t)), chunks = (batch + per - 1) / per
        let nPad = (per * t + 63) / 64 * 64, mPad = (o + 3) / 4 * 4, kPad = (c + 3) / 4 * 4
        let variant = Winograd.variant, padCount = Winograd.scratchCount(height: g.height, width: g.width, tile: tile)
        let slots = min(chunks, Winograd.gradientSlots), duCount = p * mPad * kPad
        guard slots > 0 else { return }  // an empty batch adds nothing
        Workspace.with(count: slots * duCount, zeroed: true) { dus in
            Threading.parallelDynamic(slots) { next in
                Workspace.with(count: p * (kPad * nPad + 16)) { v in
                    Workspace.with(count: p * (mPad * nPad + 16)) { d in
                        Workspace.with(count: padCount) { scratch in
                            while let slot = next() {
                                for ci in (chunks * slot / slots)..<(chunks * (slot + 1) / slots) {
                                    let first = ci * per, samples = min(per, batch - first)
                                    strata_winograd_weight_grad(
                                        Int32(tile), x + first * inSample, gradOut + first * outSample, Int64(samples),
                                        Int64(c), Int64(o), Int64(g.height), Int64(g.width), dus + slot * duCount,
                                        Int64(mPad), Int64(kPad), v, d, scratch, variant)
                                }
                            }
                        }
                    }
                }
            }
            for slot in 1..<slots {
                let du = dus + slot * duCount
                for i in 0..<duCount { dus[i] += du[i] }
            }
            strata_winograd_weight_grad_finish(Int32(tile), dus, Int64(o), Int64(c), Int64(mPad), Int64(kPad), gw)
        }
    }
}
