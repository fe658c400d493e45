import Foundation
import Strata

/// Timing protocol (the PyTorch script `Benchmarks/pytorch_bench.py` follows
/// the same one, so that figures line up):
///
/// 1. Warm-up: the body runs until `warmupSeconds` have passed and at least
///    `warmupCalls` times. Nothing of it is recorded.
/// 2. Calibration: from the warm-up's mean time per call, `inner` calls are
///    grouped into one sample so that a sample lasts at least
///    `minSampleSeconds` (the clock's resolution and overhead become
///    negligible for microsecond kernels). Each sample is divided by `inner`.
/// 3. Samples: taken until `budgetSeconds` have passed and at least
///    `minSamples` exist (or `maxSamples` is reached).
///
/// Every body returns a `Float` read from its output; the harness folds it
/// into a checksum that is printed and stored, so the optimiser cannot drop
/// the work.
struct TimingPolicy {
    var warmupSeconds = 0.3
    var warmupCalls = 2
    var minSampleSeconds = 0.002
    var budgetSeconds = 1.5
    var minSamples = 5
    var maxSamples = 1000

    static let full = TimingPolicy()
    static let quick = TimingPolicy(
        warmupSeconds: 0.05, warmupCalls: 1, minSampleSeconds: 0.001,
        budgetSeconds: 0.15, minSamples: 3, maxSamples: 200)
}

/// Monotonic time in seconds.
@inline(__always) func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Seconds per call of each sample, plus the grouping used.
struct Samples {
    var seconds: [Double]
    var inner: Int
    var checksum: Double
}

/// Order statistics of a sample set. Percentiles interpolate linearly
/// between order statistics (numpy's default), as the Python side does.
struct Stats {
    let median, min, max, p10, p90: Double

    init(_ values: [Double]) {
        let s = values.sorted()
        func q(_ p: Double) -> Double {
            if s.isEmpty { return .nan }
            let pos = p * Double(s.count - 1)
            let lo = Int(pos.rounded(.down)), hi = Swift.min(lo + 1, s.count - 1)
            return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
        }
        median = q(0.5); min = s.first ?? .nan; max = s.last ?? .nan
        p10 = q(0.1); p90 = q(0.9)
    }
}

/// Measures bodies under one timing policy.
struct Timer {
    let policy: TimingPolicy

    /// Times `bodies` interleaved: each sample runs every body in turn (each
    /// timed on its own), so slow drifts of the machine hit all of them alike.
    func interleaved(_ bodies: [() -> Float]) -> [Samples] {
        var checksum = Array(repeating: 0.0, count: bodies.count)
        // Warm-up and calibration, per body.
        var inner = Array(repeating: 1, count: bodies.count)
        for (b, body) in bodies.enumerated() {
            let start = now()
            var calls = 0
            repeat {
                checksum[b] += Double(body())
                calls += 1
            } while calls < policy.warmupCalls || now() - start < policy.warmupSeconds
            let perCall = (now() - start) / Double(calls)
            inner[b] = Swift.max(1, Int((policy.minSampleSeconds / Swift.max(perCall, 1e-9)).rounded(.up)))
        }
        var seconds = Array(repeating: [Double](), count: bodies.count)
        let start = now()
        while true {
            for (b, body) in bodies.enumerated() {
                let t0 = now()
                var acc: Float = 0
                for _ in 0..<inner[b] { acc += body() }
                let t1 = now()
                checksum[b] += Double(acc)
                seconds[b].append((t1 - t0) / Double(inner[b]))
            }
            let n = seconds[0].count
            if n >= policy.maxSamples { break }
            if n >= policy.minSamples && now() - start >= policy.budgetSeconds { break }
        }
        return bodies.indices.map { Samples(seconds: seconds[$0], inner: inner[$0], checksum: checksum[$0]) }
    }

    /// Times one body.
    func measure(_ body: @escaping () -> Float) -> Samples { interleaved([body])[0] }

    /// Runs `body` exactly `count` times after `warmup` (a separate closure,
    /// for long workloads such as a whole epoch where the warm-up is a few
    /// steps); each call is one sample.
    func fixed(count: Int, warmup: () -> Float, _ body: () -> Float) -> Samples {
        var checksum = Double(warmup())
        var seconds: [Double] = []
        for _ in 0..<Swift.max(count, 1) {
            let t0 = now()
            let v = body()
            seconds.append(now() - t0)
            checksum += Double(v)
        }
        return Samples(seconds: seconds, inner: 1, checksum: checksum)
    }
}

/// The unit of a record, and how a time per call maps onto it.
enum BenchUnit: String, Codable {
    case gflops = "GFLOP/s", gbps = "GB/s", ms, us, s
    case stepsPerSecond = "steps/s", imagesPerSecond = "images/s", ratio = "x"

    /// Whether a larger value is better (rates) or worse (times).
    var higherIsBetter: Bool {
        switch self {
        case .ms, .us, .s: return false
        default: return true
        }
    }

    /// The value in this unit for `seconds` per call, `work` being the FLOPs,
    /// bytes or images of one call.
    func value(seconds: Double, work: Double) -> Double {
        switch self {
        case .ms: return seconds * 1e3
        case .us: return seconds * 1e6
        case .s: return seconds
        case .gflops, .gbps: return work / seconds / 1e9
        case .stepsPerSecond: return 1 / seconds
        case .imagesPerSecond: return work / seconds
        case .ratio: return seconds
        }
    }
}

/// One line of `bench-results.json`. The order statistics are in `unit`
/// (for rates, `min` is the slowest sample). `gflops`/`gbps` are the
/// arithmetic or compulsory-memory rate at the median, and the fractions
/// compare them with the limits measured in the same run.
struct Record: Codable {
    var id: String
    var threads: Int
    var value: Double
    var unit: String
    var median: Double
    var min: Double
    var max: Double
    var p10: Double
    var p90: Double
    var samples: Int
    var inner: Int
    var median_seconds: Double
    var checksum: Double
    var gflops: Double?
    var gbps: Double?
    var fraction_of_peak_sgemm: Double?
    var fraction_of_bandwidth: Double?
    var peak_rss_mb: Double?
    var note: String?

    /// A record from timed samples. `flops` and `bytes` per call, when
    /// given, add the GFLOP/s and GB/s at the median; `work` feeds the unit
    /// (images per call for images/s; FLOPs for GFLOP/s; bytes for GB/s).
    init(
        id: String, threads: Int, unit: BenchUnit, samples s: Samples,
        work: Double = 0, flops: Double? = nil, bytes: Double? = nil, note: String? = nil
    ) {
        let values = s.seconds.map { unit.value(seconds: $0, work: work) }
        let st = Stats(values)
        let medianSeconds = Stats(s.seconds).median
        self.id = id; self.threads = threads; self.unit = unit.rawValue
        self.value = st.median; self.median = st.median
        self.min = st.min; self.max = st.max; self.p10 = st.p10; self.p90 = st.p90
        self.samples = s.seconds.count; self.inner = s.inner
        self.median_seconds = medianSeconds
        self.checksum = s.checksum
        self.gflops = flops.map { $0 / medianSeconds / 1e9 }
        self.gbps = bytes.map { $0 / medianSeconds / 1e9 }
        self.note = note
    }

    /// A derived record (a ratio), with no samples of its own.
    init(id: String, threads: Int, ratio: Double, note: String) {
        self.id = id; self.threads = threads; self.unit = BenchUnit.ratio.rawValue
        value = ratio; median = ratio; min = ratio; max = ratio; p10 = ratio; p90 = ratio
        samples = 0; inner = 0; median_seconds = 0; checksum = 0
        self.note = note
    }
}

/// Element `i` of `t`, read while `t` is kept alive. Bodies return this
/// from their outputs (`element(conv(x), 5)`): reading `.data` of a
/// temporary directly would race with its deallocation.
@inline(never)
func element(_ t: Tensor?, _ i: Int) -> Float {
    guard let t else { return 0 }
    return t.withUnsafeBufferPointer { $0[min(i, $0.count - 1)] }
}
