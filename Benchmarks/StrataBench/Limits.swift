import Foundation
import Strata

/// Physical limits of this machine, measured in the same run as the
/// workloads so that every kernel can be stated as a fraction of them.
///
/// - `limit:sgemm-peak`: raw `BLAS.sgemm` on 2048^3 (GFLOP/s), the best the
///   BLAS in use does on a large, friendly shape.
/// - `limit:bw-copy`, `limit:bw-triad`: streaming bandwidth over arrays of
///   256 MB each (far beyond the 32 MB L3), STREAM's counting: copy moves
///   2 x 256 MB per pass (b = a), triad 3 x 256 MB (a = b + s c); the
///   write-allocate reads are not counted. With 2 threads each thread
///   streams its own half through `Threading.parallelFor`.
///
/// Fractions of bandwidth use the larger of copy and triad.
let limitsWorkload = Workload(name: "limit", ids: ["limit:sgemm-peak", "limit:bw-copy", "limit:bw-triad"]) { run, threads in
    if run.wants("limit:sgemm-peak") {
        let n = run.quick ? 1024 : 2048
        let a = Tensor.randn([n, n]), b = Tensor.randn([n, n])
        let c = Tensor(zeros: [n, n])
        let flops = 2 * Double(n) * Double(n) * Double(n)
        let s = run.timer.measure {
            BLAS.sgemm(
                transA: .none, transB: .none, m: n, n: n, k: n, alpha: 1, a: a.data, lda: n,
                b: b.data, ldb: n, beta: 0, c: c.data, ldc: n)
            return c.data[3]
        }
        run.add(
            Record(
                id: "limit:sgemm-peak", threads: threads, unit: .gflops, samples: s, work: flops, flops: flops,
                note: "raw BLAS.sgemm \(n)^3"))
    }
    guard run.wants("limit:bw-copy") || run.wants("limit:bw-triad") else { return }
    let megabytes = run.quick ? 64 : 256
    let n = megabytes * 1024 * 1024 / MemoryLayout<Float>.size
    let a = Tensor(zeros: [n]), b = Tensor(zeros: [n]), c = Tensor(zeros: [n])
    a.fill(1); b.fill(2); c.fill(0.5)
    let pa = a.data, pb = b.data, pc = c.data
    let minChunk = 1 << 16
    var probe = 0
    if run.wants("limit:bw-copy") {
        let s = run.timer.measure {
            Threading.parallelFor(n, minChunk: minChunk) { r in streamCopy(pa, pb, r) }
            probe = (probe &+ 7919) % n
            return pb[probe]
        }
        run.add(
            Record(
                id: "limit:bw-copy", threads: threads, unit: .gbps, samples: s,
                work: Double(2 * n * 4), bytes: Double(2 * n * 4), note: "b = a over \(megabytes) MB arrays"))
    }
    if run.wants("limit:bw-triad") {
        let s = run.timer.measure {
            Threading.parallelFor(n, minChunk: minChunk) { r in streamTriad(pa, pb, pc, 0.5, r) }
            probe = (probe &+ 7919) % n
            return pa[probe]
        }
        run.add(
            Record(
                id: "limit:bw-triad", threads: threads, unit: .gbps, samples: s,
                work: Double(3 * n * 4), bytes: Double(3 * n * 4), note: "a = b + s*c over \(megabytes) MB arrays"))
    }
}

/// dst[i] = src[i] over `range`.
@inline(never)
func streamCopy(_ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
    for i in range { dst[i] = src[i] }
}

/// a[i] = b[i] + s * c[i] over `range`.
@inline(never)
func streamTriad(
    _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    _ s: Float, _ range: Range<Int>
) {
    for i in range { a[i] = b[i] + s * c[i] }
}

/// Attaches to each record its fraction of the limits measured at the same
/// thread count: GFLOP/s over the sgemm peak, GB/s over the best of copy
/// and triad bandwidth.
func attachFractions(_ run: BenchRun) {
    var peak: [Int: Double] = [:], bandwidth: [Int: Double] = [:]
    for r in run.records {
        if r.id == "limit:sgemm-peak" { peak[r.threads] = r.median }
        if r.id == "limit:bw-copy" || r.id == "limit:bw-triad" {
            bandwidth[r.threads] = max(bandwidth[r.threads] ?? 0, r.median)
        }
    }
    run.updateRecords { r in
        guard !r.id.hasPrefix("limit:") else { return }
        if let g = r.gflops, let p = peak[r.threads] { r.fraction_of_peak_sgemm = g / p }
        if let g = r.gbps, let b = bandwidth[r.threads] { r.fraction_of_bandwidth = g / b }
    }
}
