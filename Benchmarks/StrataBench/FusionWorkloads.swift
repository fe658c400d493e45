import Foundation
import Strata

// bn-add-relu: the tail of a ResNet basic block, relu(bn(x) + shortcut), on
// its own; bn-relu-pool: the reference CNN's first block after its
// convolution, maxPool2d(relu(bn(x)), 2). Not WORKLOADS.md workloads: they
// measure issue 14's BatchNorm fusions; Benchmarks/pytorch_bench.py times
// the same expressions eagerly.

let fusionWorkloads: [Workload] = [bnAddReLUWorkload, bnReLUPoolWorkload]

/// relu(bn(x) + shortcut) forward + backward in train mode on ResNet-20's
/// first-stage activation, 128 x 16 x 32 x 32 (8.4 MB), with gradients to
/// x, the shortcut and BatchNorm's weight and bias.
///
/// - `bn-add-relu`: `fusedBatchNorm` (what `BasicBlock` runs);
/// - `bn-add-relu:separate`: the same BatchNorm2d, `+` and ReLU called one by
///   one, interleaved sample by sample with the fused op in one process.
///
/// Compulsory traffic: forward reads x and the shortcut and writes the
/// output; backward reads dy, the output and x and writes dx and the
/// shortcut's gradient: 8 x size.
let bnAddReLUWorkload = Workload(name: "bn-add-relu", ids: ["bn-add-relu", "bn-add-relu:separate"]) { run, threads in
    guard run.wants("bn-add-relu") || run.wants("bn-add-relu:separate") else { return }
    let shape = [128, 16, 32, 32]
    let bn = BatchNorm2d(16)
    let relu = ReLU()
    let x = Tensor.randn(shape, requiresGrad: true)
    let shortcut = Tensor.randn(shape, requiresGrad: true)
    let g = Tensor.randn(shape)
    let size = Double(x.count * MemoryLayout<Float>.size)
    func step(_ body: () -> Tensor) -> Float {
        x.grad = nil
        shortcut.grad = nil
        bn.zeroGrad()
        body().backward(g)
        return element(x.grad, 5) + element(shortcut.grad, 7)
    }
    let s = run.timer.interleaved([
        { step { fusedBatchNorm(bn, x, adding: shortcut, relu: relu) } },
        { step { relu(bn(x) + shortcut) } },
    ])
    addFusedAndSeparate(
        run, id: "bn-add-relu", threads: threads, samples: s, bytes: 8 * size,
        note: "fused BatchNorm2d + shortcut add + ReLU, train forward + backward")
}

/// The records `id` (samples[0], the fused op) and `id:separate`
/// (samples[1], the modules one by one), each if the run wants it.
func addFusedAndSeparate(_ run: BenchRun, id: String, threads: Int, samples: [Samples], bytes: Double, note: String) {
    if run.wants(id) {
        run.add(Record(id: id, threads: threads, unit: .ms, samples: samples[0], bytes: bytes, note: note))
    }
    if run.wants(id + ":separate") {
        run.add(
            Record(
                id: id + ":separate", threads: threads, unit: .ms, samples: samples[1], bytes: bytes,
                note: "the same three modules called one by one (interleaved with the fused op)"))
    }
}

/// maxPool2d(relu(bn(x)), 2) forward + backward in train mode on the
/// reference CNN's first activation, 128 x 32 x 28 x 28 (12.8 MB), with
/// gradients to x and BatchNorm's weight and bias.
///
/// - `bn-relu-pool`: `fusedBatchNorm(_:_:relu:maxPool:)` (what `Sequential`
///   runs for BatchNorm2d, ReLU, MaxPool2d(2));
/// - `bn-relu-pool:separate`: the three modules called one by one,
///   interleaved sample by sample with the fused op in one process.
///
/// Compulsory traffic: forward reads x (the pooled output and argmax are a
/// quarter each); backward reads x and writes dx: 3 x size.
let bnReLUPoolWorkload = Workload(name: "bn-relu-pool", ids: ["bn-relu-pool", "bn-relu-pool:separate"]) { run, threads in
    guard run.wants("bn-relu-pool") || run.wants("bn-relu-pool:separate") else { return }
    let bn = BatchNorm2d(32)
    let (relu, pool) = (ReLU(), MaxPool2d(kernelSize: 2))
    let x = Tensor.randn([128, 32, 28, 28], requiresGrad: true)
    let g = Tensor.randn([128, 32, 14, 14])
    let size = Double(x.count * MemoryLayout<Float>.size)
    func step(_ body: () -> Tensor) -> Float {
        x.grad = nil
        bn.zeroGrad()
        body().backward(g)
        return element(x.grad, 5)
    }
    let s = run.timer.interleaved([
        { step { fusedBatchNorm(bn, x, relu: relu, maxPool: pool) } },
        { step { pool(relu(bn(x))) } },
    ])
    addFusedAndSeparate(
        run, id: "bn-relu-pool", threads: threads, samples: s, bytes: 3 * size,
        note: "fused BatchNorm2d + ReLU + MaxPool2d(2), train forward + backward")
}
