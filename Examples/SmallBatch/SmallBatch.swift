import ArgumentParser
import Foundation
import Strata

/// The reference CNN trained at small batch sizes with BatchNorm, GroupNorm
/// and Batch Renormalization, for a fixed number of training examples.
@main
struct SmallBatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "small-batch",
        abstract: "When BatchNorm breaks: BN vs GroupNorm vs Batch Renorm at batch sizes 2..32 on Fashion-MNIST.",
        discussion: """
            Every run sees the same examples: one pass over a stratified training subset (default 12,000 \
            images) in a shuffled order fixed by the seed. SGD momentum 0.9 with the learning rate scaled \
            linearly with the batch size: lr = base-lr * B / 32 (0.05 at B = 32, 0.003125 at B = 2). \
            GroupNorm uses 8 groups in every norm layer (4, 8 and 16 channels per group for 32, 64, 128 \
            channels). Batch Renorm starts as BatchNorm (rmax 1, dmax 0) and relaxes linearly to rmax 3, \
            dmax 5 between 10% and 50% of the examples. Test accuracy is measured in eval mode on the \
            10,000 test images. Writes results.json, summary.md and accuracy.svg/png into --output.
            """)

    @Option(parsing: .upToNextOption, help: "Batch sizes.") var batchSizes: [Int] = [2, 4, 8, 16, 32]
    @Option(parsing: .upToNextOption, help: "Norms: batch, group, renorm, none.") var norms: [String] = ["batch", "group", "renorm"]
    @Option(help: "Training images seen by every run (one pass over a stratified subset).") var examples = 12_000
    @Option(help: "Learning rate at batch 32 (scaled linearly with the batch size).") var baseLr: Float = 0.05
    @Option(help: "SGD momentum.") var momentum: Float = 0.9
    @Option(help: "Seeds per configuration (accuracies are averaged).") var seeds = 2
    @Option(help: "Evaluate on the first N test images (stratified).") var testSubset: Int?
    @Option(help: "Threads for Strata and OpenBLAS.") var threads: Int?
    @Option(help: "Fashion-MNIST directory.") var dataDir = "/usr/share/datasets/fashion-mnist"
    @Option(help: "Output folder.") var output = "runs/small-batch"

    mutating func run() throws {
        if let t = threads { Threading.count = t }
        let start = Date()
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let kinds = try norms.map { name -> ReferenceCNN.Norm in
            guard let n = ReferenceCNN.Norm(rawValue: name) else { throw ValidationError("unknown norm \(name)") }
            return n
        }
        let full = try Dataset.fashionMNIST(train: true, directory: dataDir)
        let train = try full.stratifiedSplit(firstCount: min(examples, full.count), seed: 7).first
        var test = try Dataset.fashionMNIST(train: false, directory: dataDir)
        if let n = testSubset { test = try test.stratifiedSplit(firstCount: min(n, test.count)).first }
        let stats = train.channelStatistics()
        let norm = (mean: stats.mean, std: stats.std)
        say("small-batch: \(train.count) training examples per run (1 pass), \(test.count) test images, lr = \(baseLr) * B / 32")

        var rows: [(norm: ReferenceCNN.Norm, batch: Int, seed: Int, acc: Double, seconds: Double)] = []
        for kind in kinds {
            for b in batchSizes {
                for s in 0..<seeds {
                    let t0 = Date()
                    let model = ReferenceCNN.make(norm: kind, generator: RandomGenerator(seed: UInt64(100 + s)))
                    let lr = baseLr * Float(b) / 32
                    let opt = SGD(parameters: model.parameters(), learningRate: lr, momentum: momentum)
                    let renorms = ReferenceCNN.renormLayers(model)
                    let loader = DataLoader(
                        train, batchSize: b, shuffle: true, seed: UInt64(200 + s),
                        dropLast: true, normalization: norm)
                    let bar = ProgressBar(total: loader.batchCount)
                    var seen = 0
                    model.train()
                    for batch in loader {
                        for r in renorms {
                            r.setSchedule(step: seen, warmup: train.count / 10, rampSteps: train.count * 4 / 10)
                        }
                        let loss = crossEntropy(model(batch.images), labels: batch.labels)
                        opt.zeroGrad()
                        loss.backward()
                        opt.step()
                        seen += batch.count
                        let v = Double(loss.item)
                        bar.update(loss: v.isFinite ? v : nil, samples: batch.count)
                    }
                    let acc = evaluateClassifier(model, on: test, batchSize: 500, classes: 10, normalization: norm).accuracy
                    let seconds = Date().timeIntervalSince(t0)
                    bar.finish(String(format: "%@ B=%d lr %.5f: test acc %.2f%%", kind.rawValue, b, lr, acc * 100))
                    say(
                        String(
                            format: "%-7@ batch %3d  lr %.5f  seed %d  test acc %6.2f%%  %.1f s", kind.rawValue, b, lr, s, acc * 100,
                            seconds))
                    rows.append((kind, b, s, acc, seconds))
                }
            }
        }
        let wall = Date().timeIntervalSince(start)
        func mean(_ k: ReferenceCNN.Norm, _ b: Int) -> Double {
            let a = rows.filter { $0.norm == k && $0.batch == b }.map(\.acc)
            return a.reduce(0, +) / Double(max(a.count, 1))
        }
        let names: [ReferenceCNN.Norm: String] = [
            .batch: "BatchNorm", .group: "GroupNorm (8 groups)",
            .renorm: "Batch Renorm", .none: "no norm",
        ]
        // Table
        var md = "Test accuracy (eval mode, \(test.count) test images) after one pass over \(train.count) training images; "
        md += "lr = \(baseLr) x B / 32, momentum \(momentum), \(seeds) seed(s).\n\n"
        md += "| batch | lr | " + kinds.map { names[$0] ?? $0.rawValue }.joined(separator: " | ") + " |\n"
        md += "|---:|---:|" + String(repeating: "---:|", count: kinds.count) + "\n"
        for b in batchSizes {
            md +=
                String(format: "| %d | %.5f | ", b, baseLr * Float(b) / 32)
                + kinds.map { String(format: "%.2f%%", mean($0, b) * 100) }.joined(separator: " | ") + " |\n"
        }
        md += String(format: "\nWall time %.1f s.\n", wall)
        try Data(md.utf8).write(to: URL(fileURLWithPath: "\(output)/summary.md"), options: .atomic)
        // JSON (snake_case keys)
        struct Run: Encodable { var norm: String, batchSize: Int, lr: Float, seed: Int, testAcc: Double, seconds: Double }
        struct Results: Encodable {
            var examples: Int, testImages: Int, baseLr: Float, momentum: Float, wallSeconds: Double, runs: [Run]
        }
        let results = Results(
            examples: train.count, testImages: test.count, baseLr: baseLr, momentum: momentum,
            wallSeconds: (wall * 10).rounded() / 10,
            runs: rows.map { r in
                Run(
                    norm: r.norm.rawValue, batchSize: r.batch, lr: baseLr * Float(r.batch) / 32, seed: r.seed,
                    testAcc: r.acc, seconds: (r.seconds * 10).rounded() / 10)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(results).write(to: URL(fileURLWithPath: "\(output)/results.json"), options: .atomic)
        // Chart: x = log2(batch size)
        let styles: [LineStyle] = [.solid, .dashed, .dotted, .solid]
        let series = kinds.enumerated().map { i, k in
            ChartSeries(
                names[k] ?? k.rawValue, x: batchSizes.map { log2(Double($0)) }, y: batchSizes.map { mean(k, $0) },
                style: styles[i % styles.count])
        }
        let chart = LineChart(
            title: "Fashion-MNIST test accuracy vs batch size (\(train.count) examples seen)",
            xLabel: "log2(batch size): " + batchSizes.map { "\(Int(log2(Double($0)))) = \($0)" }.joined(separator: ", "),
            yLabel: "test accuracy", series: series)
        _ = try ChartFile.write(chart.svg(width: 720, height: 440), base: "\(output)/accuracy")
        say(md)
        say("outputs in \(output)/: \(OutputFolder.listing(output))")
    }
}

/// Prints a line to stdout unbuffered, so it interleaves with the progress bar on stderr.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
