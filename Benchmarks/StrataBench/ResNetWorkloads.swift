import Foundation
import Strata

// ResNet-20 for 32x32 inputs (He et al. 2016, §4.2, the model zoo's
// `CIFARResNet.resnet20()`) and two of its convolutions on their own:
// resnet20-step, resnet20-eval, resnet20-eval:folded, conv3x3-16, conv3x3-64.
// These are issue 14's workloads, not WORKLOADS.md's; the PyTorch side
// (Benchmarks/pytorch_bench.py) writes the same network plainly.
//
// FLOPs are useful FLOPs of the convolutions and the Linear only (direct
// convolution, a multiply-add counts 2); BatchNorm, ReLU, the shortcut
// additions, pooling and the loss are not counted.

let resnetWorkloads: [Workload] = [resnet20StepWorkload, resnet20EvalWorkload, conv3x3Workload]

/// Multiply-adds of one forward pass, per Conv2d and Linear in call order,
/// measured with forward hooks on one pass of `model` over `input`: a layer's
/// output element count times the multiply-adds per output element
/// (`weight.count / weight.shape[0]`, i.e. Cin/groups x kh x kw for a
/// convolution, inFeatures for a Linear). The pass runs under no-grad.
func forwardMultiplyAdds(_ model: any Module, input: Tensor) -> [(name: String, macs: Double)] {
    var layers: [(name: String, macs: Double)] = []
    var handles: [ModuleHookHandle] = []
    for (name, m) in model.namedModules() {
        let weight: Tensor
        if let conv = m as? Conv2d {
            weight = conv.weight
        } else if let linear = m as? Linear {
            weight = linear.weight
        } else {
            continue
        }
        let perOutput = Double(weight.count / max(weight.shape.first ?? 1, 1))
        handles.append(
            m.registerForwardHook { _, _, y in
                layers.append((name, Double(y.count) * perOutput))
                return nil
            })
    }
    _ = withNoGrad { model(input) }
    for h in handles { h.remove() }
    return layers
}

/// ResNet-20's useful FLOPs per 3x32x32 image: the forward, and one
/// training step counted as 3 x forward for every convolution and Linear
/// (output, weight gradient, input gradient) less the stem convolution's
/// input gradient, which is not computed (the images do not require grad).
/// The forward is 40,813,184 multiply-adds per image.
func resnet20FlopsPerImage() -> (forward: Double, trainStep: Double, forwardMultiplyAdds: Double) {
    let probe = CIFARResNet.resnet20(generator: RandomGenerator(seed: 0))
    probe.eval()
    let layers = forwardMultiplyAdds(probe, input: Tensor(zeros: [1, 3, 32, 32]))
    let macs = layers.reduce(0) { $0 + $1.macs }
    let stem = layers.first?.macs ?? 0
    return (2 * macs, 2 * (3 * macs - stem), macs)
}

// MARK: - resnet20-step

/// One SGD step (lr 0.1, momentum 0.9, weight decay 5e-4) of ResNet-20 on a
/// batch of 128 random N(0, 1) images [128, 3, 32, 32] with random labels:
/// zero_grad, forward, softmax cross-entropy, backward, step. images/s.
let resnet20StepWorkload = Workload(name: "resnet20-step", ids: ["resnet20-step"]) { run, threads in
    let batch = 128
    let model = CIFARResNet.resnet20()
    let opt = SGD(parameters: model.parameters(), learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
    let x = Tensor.randn([batch, 3, 32, 32])
    let gen = RandomGenerator(seed: 6)
    let labels = (0..<batch).map { _ in gen.nextInt(below: 10) }
    let flops = resnet20FlopsPerImage()
    let s = run.timer.measure { trainStep(model, opt, x, labels) }
    run.add(
        Record(
            id: "resnet20-step", threads: threads, unit: .imagesPerSecond, samples: s, work: Double(batch),
            flops: Double(batch) * flops.trainStep,
            note: "zero_grad, forward, cross-entropy, backward, SGD momentum 0.9 wd 5e-4; batch 128"))
}

// MARK: - resnet20-eval, resnet20-eval:folded

/// ResNet-20's forward in eval mode under no-grad on 256 random images;
/// `:folded` runs the same network with every BatchNorm folded into the
/// convolution before it (`foldedResNet20`). Before timing, two train-mode
/// forwards of 32 images give the BatchNorms non-trivial running statistics,
/// and the note records the largest difference between the two networks'
/// eval outputs on 8 images.
let resnet20EvalWorkload = Workload(name: "resnet20-eval", ids: ["resnet20-eval", "resnet20-eval:folded"]) {
    run, threads in
    let batch = 256
    let model = CIFARResNet.resnet20()
    withNoGrad {
        for _ in 0..<2 { _ = model(Tensor.randn([32, 3, 32, 32])) }
    }
    model.eval()
    let x = Tensor.randn([batch, 3, 32, 32])
    let flops = Double(batch) * resnet20FlopsPerImage().forward
    if run.wants("resnet20-eval") {
        let s = run.timer.measure { withNoGrad { element(model(x), 5) } }
        run.add(
            Record(
                id: "resnet20-eval", threads: threads, unit: .imagesPerSecond, samples: s, work: Double(batch),
                flops: flops, note: "eval mode, no grad, batch 256"))
    }
    if run.wants("resnet20-eval:folded") {
        guard let folded = foldedResNet20(model) else {
            print("resnet20-eval:folded: the model's stages are not lists of BasicBlocks; skipped")
            return
        }
        let probe = Tensor.randn([8, 3, 32, 32])
        let gap = withNoGrad { maxAbsDifference(model(probe), folded(probe)) }
        let s = run.timer.measure { withNoGrad { element(folded(x), 5) } }
        run.add(
            Record(
                id: "resnet20-eval:folded", threads: threads, unit: .imagesPerSecond, samples: s, work: Double(batch),
                flops: flops,
                note: "BatchNorm folded into the convolutions, eval, no grad, batch 256; max |folded - unfolded| = \(gap)"
            ))
    }
}

/// Largest |a - b| over two tensors of one shape.
func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    let x = a.scalars, y = b.scalars
    return zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// A `BasicBlock` with each BatchNorm folded into the convolution before it
/// (`foldBatchNorm(conv, bn)`; the projection shortcut through
/// `foldBatchNorm(Sequential)`). Eval only: it has no BatchNorm left.
final class FoldedBasicBlock: Module {
    var training = false
    let conv1: Conv2d
    let relu = ReLU()
    let conv2: Conv2d
    let downsample: Sequential?

    init(_ block: BasicBlock) {
        conv1 = foldBatchNorm(block.conv1, block.bn1)
        conv2 = foldBatchNorm(block.conv2, block.bn2)
        downsample = block.downsample.map { foldBatchNorm($0) }
    }

    /// Input [N, inPlanes, H, W], output [N, planes, H/stride, W/stride].
    func forward(_ x: Tensor) -> Tensor {
        let identity = downsample.map { $0(x) } ?? x
        return relu(conv2(relu(conv1(x))) + identity)
    }
}

/// `model` (in eval mode) as one Sequential with every BatchNorm folded:
/// folded stem conv, ReLU, the three stages of `FoldedBasicBlock`, global
/// average pooling, flatten, `fc` (shared). Input [N, 3, 32, 32], output
/// [N, 10]. Nil if a stage holds anything but BasicBlocks.
func foldedResNet20(_ model: CIFARResNet) -> Sequential? {
    var stages: [any Module] = []
    for stage in [model.layer1, model.layer2, model.layer3] {
        let blocks = stage.layers.compactMap { $0 as? BasicBlock }
        guard blocks.count == stage.layers.count else { return nil }
        stages.append(Sequential(blocks.map { FoldedBasicBlock($0) }))
    }
    let folded = Sequential(
        [foldBatchNorm(model.conv1, model.bn1), ReLU()] + stages
            + [AdaptiveAvgPool2d(outputSize: 1), Flatten(), model.fc] as [any Module])
    folded.eval()
    return folded
}

// MARK: - conv3x3-16, conv3x3-64

/// ResNet-20's first- and last-stage convolutions alone: Conv2d 16 -> 16 on
/// 128 x 16 x 32 x 32 and Conv2d 64 -> 64 on 128 x 64 x 8 x 8, kernel 3,
/// padding 1, no bias; forward + backward from a fixed upstream gradient,
/// input gradient included. FLOPs: 3 x forward (output, dW, dx).
let conv3x3Workload = Workload(name: "conv3x3", ids: ["conv3x3-16", "conv3x3-64"]) { run, threads in
    for (channels, size) in [(16, 32), (64, 8)] {
        let id = "conv3x3-\(channels)"
        guard run.wants(id) else { continue }
        let conv = Conv2d(channels, channels, kernelSize: 3, padding: 1, bias: false)
        let x = Tensor.randn([128, channels, size, size], requiresGrad: true)
        let g = Tensor.randn([128, channels, size, size])
        let flops = 3 * convFlops(batch: 128, inC: channels, outC: channels, outH: size, outW: size, kernel: 3)
        let s = run.timer.measure {
            x.grad = nil
            conv.zeroGrad()
            conv(x).backward(g)
            return element(x.grad, 5) + element(conv.weight.grad, 1)
        }
        run.add(
            Record(
                id: id, threads: threads, unit: .ms, samples: s, flops: flops,
                note: "forward + backward, input gradient included, no bias"))
    }
}
