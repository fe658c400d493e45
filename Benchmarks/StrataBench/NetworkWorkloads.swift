import Foundation
import Strata

// The workloads built on Conv2d, MaxPool2d and BatchNorm1d/2d: conv1, conv2,
// bn2d, bn1d, mlp-step, cnn-step, cnn-epoch.
//
// Shapes, ids and units: the project's shared bench/WORKLOADS.md. "fwd" records run
// with grad mode on (parameters require grad, so the graph is recorded as
// in training) and no backward; "eval-fwd" runs in eval mode under
// `withNoGrad`. Gradients are reset to nil before each step.

let networkWorkloads: [Workload] = [
    conv1Workload, conv2Workload, bn2dWorkload, bn1dWorkload, mlpStepWorkload, cnnStepWorkload, cnnEpochWorkload,
]

/// FLOPs of one forward convolution (multiply-adds counted as 2).
func convFlops(batch: Int, inC: Int, outC: Int, outH: Int, outW: Int, kernel: Int) -> Double {
    2 * Double(batch) * Double(outC) * Double(outH * outW) * Double(inC * kernel * kernel)
}

// MARK: - conv1, conv2

/// Conv2d(1 -> 32, 3, padding 1) on 128 x 1 x 28 x 28, forward + backward
/// (input gradient included). FLOPs: 3 x forward (output, dW, dx).
let conv1Workload = Workload(name: "conv1", ids: ["conv1"]) { run, threads in
    let conv = Conv2d(inputChannels: 1, outputChannels: 32, kernelSize: 3, padding: 1)
    let x = Tensor.randn([128, 1, 28, 28], requiresGrad: true)
    let g = Tensor.randn([128, 32, 28, 28])
    let flops = 3 * convFlops(batch: 128, inC: 1, outC: 32, outH: 28, outW: 28, kernel: 3)
    let s = run.timer.measure {
        x.grad = nil
        conv.zeroGrad()
        conv(x).backward(g)
        return element(x.grad, 5) + element(conv.parameters()[0].grad, 1)
    }
    run.add(
        Record(
            id: "conv1", threads: threads, unit: .ms, samples: s, flops: flops,
            note: "forward + backward, input gradient included"))
}

/// Conv2d(32 -> 64, 3, padding 1) on 64 x 32 x 28 x 28: forward; forward + backward.
let conv2Workload = Workload(name: "conv2", ids: ["conv2:fwd", "conv2:fwd-bwd"]) { run, threads in
    let conv = Conv2d(inputChannels: 32, outputChannels: 64, kernelSize: 3, padding: 1)
    let x = Tensor.randn([64, 32, 28, 28])
    let g = Tensor.randn([64, 64, 28, 28])
    let forward = convFlops(batch: 64, inC: 32, outC: 64, outH: 28, outW: 28, kernel: 3)
    if run.wants("conv2:fwd") {
        let s = run.timer.measure { element(conv(x), 5) }
        run.add(Record(id: "conv2:fwd", threads: threads, unit: .ms, samples: s, flops: forward, note: "forward"))
    }
    if run.wants("conv2:fwd-bwd") {
        x.requiresGrad = true
        let s = run.timer.measure {
            x.grad = nil
            conv.zeroGrad()
            conv(x).backward(g)
            return element(x.grad, 5) + element(conv.parameters()[0].grad, 1)
        }
        run.add(
            Record(
                id: "conv2:fwd-bwd", threads: threads, unit: .ms, samples: s, flops: 3 * forward,
                note: "forward + backward, input gradient included"))
    }
}

// MARK: - bn2d, bn1d

/// BatchNorm2d(64) on 64 x 64 x 28 x 28 (12.8 MB, which fits in a 32 MB L3).
/// Compulsory traffic: forward reads x and writes y (2 x size); backward
/// reads x and dy and writes dx (3 x size); train fwd-bwd counts both.
let bn2dWorkload = Workload(name: "bn2d", ids: ["bn2d:train-fwd", "bn2d:train-fwd-bwd", "bn2d:eval-fwd"]) { run, threads in
    let bn = BatchNorm2d(64)
    let x = Tensor.randn([64, 64, 28, 28])
    let g = Tensor.randn([64, 64, 28, 28])
    let size = Double(x.count * MemoryLayout<Float>.size)
    if run.wants("bn2d:train-fwd") {
        bn.train()
        let s = run.timer.measure { element(bn(x), 5) }
        run.add(
            Record(
                id: "bn2d:train-fwd", threads: threads, unit: .ms, samples: s, bytes: 2 * size,
                note: "train mode, batch statistics, running stats updated"))
    }
    if run.wants("bn2d:train-fwd-bwd") {
        bn.train()
        let xg = x.copy()
        xg.requiresGrad = true
        let s = run.timer.measure {
            xg.grad = nil
            bn.zeroGrad()
            bn(xg).backward(g)
            return element(xg.grad, 5)
        }
        run.add(
            Record(
                id: "bn2d:train-fwd-bwd", threads: threads, unit: .ms, samples: s, bytes: 5 * size,
                note: "train forward + backward, input gradient included"))
    }
    if run.wants("bn2d:eval-fwd") {
        bn.eval()
        let s = run.timer.measure { withNoGrad { element(bn(x), 5) } }
        run.add(
            Record(
                id: "bn2d:eval-fwd", threads: threads, unit: .ms, samples: s, bytes: 2 * size,
                note: "eval mode, running statistics, no grad"))
    }
}

/// BatchNorm1d(100) on 100 x 100, train forward + backward.
let bn1dWorkload = Workload(name: "bn1d", ids: ["bn1d"]) { run, threads in
    let bn = BatchNorm1d(100)
    let x = Tensor.randn([100, 100], requiresGrad: true)
    let g = Tensor.randn([100, 100])
    let s = run.timer.measure {
        x.grad = nil
        bn.zeroGrad()
        bn(x).backward(g)
        return element(x.grad, 5)
    }
    run.add(
        Record(
            id: "bn1d", threads: threads, unit: .us, samples: s, bytes: 5 * Double(x.count * 4),
            note: "train forward + backward, input gradient included"))
}

// MARK: - mlp-step

/// The seed experiment's MLP 784-100-100-100-100-100-10 with BatchNorm1d +
/// ReLU after each hidden Linear; one SGD step (lr 0.01) on a batch of 100.
let mlpStepWorkload = Workload(name: "mlp-step", ids: ["mlp-step"]) { run, threads in
    var layers: [any Module] = []
    var width = 784
    for _ in 0..<5 {
        layers += [Linear(width, 100), BatchNorm1d(100), ReLU()] as [any Module]
        width = 100
    }
    layers.append(Linear(100, 10))
    let model = Sequential(layers)
    let opt = SGD(parameters: model.parameters(), learningRate: 0.01)
    let x = Tensor.randn([100, 784])
    let gen = RandomGenerator(seed: 3)
    let labels = (0..<100).map { _ in gen.nextInt(below: 10) }
    let s = run.timer.measure { trainStep(model, opt, x, labels) }
    run.add(
        Record(
            id: "mlp-step", threads: threads, unit: .stepsPerSecond, samples: s,
            note: "zero_grad, forward, cross-entropy, backward, SGD step"))
}

// MARK: - cnn-step, cnn-epoch

/// The reference CNN of WORKLOADS.md (input 1 x 28 x 28, 10 classes).
func referenceCNN() -> Sequential {
    Sequential(
        Conv2d(inputChannels: 1, outputChannels: 32, kernelSize: 3, padding: 1), BatchNorm2d(32), ReLU(),
        MaxPool2d(kernelSize: 2),
        Conv2d(inputChannels: 32, outputChannels: 64, kernelSize: 3, padding: 1), BatchNorm2d(64), ReLU(),
        MaxPool2d(kernelSize: 2),
        Flatten(), Linear(3136, 128), BatchNorm1d(128), ReLU(), Linear(128, 10))
}

/// One training step; returns the loss.
func trainStep(_ model: any Module, _ opt: SGD, _ x: Tensor, _ labels: [Int]) -> Float {
    opt.zeroGrad()
    let loss = crossEntropy(model(x), labels: labels)
    loss.backward()
    opt.step()
    return loss.item
}

/// One step of the reference CNN (batch 128, SGD lr 0.05 momentum 0.9).
let cnnStepWorkload = Workload(name: "cnn-step", ids: ["cnn-step"]) { run, threads in
    let model = referenceCNN()
    let opt = SGD(parameters: model.parameters(), learningRate: 0.05, momentum: 0.9)
    let x = Tensor.randn([128, 1, 28, 28])
    let gen = RandomGenerator(seed: 4)
    let labels = (0..<128).map { _ in gen.nextInt(below: 10) }
    let s = run.timer.measure { trainStep(model, opt, x, labels) }
    run.add(
        Record(
            id: "cnn-step", threads: threads, unit: .imagesPerSecond, samples: s, work: 128,
            note: "forward, loss, backward, SGD momentum update"))
}

/// The training set, loaded once (untimed) and shared by thread counts.
nonisolated(unsafe) var cachedTrainSet: FashionMNISTTrain?

/// One epoch of the reference CNN over 60,000 images in memory: a fresh
/// shuffle, batches of 128 gathered by index (the last one has 96), one
/// training step each. Runs first so that the peak RSS it reports is its own.
let cnnEpochWorkload = Workload(name: "cnn-epoch", ids: ["cnn-epoch"], runsFirst: true) { run, threads in
    let data: FashionMNISTTrain
    if let d = cachedTrainSet { data = d } else { data = FashionMNISTTrain.load(); cachedTrainSet = data }
    let model = referenceCNN()
    let opt = SGD(parameters: model.parameters(), learningRate: 0.05, momentum: 0.9)
    let gen = RandomGenerator(seed: 5)
    let n = data.labels.count, batch = 128
    let epochs = run.quick ? 0 : benchEpochRepetitions
    // Quick mode times 20 batches only, scaled to an epoch, so a smoke run stays short.
    let batchesTimed = run.quick ? 20 : (n + batch - 1) / batch
    let s = run.timer.fixed(
        count: max(epochs, 1),
        warmup: {
            var acc: Float = 0
            for b in 0..<3 {
                let idx = Array(b * batch..<(b + 1) * batch)
                acc += trainStep(model, opt, data.images.rows(idx), idx.map { data.labels[$0] })
            }
            return acc
        }
    ) {
        let perm = gen.permutation(n)
        var acc: Float = 0
        for b in 0..<batchesTimed {
            let idx = Array(perm[b * batch..<min((b + 1) * batch, n)])
            acc += trainStep(model, opt, data.images.rows(idx), idx.map { data.labels[$0] })
        }
        return acc
    }
    var samples = s
    if run.quick { samples.seconds = s.seconds.map { $0 * Double((n + batch - 1) / batch) / Double(batchesTimed) } }
    var record = Record(
        id: "cnn-epoch", threads: threads, unit: .s, samples: samples, work: Double(n),
        note: "data: \(data.source)\(run.quick ? "; quick: 20 batches scaled to an epoch" : "")")
    record.peak_rss_mb = peakRSSMegabytes()
    run.add(record)
}
