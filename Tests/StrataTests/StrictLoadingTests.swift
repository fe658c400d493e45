import Foundation
import XCTest

@testable import StrataCore
@testable import StrataIO
@testable import StrataNN

/// Optimiser state and checkpoint metadata are loaded strictly: every
/// missing, unknown or out-of-range entry is an error that names it.
final class StrictLoadingTests: XCTestCase {
    /// Two parameters with one momentum step taken.
    func steppedSGD() -> (SGD, [Tensor]) {
        let params = [Tensor([1, 2], requiresGrad: true), Tensor([3, 4, 5], requiresGrad: true)]
        let opt = SGD(parameters: params, learningRate: 0.1, momentum: 0.9)
        params[0].grad = Tensor([0.5, -1]); params[1].grad = Tensor([1, 2, 3])
        opt.step()
        return (opt, params)
    }

    func assertCheckpointError(
        _ fragment: String, file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws -> Void
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) {
            XCTAssertTrue("\($0)".contains(fragment), "'\($0)' lacks '\(fragment)'", file: file, line: line)
        }
    }

    func testSGDRejectsARenamedMomentumKey() throws {
        let (opt, _) = steppedSGD()
        var state = Dictionary(uniqueKeysWithValues: opt.stateDict())
        state["0.momentum_bufger"] = state.removeValue(forKey: "0.momentum_buffer")
        let (fresh, _) = steppedSGD()
        let before = fresh.stateDict().map(\.1.scalars)
        assertCheckpointError("missing keys: \"0.momentum_buffer\"; unexpected keys: \"0.momentum_bufger\"") {
            try fresh.loadStateDict(state)
        }
        XCTAssertEqual(fresh.stateDict().map(\.1.scalars), before, "a failed load changes nothing")
        // Non-strict: the valid buffer is restored, the rest is reported.
        let report = try fresh.loadStateDict(state, strict: false)
        XCTAssertEqual(report, OptimizerStateReport(missingKeys: ["0.momentum_buffer"], unexpectedKeys: ["0.momentum_bufger"]))
    }

    func testSGDWithoutMomentumHasNoState() {
        let sgd = SGD(parameters: [Tensor([1, 2], requiresGrad: true)], learningRate: 0.1)
        assertCheckpointError("unexpected keys: \"0.momentum_buffer\"") {
            try sgd.loadStateDict(["0.momentum_buffer": Tensor([1, 1])])
        }
    }

    func testAdamStateDoesNotLoadIntoSGD() throws {
        let p = Tensor([1, 2], requiresGrad: true)
        let adam = Adam(parameters: [p])
        p.grad = Tensor([1, 1])
        adam.step()
        let (sgd, _) = steppedSGD()
        assertCheckpointError("unexpected keys: \"0.exp_avg\", \"0.exp_avg_sq\", \"0.step\"") {
            try sgd.loadStateDict(Dictionary(uniqueKeysWithValues: adam.stateDict()))
        }
        // Through a checkpoint the type itself is checked first.
        let m = Linear(2, 2)
        let dir = makeTempDir(self), path = dir + "/adam.safetensors"
        try Checkpoint(model: m, optimizer: Adam(parameters: m.parameters()), epoch: 0, step: 0).save(to: path)
        let c = try Checkpoint.load(from: path)
        XCTAssertEqual(c.optimizerType, "Adam")
        assertCheckpointError("checkpoint holds Adam state; cannot restore it into SGD") {
            try c.restore(model: m, optimizer: SGD(parameters: m.parameters(), learningRate: 0.1, momentum: 0.9))
        }
        let modelOnly = Checkpoint(model: m, epoch: 0, step: 0)
        assertCheckpointError("saved without an optimizer") {
            try modelOnly.restore(model: m, optimizer: Adam(parameters: m.parameters()))
        }
    }

    func testAdamStepMustBeAWholeCount() {
        let adam = Adam(parameters: [Tensor([1, 2], requiresGrad: true)])
        for bad: Float in [.nan, .infinity, -1, 2.5, 1e30] {
            let state = ["0.step": Tensor.scalar(bad), "0.exp_avg": Tensor(zeros: [2]), "0.exp_avg_sq": Tensor(zeros: [2])]
            assertCheckpointError("0.step = \(bad) is not a step count") { try adam.loadStateDict(state) }
        }
        assertCheckpointError("missing keys: \"0.exp_avg_sq\"") {
            try adam.loadStateDict(["0.step": Tensor.scalar(1), "0.exp_avg": Tensor(zeros: [2])])
        }
    }

    // MARK: Checkpoint metadata

    /// Saves a checkpoint with an optimiser and a scheduler, rewrites its
    /// metadata with `edit` and returns the path of the edited file.
    func checkpointFile(_ edit: (inout [String: String]) -> Void) throws -> String {
        let m = Linear(2, 2)
        let opt = SGD(parameters: m.parameters(), learningRate: 0.1, momentum: 0.9)
        let sched = StepLR(opt, stepSize: 2)
        let c = Checkpoint(model: m, optimizer: opt, scheduler: sched, epoch: 3, step: 30)
        var meta = c.metadata
        edit(&meta)
        let path = makeTempDir(self) + "/edited.safetensors"
        try SafeTensors.write(c.model.map { ("model.\($0.0)", $0.1) }, metadata: meta, to: path)
        return path
    }

    func testUneditedCheckpointLoads() throws {
        let c = try Checkpoint.load(from: checkpointFile { _ in })
        XCTAssertEqual(c.learningRate, 0.1)
        XCTAssertEqual(c.optimizerType, "SGD")
        XCTAssertEqual(c.schedulerLastEpoch, 0)
        XCTAssertEqual(c.epoch, 3)
        XCTAssertEqual(c.step, 30)
    }

    func testMetadataOutOfRangeIsRejected() throws {
        let cases: [(String, String, String)] = [
            ("strata.learning_rate", "nan", "strata.learning_rate = \"nan\" is not a finite number >= 0"),
            ("strata.learning_rate", "inf", "strata.learning_rate = \"inf\""),
            ("strata.learning_rate", "-5", "strata.learning_rate = \"-5\""),
            ("strata.epoch", "-1", "strata.epoch = \"-1\" is not a whole number >= 0"),
            ("strata.step", "-3", "strata.step = \"-3\""),
            ("strata.step", "1e3", "strata.step = \"1e3\""),
            ("strata.scheduler.last_epoch", "-2", "strata.scheduler.last_epoch = \"-2\""),
            ("strata.rng.global", "zz,1,2,3,4", "strata.rng.global = \"zz,1,2,3,4\" is not four hex words"),
            ("strata.rng.global", "1,2,3", "strata.rng.global = \"1,2,3\""),
            ("strata.rng.global", "1,,2,3", "strata.rng.global = \"1,,2,3\""),
            ("strata.rng.global", "0,0,0,0", "strata.rng.global = \"0,0,0,0\""),
            ("format", "np", "metadata format = np, expected pt"),
        ]
        for (key, value, fragment) in cases {
            let path = try checkpointFile { $0[key] = value }
            assertIOError(path, fragment) { try Checkpoint.load(from: path) }
        }
    }

    func testMetadataMissingOrRenamedIsRejected() throws {
        var path = try checkpointFile { $0["strata.learning_ratf"] = $0.removeValue(forKey: "strata.learning_rate") }
        assertIOError(path, "unknown metadata key strata.learning_ratf") { try Checkpoint.load(from: path) }
        path = try checkpointFile { $0["strata.learning_rate"] = nil }
        assertIOError(path, "strata.optimizer without strata.learning_rate") { try Checkpoint.load(from: path) }
        path = try checkpointFile { $0["strata.optimizer"] = nil }
        assertIOError(path, "strata.learning_rate without strata.optimizer") { try Checkpoint.load(from: path) }
        path = try checkpointFile { $0["strata.epoch"] = nil }
        assertIOError(path, "strata.epoch is missing") { try Checkpoint.load(from: path) }
        path = try checkpointFile { $0["format"] = nil }
        assertIOError(path, "metadata format = absent") { try Checkpoint.load(from: path) }
    }

    func testSaveRefusesWhatLoadWouldReject() {
        let path = makeTempDir(self) + "/bad.safetensors"
        var c = Checkpoint(model: Linear(2, 2), epoch: -1, step: 0)
        XCTAssertThrowsError(try c.save(to: path)) { XCTAssertTrue("\($0)".contains("must be >= 0"), "\($0)") }
        c.epoch = 0
        c.learningRate = .nan
        XCTAssertThrowsError(try c.save(to: path)) { XCTAssertTrue("\($0)".contains("learning rate nan"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testNonStrictRestoreReportsWhatItSkipped() throws {
        let m = Sequential(Linear(2, 2), ReLU(), Linear(2, 2))
        let opt = SGD(parameters: m.parameters(), learningRate: 0.1, momentum: 0.9)
        for p in m.parameters() { p.grad = Tensor(zeros: p.shape) }
        opt.step()
        var c = Checkpoint(model: m, optimizer: opt, epoch: 1, step: 1)
        c.model.removeAll { $0.0 == "2.bias" }
        c.optimizer.removeAll { $0.0 == "3.momentum_buffer" }
        let target = Sequential(Linear(2, 2), ReLU(), Linear(2, 2))
        let opt2 = SGD(parameters: target.parameters(), learningRate: 0.5, momentum: 0.9)
        XCTAssertThrowsError(try c.restore(model: target, optimizer: opt2)) {
            XCTAssertTrue("\($0)".contains("missing keys: \"2.bias\""), "\($0)")
        }
        let report = try c.restore(model: target, optimizer: opt2, strict: false)
        XCTAssertEqual(report.model.missingKeys, ["2.bias"])
        XCTAssertEqual(report.optimizer, OptimizerStateReport(missingKeys: ["3.momentum_buffer"], unexpectedKeys: []))
        XCTAssertEqual(opt2.learningRate, 0.1)
    }
}
