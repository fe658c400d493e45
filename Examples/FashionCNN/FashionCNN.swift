import ArgumentParser
import Foundation
import Strata
import StrataDistributed

/// Trains the reference CNN (WORKLOADS.md) on Fashion-MNIST, evaluating on
/// the 10,000 test images after every epoch.
@main
struct FashionCNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fashion-cnn",
        abstract: "Train the reference CNN (2 conv + BN + pooling) on Fashion-MNIST.",
        discussion: """
            Defaults: 20 epochs, batch 128, SGD lr 0.05 momentum 0.9, weight decay 5e-4, \
            cosine annealing of the learning rate to 0 over the run (stepped per epoch), \
            random horizontal flips, inputs normalised with the training set's mean/std. \
            Writes checkpoint.safetensors (atomic, every epoch), log.csv/log.json, curves.svg/png, \
            confusion.md/confusion.csv, steps.csv (step, loss, lr) and summary.json into --output.
            Data parallel: `mpirun -np N fashion-cnn --distributed [--sync-bn]`; --batch-size is then per \
            process, every rank trains on its shard of each epoch's permutation (DistributedSampler) and \
            rank 0 alone writes the outputs (Docs/Distributed.md).
            """)

    @Option(help: "Epochs to train (total, including resumed ones).") var epochs = 20
    @Option(help: "Mini-batch size (per process with --distributed).") var batchSize = 128
    @Option(help: "Initial learning rate.") var lr: Float = 0.05
    @Option(help: "SGD momentum.") var momentum: Float = 0.9
    @Option(help: "L2 weight decay.") var weightDecay: Float = 5e-4
    @Option(help: "Learning-rate schedule: cosine, step (x0.1 at 50% and 75% of the epochs), or constant.") var schedule = "cosine"
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips of training images.") var flip = true
    @Option(help: "Random-crop padding in pixels (0 = off; default 0 for the reference CNN, 4 for a ResNet).")
    var cropPadding: Int?
    @Option(
        name: .customLong("model"),
        help: """
            Network: reference (WORKLOADS.md's CNN, 28x28), or resnet20, resnet32, resnet56             (He et al. 2016 section 4.2 with 1x1 projection shortcuts; inputs zero-padded to 32x32).
            """)
    var architecture = "reference"
    @Flag(help: "No augmentation at all (no flips, no crops).") var noAugment = false
    @Flag(help: "Train the same network without BatchNorm.") var noBn = false
    @Option(help: "Use only the first N training images (stratified), for quick runs.") var subset: Int?
    @Option(help: "Evaluate on only the first N test images (stratified).") var testSubset: Int?
    @Option(help: "Threads for Strata and OpenBLAS (default: all cores).") var threads: Int?
    @Option(help: "Random seed (initialisation and shuffling).") var seed: UInt64 = 1
    @Option(help: "Fashion-MNIST directory (Debian's dataset-fashion-mnist).") var dataDir = "/usr/share/datasets/fashion-mnist"
    @Option(help: "Output folder.") var output = "runs/fashion-cnn"
    @Flag(help: "Resume from OUTPUT/checkpoint.safetensors if present.") var resume = false
    @Flag(help: "Data-parallel training over MPI (run under mpirun; a world of one without it).") var distributed = false
    @Flag(help: "With --distributed: SyncBatchNorm (batch statistics over all processes' batches).") var syncBn = false

    mutating func run() throws {
        if syncBn && !distributed { throw ValidationError("--sync-bn needs --distributed") }
        let group = distributed ? try ProcessGroup.initialize() : nil
        let lead = (group?.rank ?? 0) == 0  // rank 0 alone writes outputs and prints
        if let t = threads { Threading.count = t } else if distributed { Threading.count = Self.threadsPerRank() }
        let resnetDepth: Int?
        switch architecture {
        case "reference": resnetDepth = nil
        case "resnet20": resnetDepth = 20
        case "resnet32": resnetDepth = 32
        case "resnet56": resnetDepth = 56
        default: throw ValidationError("--model must be reference, resnet20, resnet32 or resnet56, got \(architecture)")
        }
        if resnetDepth != nil && noBn { throw ValidationError("--no-bn applies to the reference CNN only") }
        var cropPadding = self.cropPadding ?? (resnetDepth == nil ? 0 : 4)
        if noAugment { flip = false; cropPadding = 0 }
        if lead { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) }
        let start = Date()

        var train = try Dataset.fashionMNIST(train: true, directory: dataDir)
        var test = try Dataset.fashionMNIST(train: false, directory: dataDir)
        if let n = subset { train = try train.stratifiedSplit(firstCount: min(n, train.count), seed: seed).first }
        if let n = testSubset { test = try test.stratifiedSplit(firstCount: min(n, test.count)).first }
        if resnetDepth != nil {
            // 28x28 -> 32x32 with two zero rows and columns on each side.
            train = Dataset(images: train.images.padded([2, 2, 2, 2]), labels: train.labels)
            test = Dataset(images: test.images.padded([2, 2, 2, 2]), labels: test.labels)
        }
        let stats = train.channelStatistics()
        let norm = (mean: stats.mean, std: stats.std)

        let generator = RandomGenerator(seed: seed)
        let model: any Module =
            resnetDepth.map { CIFARResNet(depth: $0, numClasses: 10, inChannels: 1, generator: generator) }
            ?? ReferenceCNN.make(norm: noBn ? .none : .batch, generator: generator)
        if let group, syncBn { SyncBatchNorm.convert(model, group: group) }
        let optimizer = SGD(parameters: model.parameters(), learningRate: lr, momentum: momentum, weightDecay: weightDecay)
        let scheduler: (any LRScheduler)?
        switch schedule {
        case "cosine": scheduler = CosineAnnealingLR(optimizer, tMax: epochs)
        case "step": scheduler = MultiStepLR(optimizer, milestones: [max(1, epochs / 2), max(1, epochs * 3 / 4)], gamma: 0.1)
        case "constant": scheduler = nil
        default: throw ValidationError("--schedule must be cosine, step or constant, got \(schedule)")
        }
        let augmentation = Augmentation(randomCropPadding: cropPadding, horizontalFlip: flip)
        let loader = DataLoader(
            train, batchSize: batchSize, shuffle: true, seed: seed,
            augmentation: augmentation, normalization: norm)
        // With --distributed, each epoch's batches come from this rank's shard instead.
        let sampler = group.map { DistributedSampler(count: train.count, worldSize: $0.worldSize, rank: $0.rank, seed: seed) }

        let ckptPath = "\(output)/checkpoint.safetensors"
        var log = TrainingLog()
        var steps = StepLog()
        var firstEpoch = 0
        var step = 0
        if resume, FileManager.default.fileExists(atPath: ckptPath) {
            let ckpt = try Checkpoint.load(from: ckptPath)
            try ckpt.restore(model: model, optimizer: optimizer, scheduler: scheduler, generators: ["init": generator])
            firstEpoch = ckpt.epoch
            step = ckpt.step
            log = try Self.readLog("\(output)/log.csv", upTo: firstEpoch)
            steps = StepLog.read("\(output)/steps.csv", upTo: step)
            if lead { say("resumed from \(ckptPath) after epoch \(firstEpoch) (step \(step))") }
        }
        // Rank 0's parameters and buffers on every rank (after a resume, already equal).
        let ddp = try group.map { try DistributedDataParallel(model, group: $0) }
        loader.epoch = firstEpoch

        if lead {
            say(
                """
                fashion-cnn: \(train.count) training / \(test.count) test images, batch \(batchSize)\(Self.describe(group, syncBn)), \
                model \(architecture), \(noBn ? "no BatchNorm" : "BatchNorm (eps 1e-5, momentum 0.1)"), threads \(Threading.count)
                SGD lr \(lr) momentum \(momentum) weight decay \(weightDecay), schedule \(schedule), \
                flip \(flip), crop padding \(cropPadding), \(model.parameterCount) parameters
                """)
        }

        var confusion = ConfusionMatrix(classes: 10)
        for epoch in firstEpoch..<epochs {
            model.train()
            var epochLoader = loader
            if var s = sampler {
                s.setEpoch(epoch)
                epochLoader = DataLoader(
                    train.subset(s.indices()), batchSize: batchSize, seed: seed &+ UInt64(s.rank),
                    augmentation: augmentation, normalization: norm)
                epochLoader.epoch = epoch
            }
            let bar = lead ? ProgressBar(total: epochLoader.batchCount, epoch: epoch + 1, epochs: epochs) : nil
            var loss = RunningMean()
            var trainAcc = Accuracy()
            let lrNow = optimizer.learningRate
            let t0 = Date()
            for batch in epochLoader {
                let logits = ddp?(batch.images) ?? model(batch.images)
                let l = crossEntropy(logits, labels: batch.labels)
                optimizer.zeroGrad()
                if let ddp { ddp.backward(l) } else { l.backward() }
                optimizer.step()
                step += 1
                // The global batch's mean loss (every rank's shard, weighted by its size).
                let pooled = group?.allReduce([Double(l.item) * Double(batch.count), Double(batch.count)])
                let value = pooled.map { $0[0] / $0[1] } ?? Double(l.item)
                steps.append(step: step, loss: value, learningRate: Double(lrNow))
                guard value.isFinite else { throw ValidationError("loss became \(value) at epoch \(epoch + 1), step \(step)") }
                loss.add(value, count: pooled.map { Int($0[1]) } ?? batch.count)
                trainAcc.add(logits: logits.detached(), labels: batch.labels)
                bar?.update(loss: value, samples: batch.count * (group?.worldSize ?? 1))
            }
            let trainTime = Date().timeIntervalSince(t0)
            scheduler?.step()
            // Train accuracy and image count over every rank's shard.
            let counts =
                group?.allReduce([Double(trainAcc.correct), Double(trainAcc.total)])
                ?? [Double(trainAcc.correct), Double(trainAcc.total)]
            let trainAccuracy = group == nil ? trainAcc.value : counts[0] / max(counts[1], 1)
            guard lead else { continue }
            let t1 = Date()
            let evaluation = evaluateClassifier(model, on: test, batchSize: 500, classes: 10, normalization: norm)
            let evalTime = Date().timeIntervalSince(t1)
            confusion = evaluation.confusion
            bar?.finish(String(format: "test acc %.2f%%", evaluation.accuracy * 100))
            log.append(pairs: [
                ("epoch", Double(epoch + 1)), ("lr", Double(lrNow)), ("train_loss", loss.mean),
                ("train_acc", trainAccuracy), ("test_acc", evaluation.accuracy),
                ("epoch_seconds", trainTime), ("eval_seconds", evalTime),
            ])
            say(
                String(
                    format: "epoch %d/%d: loss %.4f, train acc %.2f%%, test acc %.2f%%, %.1f s train (%.0f img/s), %.1f s eval",
                    epoch + 1, epochs, loss.mean, trainAccuracy * 100, evaluation.accuracy * 100,
                    trainTime, counts[1] / trainTime, evalTime))
            try Checkpoint(
                model: model, optimizer: optimizer, scheduler: scheduler, epoch: epoch + 1, step: step,
                generators: ["init": generator]
            ).save(to: ckptPath)
            try writeOutputs(log: log, confusion: confusion)
            try steps.write(to: "\(output)/steps.csv")
        }
        guard lead else { return }
        if firstEpoch >= epochs { say("nothing to do: checkpoint already at epoch \(firstEpoch) of \(epochs)") }
        let wall = Date().timeIntervalSince(start)
        let best = log.column("test_acc").compactMap { $0 }.max() ?? 0
        let final = log.column("test_acc").compactMap { $0 }.last ?? 0
        struct Summary: Encodable {
            var finalTestAcc: Double, bestTestAcc: Double, epochs: Int, trainImages: Int, testImages: Int
            var model: String, batchSize: Int, batchnorm: Bool, threads: Int, wallSecondsThisRun: Double
        }
        let summary = Summary(
            finalTestAcc: final, bestTestAcc: best, epochs: epochs, trainImages: train.count,
            testImages: test.count, model: architecture, batchSize: batchSize, batchnorm: !noBn, threads: Threading.count,
            wallSecondsThisRun: wall)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase  // final_test_acc, ...
        try encoder.encode(summary).write(to: URL(fileURLWithPath: "\(output)/summary.json"), options: .atomic)
        say(String(format: "final test accuracy %.2f%% (best %.2f%%), wall time %.1f s", final * 100, best * 100, wall))
        say("outputs in \(output)/: \(OutputFolder.listing(output))")
    }

    func writeOutputs(log: TrainingLog, confusion: ConfusionMatrix) throws {
        try log.writeCSV(to: "\(output)/log.csv")
        try log.writeJSON(to: "\(output)/log.json")
        let train = log.series(x: "epoch", y: "train_acc"), test = log.series(x: "epoch", y: "test_acc")
        let lossS = log.series(x: "epoch", y: "train_loss")
        let acc = LineChart(
            title: "Fashion-MNIST accuracy\(noBn ? " (no BN)" : "")", xLabel: "epoch", yLabel: "accuracy",
            series: [ChartSeries("train", x: train.x, y: train.y), ChartSeries("test", x: test.x, y: test.y)])
        let lossChart = LineChart(
            title: "training loss", xLabel: "epoch", yLabel: "cross-entropy",
            series: [ChartSeries("train loss", x: lossS.x, y: lossS.y)])
        let grid = ChartGrid(title: "", columns: 2, panels: [acc, lossChart], sharedLegend: false)
        _ = try ChartFile.write(grid.svg(panelWidth: 420, panelHeight: 300), base: "\(output)/curves")
        let names = ReferenceCNN.fashionClassNames
        var md = "# Confusion matrix (test set, rows = true class, columns = predicted)\n\n"
        md += "| true \\ predicted | " + names.joined(separator: " | ") + " | recall |\n"
        md += "|---" + String(repeating: "|---:", count: names.count + 1) + "|\n"
        for (r, row) in confusion.counts.enumerated() {
            md +=
                "| \(names[r]) | " + row.map(String.init).joined(separator: " | ")
                + String(format: " | %.1f%% |\n", confusion.perClassRecall[r] * 100)
        }
        md += String(format: "\nAccuracy %.2f%% over %d images.\n", confusion.accuracy * 100, confusion.total)
        try Data(md.utf8).write(to: URL(fileURLWithPath: "\(output)/confusion.md"), options: .atomic)
        var csv = "true," + names.map { "\"\($0)\"" }.joined(separator: ",") + "\n"
        for (r, row) in confusion.counts.enumerated() { csv += "\"\(names[r])\"," + row.map(String.init).joined(separator: ",") + "\n" }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: "\(output)/confusion.csv"), options: .atomic)
    }

    /// Reads the rows of an earlier log.csv up to epoch `upTo` (for --resume).
    static func readLog(_ path: String, upTo: Int) throws -> TrainingLog {
        var log = TrainingLog()
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return log }
        let lines = text.split(separator: "\n").map(String.init)
        guard let header = lines.first?.split(separator: ",").map(String.init) else { return log }
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) }
            var pairs: [(String, Double)] = []
            for (k, v) in zip(header, fields) { if let v { pairs.append((k, v)) } }
            if let e = pairs.first(where: { $0.0 == "epoch" })?.1, Int(e) <= upTo { log.append(pairs: pairs) }
        }
        return log
    }
}

/// Prints a line to stdout unbuffered, so it interleaves with the progress bar on stderr.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
