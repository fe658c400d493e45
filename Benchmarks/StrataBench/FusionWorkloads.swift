import Foundation
import Strata

// bn-add-relu: the tail of a ResNet basic block, relu(bn(x) + shortcut), on
// its own. Not a WORKLOADS.md workload: it measures issue 14's BatchNorm
// fusion; Benchmarks/pytorch_bench.py times the same expression eagerly.

let fusionWorkloads: [Workload] = [bnAddReLUWorkload]

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
    if run.wants("bn-add-relu") {
        run.add(
            Record(
                id: "bn-add-relu", threads: threads, unit: .ms, samples: s[0], bytes: 8 * size,
                note: "fused BatchNorm2d + shortcut add + ReLU, train forward + backward"))
    }
    if run.wants("bn-add-relu:separate") {
        run.add(
            Record(
                id: "bn-add-relu:separate", threads: threads, unit: .ms, samples: s[1], bytes: 8 * size,
                note: "the same three modules called one by one (interleaved with the fused op)"))
    }
}
