import Foundation
import Strata

/// Collects the records of one run and decides which ids are wanted.
final class BenchRun {
    let timer: Timer
    let quick: Bool
    let filters: [String]
    private(set) var records: [Record] = []

    init(timer: Timer, quick: Bool, filters: [String]) {
        self.timer = timer
        self.quick = quick
        self.filters = filters
    }

    /// Whether record `id` was asked for (`--filter` terms match an id or
    /// any prefix of it, such as `bn2d` or `bn2d:eval`).
    func wants(_ id: String) -> Bool {
        filters.isEmpty || filters.contains { id.hasPrefix($0) }
    }

    /// Stores a record and prints its line.
    func add(_ record: Record) {
        records.append(record)
        Report.printProgress(record)
    }

    /// Applies `f` to the stored records (to attach fractions of the limits).
    func updateRecords(_ f: (inout Record) -> Void) {
        for i in records.indices { f(&records[i]) }
    }
}

/// A measured piece of work: a setup plus one or more timed bodies, run
/// once per thread count. `ids` lists the record ids it can produce.
struct Workload: Sendable {
    let name: String
    let ids: [String]
    /// Run before everything else (so that its peak RSS is its own).
    var runsFirst = false
    let run: @Sendable (BenchRun, _ threads: Int) -> Void
}

/// Every workload, in report order: the ones this branch's library
/// supports, then those that need Conv2d, BatchNorm and pooling
/// (`NetworkWorkloads.swift`), then ResNet-20 and its convolutions
/// (`ResNetWorkloads.swift`), the fused block tail (`FusionWorkloads.swift`),
/// then data loading (`DataWorkloads.swift`).
func allWorkloads() -> [Workload] {
    [limitsWorkload, gemmWorkload, linearWorkload] + networkWorkloads + resnetWorkloads + fusionWorkloads
        + [imageFolderLoadWorkload]
}

/// Record ids that exist in WORKLOADS.md but have no Strata workload yet.
func missingWorkloadIds() -> [String] {
    let have = Set(allWorkloads().flatMap(\.ids))
    return [
        "gemm", "linear", "conv1", "conv2:fwd", "conv2:fwd-bwd", "bn2d:train-fwd",
        "bn2d:train-fwd-bwd", "bn2d:eval-fwd", "bn1d", "mlp-step", "cnn-step", "cnn-epoch",
    ]
    .filter { !have.contains($0) }
}

// MARK: - gemm

/// 1024^3 through `matmul` and through a raw `BLAS.sgemm` of the same size,
/// one after the other in the same process: all of matmul's samples first.
/// Not interleaved: the raw call runs on OpenBLAS's own threads, which spin
/// for a while after each call (OpenBLAS's thread timeout), and matmul,
/// whose slabs run on Strata's workers, then shared a core with a spinning
/// thread: interleaved, it read 87-90 GFLOP/s at 2 threads against the raw
/// call's 155-165 in two runs of three (with OPENBLAS_THREAD_TIMEOUT=4,
/// 164-179 against 156-179).
let gemmWorkload = Workload(name: "gemm", ids: ["gemm", "gemm:raw-sgemm", "gemm:ratio"]) { run, threads in
    let n = 1024
    let a = Tensor.randn([n, n]), b = Tensor.randn([n, n])
    let c = Tensor(zeros: [n, n])
    let flops = 2 * Double(n) * Double(n) * Double(n)
    let s = [
        run.timer.measure { element(matmul(a, b), n + 1) },
        run.timer.measure {
            BLAS.sgemm(
                transA: .none, transB: .none, m: n, n: n, k: n, alpha: 1, a: a.data, lda: n,
                b: b.data, ldb: n, beta: 0, c: c.data, ldc: n)
            return c.data[n + 1]
        },
    ]
    let lib = Record(
        id: "gemm", threads: threads, unit: .gflops, samples: s[0], work: flops, flops: flops,
        note: "matmul(a, b), 1024x1024x1024, output allocated per call")
    let raw = Record(
        id: "gemm:raw-sgemm", threads: threads, unit: .gflops, samples: s[1], work: flops, flops: flops,
        note: "BLAS.sgemm into a preallocated C, after gemm's samples")
    run.add(lib)
    run.add(raw)
    run.add(
        Record(
            id: "gemm:ratio", threads: threads, ratio: lib.median / raw.median,
            note: "median GFLOP/s of matmul / median GFLOP/s of raw sgemm"))
}

// MARK: - linear

/// Linear(784 -> 512) on a batch of 256: forward, then backward from a fixed
/// upstream gradient, with the input gradient. Gradients are reset to nil
/// before each step (PyTorch's zero_grad(set_to_none=True)).
let linearWorkload = Workload(name: "linear", ids: ["linear"]) { run, threads in
    let (batch, inF, outF) = (256, 784, 512)
    let layer = Linear(inF, outF)
    let x = Tensor.randn([batch, inF], requiresGrad: true)
    let g = Tensor.randn([batch, outF])
    let flops = 3 * 2 * Double(batch * inF * outF)
    let s = run.timer.measure {
        x.grad = nil
        layer.zeroGrad()
        let y = layer(x)
        y.backward(g)
        return element(x.grad, 1) + element(layer.weight.grad, 1)
    }
    run.add(
        Record(
            id: "linear", threads: threads, unit: .ms, samples: s, flops: flops,
            note: "forward + backward, input gradient included"))
}
