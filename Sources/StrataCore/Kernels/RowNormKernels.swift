/// Kernels for normalisations whose statistics cover contiguous rows
/// (LayerNorm: one row per sample over the normalised trailing dims;
/// GroupNorm: one row per (sample, group), (C/G)*H*W contiguous values).
///
/// A row of `length` values is cut into segments of `segment` values that
/// share one affine index: element (row, pos) uses gamma/beta at
/// (row % groups) * (length / segment) + pos / segment. LayerNorm is
/// groups = 1, segment = 1 (one gamma per position); GroupNorm is
/// groups = G, segment = H*W (one gamma per channel).
package struct RowLayout {
    package var rows: Int
    package var length: Int
    package var segment: Int
    package var groups: Int
    var segmentsPerRow: Int { length / segment }
    @inline(__always) func affineIndex(row: Int, segment j: Int) -> Int { (row % groups) * segmentsPerRow + j }

    package init(rows: Int, length: Int, segment: Int, groups: Int) {
        self.rows = rows
        self.length = length
        self.segment = segment
        self.groups = groups
    }
}

enum RowNormKernels {
    /// Per-row mean and 1/sqrt(biased var + eps) (shifted sums in Double,
    /// with the two-pass fallback of `BatchNormKernels`), then
    /// y = (x - mean) * invStd * gamma + beta.
    static func forward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, layout l: RowLayout, eps: Float,
        gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
        mean: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>
    ) {
        let m = Double(l.length)
        Threading.parallelFor(l.rows, minChunk: max(1, BatchNormKernels.parallelThreshold / max(l.length, 1))) { range in
            for row in range {
                let xr = x + row * l.length, yr = y + row * l.length
                var k = xr[0]
                var (s1, s2) = BatchNormKernels.shiftedSums(xr, l.length, shift: k)
                var v = max(0, (s2 - s1 * s1 / m) / m)
                if (s1 / m) * (s1 / m) > 64 * v && v > 0 {
                    k = Float(Double(k) + s1 / m)
                    (s1, s2) = BatchNormKernels.shiftedSums(xr, l.length, shift: k)
                    v = max(0, (s2 - s1 * s1 / m) / m)
                }
                let mu = Float(Double(k) + s1 / m)
                let s = Float(1 / (v + Double(eps)).squareRoot())
                mean[row] = mu; invStd[row] = s
                for j in 0..<l.segmentsPerRow {
                    let idx = l.affineIndex(row: row, segment: j)
                    let a = (gamma?[idx] ?? 1) * s, b = beta?[idx] ?? 0
                    let off = j * l.segment
                    BatchNormKernels.normaliseRun(xr + off, yr + off, l.segment, mean: mu, a: a, b: b)
                }
            }
        }
    }

    /// Backward. Per row, with dxhat_i = gamma_i dy_i and M = length:
    ///
    ///     dx_i = invStd * (dxhat_i - (1/M) sum_j dxhat_j - xhat_i (1/M) sum_j dxhat_j xhat_j)
    ///
    /// (the BatchNorm derivation with the row in place of the channel and a
    /// per-element gamma). Two passes per row: the sums, then dx. The
    /// parameter gradients dgamma[idx] += sum dy * xhat and
    /// dbeta[idx] += sum dy are gathered in a separate serial pass (rows
    /// share parameters, so a parallel loop would race on them).
    static func backward(
        x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
        accumulate: Bool, layout l: RowLayout, gamma: UnsafePointer<Float>?,
        mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
        dgamma: UnsafeMutablePointer<Float>?, dbeta: UnsafeMutablePointer<Float>?
    ) {
        let M = Float(l.length)
        if let dx {
            Threading.parallelFor(l.rows, minChunk: max(1, BatchNormKernels.parallelThreshold / max(l.length, 1))) { range in
                for row in range {
                    let xr = x + row * l.length, gr = dy + row * l.length, dr = dx + row * l.length
                    let mu = mean[row], s = invStd[row]
                    var sa = 0.0, sb = 0.0
                    for j in 0..<l.segmentsPerRow {
                        let gm = gamma?[l.affineIndex(row: row, segment: j)] ?? 1
                        let off = j * l.segment
                        let (t1, t2) = BatchNormKernels.gradSums(gr + off, xr + off, l.segment, mean: mu)
                        sa += Double(gm) * t1
                        sb += Double(gm) * t2 * Double(s)
                    }
                    // dx = s*gm*dy - s*Sa/M - s*xhat*Sb/M = p*dy + q*x + r per segment.
                    let q = -s * s * Float(sb) / M
                    let r = -s * Float(sa) / M - q * mu
                    for j in 0..<l.segmentsPerRow {
                        let gm = gamma?[l.affineIndex(row: row, segment: j)] ?? 1
                        let off = j * l.segment
                        BatchNormKernels.gradInputRun(
                            gr + off, xr + off, dr + off, l.segment,
                            p: s * gm, q: q, r: r, accumulate: accumulate)
                    }
                }
            }
        }
        guard dgamma != nil || dbeta != nil else { return }
        for row in 0..<l.rows {
            let xr = x + row * l.length, gr = dy + row * l.length
            for j in 0..<l.segmentsPerRow {
                let idx = l.affineIndex(row: row, segment: j)
                let off = j * l.segment
                let (t1, t2) = BatchNormKernels.gradSums(gr + off, xr + off, l.segment, mean: mean[row])
                dgamma?[idx] += Float(t2) * invStd[row]
                dbeta?[idx] += Float(t1)
            }
        }
    }
}
