import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// Checkpoints of optimisers with parameter groups and of every scheduler
/// kind; TrainingLog resuming from its CSV.
final class CheckpointGroupTests: XCTestCase {
    struct Run {
        let model: Sequential
        let optimizer: any Optimizer
        let scheduler: any CheckpointableScheduler
        let loader: DataLoader
    }

    typealias Setup = (Sequential) throws -> (any Optimizer, any CheckpointableScheduler)

    func makeRun(seed: UInt64, data: Dataset, _ setup: Setup) throws -> Run {
        let m = Sequential(
            Linear(6, 8, generator: RandomGenerator(seed: seed)), BatchNorm1d(8), ReLU(), Dropout(p: 0.3),
            Linear(8, 3, generator: RandomGenerator(seed: seed + 1)))
        let (opt, sched) = try setup(m)
        return Run(model: m, optimizer: opt, scheduler: sched, loader: DataLoader(data, batchSize: 12, shuffle: true, seed: 5))
    }

    /// Trains epochs, stepping the scheduler per epoch (a plateau one with the epoch's mean loss).
    func train(_ r: Run, epochs: Range<Int>) -> [Float] {
        var losses: [Float] = []
        r.loader.epoch = epochs.lowerBound
        for _ in epochs {
            var sum: Float = 0
            for batch in r.loader {
                let loss = crossEntropy(r.model(batch.images), labels: batch.labels)
                r.optimizer.zeroGrad()
                loss.backward()
                r.optimizer.step()
                losses.append(loss.item)
                sum += loss.item
            }
            if let plateau = r.scheduler as? ReduceLROnPlateau {
                plateau.step(metric: Double(sum))
            } else if let s = r.scheduler as? any LRScheduler {
                s.step()
            }
        }
        return losses
    }

    static var setups: [(String, Setup)] {
        [
            (
                "AdamW groups + SequentialLR",
                { m in
                    let opt = try AdamW(groups: m.weightDecayGroups(), learningRate: 0.01, weightDecay: 0.1, amsgrad: true)
                    let s = SequentialLR(
                        opt, schedulers: [LinearLR(opt, startFactor: 0.2, totalIters: 2), CosineAnnealingLR(opt, tMax: 4)],
                        milestones: [2])
                    return (opt, s)
                }
            ),
            (
                "SGD groups + ChainedScheduler",
                { m in
                    let groups = m.weightDecayGroups().enumerated().map { i, g in
                        var h = g
                        h.learningRate = i == 0 ? 0.1 : 0.05
                        return h
                    }
                    let opt = try SGD(groups: groups, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: true)
                    return (opt, ChainedScheduler([LinearLR(opt, startFactor: 0.5, totalIters: 3), ExponentialLR(opt, gamma: 0.8)]))
                }
            ),
            (
                "RMSprop + ReduceLROnPlateau",
                { m in
                    let opt = RMSprop(parameters: m.parameters(), learningRate: 0.01, momentum: 0.5, centered: true)
                    return (opt, ReduceLROnPlateau(opt, factor: 0.5, patience: 0, threshold: 0.5))
                }
            ),
            (
                "Adagrad groups + StepLR",
                { m in
                    let opt = try Adagrad(groups: m.weightDecayGroups(), learningRate: 0.05, lrDecay: 0.01, weightDecay: 0.01)
                    return (opt, StepLR(opt, stepSize: 2, gamma: 0.5))
                }
            ),
        ]
    }

    func testResumeWithGroupsAndEverySchedulerIsBitExact() throws {
        let saved = Threading.count
        Threading.count = 1
        defer { Threading.count = saved }
        let dir = makeTempDir(self), path = dir + "/resume.safetensors"
        let g = RandomGenerator(seed: 11)
        let data = Dataset(images: Tensor.randn([36, 6], generator: g), labels: (0..<36).map { $0 % 3 })
        for (name, setup) in Self.setups {
            manualSeed(99)
            let full = try makeRun(seed: 1, data: data, setup)
            let initialRates = full.optimizer.learningRates
            let fullLosses = train(full, epochs: 0..<6)
            XCTAssertNotEqual(full.optimizer.learningRates, initialRates, "\(name): the schedule changes the rates")

            manualSeed(99)
            let first = try makeRun(seed: 1, data: data, setup)
            let firstLosses = train(first, epochs: 0..<3)
            try Checkpoint(model: first.model, optimizer: first.optimizer, scheduler: first.scheduler, epoch: 3, step: 9)
                .save(to: path)
            manualSeed(4321)

            let resumed = try makeRun(seed: 7, data: data, setup)
            let ckpt = try Checkpoint.load(from: path)
            XCTAssertEqual(ckpt.optimizerGroups.count, first.optimizer.paramGroups.count, name)
            XCTAssertEqual(ckpt.schedulerType, "\(type(of: first.scheduler))", name)
            try ckpt.restore(model: resumed.model, optimizer: resumed.optimizer, scheduler: resumed.scheduler)
            XCTAssertEqual(resumed.optimizer.learningRates, first.optimizer.learningRates, name)
            XCTAssertEqual(
                resumed.scheduler.schedulerState().map(\.1), first.scheduler.schedulerState().map(\.1), name)
            let rest = train(resumed, epochs: 3..<6)
            XCTAssertEqual(firstLosses + rest, fullLosses, "\(name): resumed losses must equal the uninterrupted run")
            XCTAssertEqual(resumed.optimizer.learningRates, full.optimizer.learningRates, name)
        }
    }

    func testGroupAndSchedulerMismatchesAreErrors() throws {
        let dir = makeTempDir(self), path = dir + "/c.safetensors"
        let m = Sequential(Linear(2, 2), BatchNorm1d(2))
        let opt = try SGD(groups: m.weightDecayGroups(), learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        let sched = ExponentialLR(opt, gamma: 0.5)
        for p in m.parameters() { p.grad = Tensor(zeros: p.shape) }
        opt.step()  // momentum buffers exist
        sched.step()
        try Checkpoint(model: m, optimizer: opt, scheduler: sched, epoch: 1, step: 1).save(to: path)
        let c = try Checkpoint.load(from: path)
        XCTAssertEqual(c.optimizerGroups.map(\.parameterCount), [1, 3])
        XCTAssertEqual(c.optimizerGroups[1].options["weight_decay"], 0)
        XCTAssertEqual(c.optimizerGroups[0].options["initial_lr"], 0.1)
        XCTAssertEqual(c.schedulerState, ["last_epoch": 1])

        func message(_ body: () throws -> Any) -> String {
            do { _ = try body() } catch { return "\(error)" }
            return "no error"
        }
        let oneGroup = SGD(parameters: m.parameters(), learningRate: 0.1, momentum: 0.9)
        XCTAssertEqual(
            message { try c.restore(model: m, optimizer: oneGroup) },
            "checkpoint: checkpoint optimizer has 2 parameter groups; the optimizer has 1")
        let noMomentum = try SGD(groups: m.weightDecayGroups(), learningRate: 0.1)
        let noMomentumMessage = message { try c.restore(model: m, optimizer: noMomentum) }
        XCTAssertTrue(noMomentumMessage.contains("unexpected keys"), noMomentumMessage)
        let fresh = try SGD(groups: m.weightDecayGroups(), learningRate: 0.3, momentum: 0.9)
        XCTAssertEqual(
            message { try c.restore(model: m, optimizer: fresh, scheduler: StepLR(fresh, stepSize: 2)) },
            "checkpoint: checkpoint holds ExponentialLR state; cannot restore it into StepLR")
        XCTAssertEqual(fresh.learningRates, [0.3, 0.3], "a failed restore changes nothing")
        try c.restore(model: m, optimizer: fresh, scheduler: ExponentialLR(fresh, gamma: 0.5))
        XCTAssertEqual(fresh.learningRates, [0.05, 0.05])
        XCTAssertEqual(fresh.paramGroups.map(\.weightDecay), [0.01, 0])

        // Hand-made metadata problems are named.
        var meta = c.metadata
        meta["strata.optimizer.group.2.lr"] = "0.1"
        try writeCheckpoint(c, meta, path)
        assertIOError(path, "strata.optimizer.group.2.lr does not name one of the 2 parameter groups") { try Checkpoint.load(from: path) }
        meta = c.metadata
        meta["strata.optimizer.group.0.betas"] = "0.1"
        try writeCheckpoint(c, meta, path)
        assertIOError(path, "unknown optimizer option betas") { try Checkpoint.load(from: path) }
        meta = c.metadata
        meta["strata.optimizer.group.0.lr"] = "-1"
        try writeCheckpoint(c, meta, path)
        let negative = try Checkpoint.load(from: path)
        XCTAssertEqual(
            message { try negative.restore(model: m, optimizer: fresh) },
            "checkpoint: checkpoint parameter group 0: lr must be >= 0, got -1.0")
        XCTAssertEqual(fresh.learningRates, [0.05, 0.05], "a failed restore changes nothing")
        meta = c.metadata
        meta["strata.scheduler.last_epoch"] = "-2"
        try writeCheckpoint(c, meta, path)
        assertIOError(path, "strata.scheduler.last_epoch = \"-2\" is not a whole number") { try Checkpoint.load(from: path) }
    }

    func writeCheckpoint(_ c: Checkpoint, _ meta: [String: String], _ path: String) throws {
        let tensors = c.model.map { ("model.\($0.0)", $0.1) } + c.optimizer.map { ("optimizer.\($0.0)", $0.1) }
        try AtomicFile.write(SafeTensors.encode(tensors, metadata: meta), to: path)
    }

    func testTrainingLogResumesFromItsCSV() throws {
        let dir = makeTempDir(self), path = dir + "/log.csv"
        var log = TrainingLog()
        log.append(["epoch": 1, "loss": 0.5, "lr, group 0": 0.1])
        log.append(["epoch": 2, "loss": .nan, "val \"acc\"": 0.875])
        log.append(["epoch": 3, "loss": .infinity, "lr, group 0": 1e-5, "val \"acc\"": -.infinity])
        try log.writeCSV(to: path)
        var back = try TrainingLog(resumingFrom: path)
        XCTAssertEqual(back.columns, log.columns)
        XCTAssertEqual(back.csv(), log.csv())
        XCTAssertEqual(back.column("epoch"), [1, 2, 3])
        XCTAssertTrue(back.column("loss")[1]?.isNaN ?? false)
        XCTAssertEqual(back.column("val \"acc\""), [nil, 0.875, -.infinity])
        back.append(["epoch": 4, "loss": 0.25])
        XCTAssertEqual(back.rows.count, 4)
        XCTAssertEqual(back.column("lr, group 0"), [0.1, nil, 1e-5, nil])

        for (text, fragment) in [
            ("", "no header line"),
            ("epoch,loss\n1,0.5,2\n", "line 2 has 3 cells, the header 2"),
            ("epoch,loss\n1,abc\n", "line 2, column \"loss\": \"abc\" is not a number"),
            ("epoch,epoch\n", "names column \"epoch\" twice"),
            ("epoch,\"loss\n", "unclosed quote"),
            ("{\"epoch\": 1}\n", "line 1 has a quote inside an unquoted field"),
        ] {
            try AtomicFile.write(Array(text.utf8), to: path)
            assertIOError(path, fragment) { try TrainingLog(resumingFrom: path) }
        }
    }
}
