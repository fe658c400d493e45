import Foundation
import XCTest

@testable import StrataCore
@testable import StrataIO
@testable import StrataNN

/// Tests that need a second process: traps whose message must be printed,
/// and saves killed with SIGKILL at random moments. The child is this test
/// bundle itself, running `testChildEntryPoint` with `STRATA_CHILD` set.
final class ChildProcessTests: XCTestCase {
    static let entry = "StrataTests.ChildProcessTests/testChildEntryPoint"

    /// Starts the test bundle running only `testChildEntryPoint` with `task`,
    /// its stderr going to `stderrPath`.
    func startChild(_ task: String, _ argument: String = "", stderrPath: String = "/dev/null") throws -> pid_t {
        try spawnTestChild(Self.entry, environment: ["STRATA_CHILD": task, "STRATA_CHILD_ARG": argument], stderrPath: stderrPath)
    }

    /// Waits for `pid`; true when it exited with status 0.
    @discardableResult
    func waitChild(_ pid: pid_t) -> Bool { waitTestChild(pid).succeeded }

    /// Runs `task` in a child to its end; returns whether it failed (a trap is a
    /// signal, or an exit status under a sanitizer's handler) and its stderr.
    func runChild(_ task: String) throws -> (failed: Bool, stderr: String) {
        let log = makeTempDir(self) + "/stderr.txt"
        let ok = waitChild(try startChild(task, stderrPath: log))
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return (!ok, text)
    }

    /// What a child does. Not a test of its own: skipped unless `STRATA_CHILD` is set.
    func testChildEntryPoint() throws {
        let env = ProcessInfo.processInfo.environment
        guard let task = env["STRATA_CHILD"] else { throw XCTSkip("runs only as a child of ChildProcessTests") }
        switch task {
        case "zerosOverflow":
            _ = Tensor(zeros: [1 << 40, 1 << 40])
        case "sgemmLda":
            var c: [Float] = [0, 0, 0, 0]
            BLAS.sgemm(
                transA: .none, transB: .none, m: 2, n: 2, k: 3, alpha: 1, a: [1, 2, 3, 4, 5, 6], lda: 1,
                b: [1, 2, 3, 4, 5, 6], ldb: 2, beta: 0, c: &c, ldc: 2)
        case "threadCount":
            BLAS.threadCount = 0
        case "linearRank0":
            _ = linear(Tensor.scalar(1), weight: Tensor(zeros: [2, 3]), bias: nil)
        case "paramGroupsChange":
            let opt = SGD(parameters: [Tensor([1], requiresGrad: true)], learningRate: 0.1)
            opt.paramGroups = [ParameterGroup([Tensor([2], requiresGrad: true)], learningRate: 0.1)]
        case "duplicateParameter":
            let p = Tensor([1], requiresGrad: true)
            _ = Adam(parameters: [p, p])
        case "sequentialMilestones":
            let opt = SGD(parameters: [Tensor([1], requiresGrad: true)], learningRate: 0.1)
            _ = SequentialLR(opt, schedulers: [StepLR(opt, stepSize: 1), ExponentialLR(opt, gamma: 0.5)], milestones: [])
        case "fusedResidualShape":
            _ = fusedBatchNorm(BatchNorm2d(2), Tensor(zeros: [1, 2, 3, 3]), adding: Tensor(zeros: [1, 2, 3, 4]), relu: ReLU())
        case "saveLoop":
            // Saves forever, alternating two checkpoints, until killed.
            let path = env["STRATA_CHILD_ARG"] ?? ""
            let models = [savedModel(seed: 1), savedModel(seed: 2)]
            for i in 0... { try Checkpoint(model: models[i % 2], epoch: i % 2, step: i).save(to: path) }
        default:
            XCTFail("unknown child task \(task)")
        }
    }

    func testTrapsPrintStrataMessages() throws {
        let cases = [
            ("zerosOverflow", "Strata: Tensor(zeros:): the element count of shape [1099511627776, 1099511627776] overflows Int"),
            ("sgemmLda", "Strata: BLAS.sgemm: lda 1 is smaller than k 3"),
            ("threadCount", "Strata: BLAS.threadCount must be at least 1, got 0"),
            ("linearRank0", "Strata: linear: input [] does not match weight [2, 3]"),
            ("paramGroupsChange", "Strata: SGD.paramGroups: group 0's parameters cannot change (build a new optimiser)"),
            ("duplicateParameter", "Strata: Adam: parameter group 0 lists a parameter twice (at 0 and 1)"),
            ("sequentialMilestones", "Strata: SequentialLR: needs 1 milestones for 2 schedulers, got 0"),
            ("fusedResidualShape", "Strata: BatchNorm2d(2): residual of shape [1, 2, 3, 4] does not match the input's [1, 2, 3, 3]"),
        ]
        for (task, message) in cases {
            let (failed, stderr) = try runChild(task)
            XCTAssertTrue(failed, "\(task): the child should trap")
            XCTAssertTrue(stderr.contains(message), "\(task): stderr lacks '\(message)':\n\(stderr.suffix(2000))")
        }
    }

    /// A model of about 0.5 MB, so a save takes long enough to be killed mid-write.
    func savedModel(seed: UInt64) -> Sequential {
        Sequential(
            Linear(256, 256, generator: RandomGenerator(seed: seed)), ReLU(),
            Linear(256, 256, generator: RandomGenerator(seed: seed + 10)))
    }

    /// fork + kill -9 at random points of a save loop: the file on disk is
    /// always one complete checkpoint, and killed saves' temporary files are
    /// removed by the next save instead of accumulating.
    func testKilledSavesLeaveACompleteFileAndNoTemps() throws {
        let dir = makeTempDir(self), path = dir + "/ckpt.safetensors"
        let expected = [savedModel(seed: 1), savedModel(seed: 2)].map { m in m.stateDict().map(\.1.scalars) }
        let g = RandomGenerator(seed: 77)
        for round in 0..<8 {
            let child = try startChild("saveLoop", path)
            // Wait until the child has written at least once, then kill it at a random moment.
            var waited = 0
            while !FileManager.default.fileExists(atPath: path) && waited < 3000 { usleep(10_000); waited += 10 }
            usleep(UInt32(g.nextInt(below: 40_000)))
            kill(child, SIGKILL)
            waitChild(child)
            let c = try Checkpoint.load(from: path)
            XCTAssertTrue([0, 1].contains(c.epoch), "round \(round)")
            XCTAssertEqual(c.model.map(\.1.scalars), expected[c.epoch], "round \(round): the file is one complete save")
            // The next save (here, in this process) removes what the killed one left.
            try Checkpoint(model: savedModel(seed: 1), epoch: 0, step: 0).save(to: path)
            let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0 != "ckpt.safetensors" }
            XCTAssertEqual(left, [], "round \(round): temporary files left behind")
        }
    }

    /// A live process's temporary file is not touched by another save.
    func testTempOfALiveProcessIsKept() throws {
        let dir = makeTempDir(self), path = dir + "/live.safetensors"
        // This process is alive; write a temp named after the parent process (alive too).
        let live = dir + "/\(AtomicFile.tempPrefix("live.safetensors"))\(getppid())-12345"
        let dead = dir + "/\(AtomicFile.tempPrefix("live.safetensors"))999999999-1"
        writeBytes([1, 2, 3], live)
        writeBytes([1, 2, 3], dead)
        try AtomicFile.write([9], to: path)
        XCTAssertTrue(FileManager.default.fileExists(atPath: live))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dead))
    }
}
