import XCTest

@testable import StrataCore
@testable import StrataNN

/// ExponentialLR, LinearLR, SequentialLR, ChainedScheduler and
/// ReduceLROnPlateau on two parameter groups against PyTorch
/// (Fixtures/optim.json), and their state round trips.
final class ScheduleGroupTests: XCTestCase {
    /// SGD with groups at lr 0.1 and 0.02, as the fixture script builds it.
    func twoGroups() -> SGD {
        let p = Tensor(zeros: [1], requiresGrad: true), q = Tensor(zeros: [1], requiresGrad: true)
        return strataTry {
            try SGD(
                groups: [ParameterGroup([p]), ParameterGroup([q], learningRate: 0.02)], learningRate: 0.1,
                momentum: 0.9)
        }
    }

    static var closedForm: [(String, (SGD) -> any LRScheduler)] {
        [
            ("exponential", { ExponentialLR($0, gamma: 0.8) }),
            ("linear_warmup", { LinearLR($0, startFactor: 0.25, totalIters: 4) }),
            ("linear_decay", { LinearLR($0, startFactor: 1, endFactor: 0.1, totalIters: 5) }),
            (
                "sequential",
                { o in
                    SequentialLR(
                        o, schedulers: [LinearLR(o, startFactor: 0.1, totalIters: 3), ExponentialLR(o, gamma: 0.9)],
                        milestones: [3])
                }
            ),
            (
                "sequential3",
                { o in
                    SequentialLR(
                        o,
                        schedulers: [
                            LinearLR(o, startFactor: 0.5, totalIters: 2), StepLR(o, stepSize: 2, gamma: 0.5),
                            CosineAnnealingLR(o, tMax: 5, etaMin: 0.001),
                        ], milestones: [2, 6])
                }
            ),
            ("chained", { o in ChainedScheduler([LinearLR(o, startFactor: 0.5, totalIters: 3), ExponentialLR(o, gamma: 0.9)]) }),
            (
                "chained_steps",
                { o in ChainedScheduler([StepLR(o, stepSize: 3, gamma: 0.5), MultiStepLR(o, milestones: [2, 5], gamma: 0.1)]) }
            ),
        ]
    }

    func expectedRates(_ entry: Any?) -> [[Float]] { ((entry as! [String: Any])["lr"] as! [Any]).map { floats($0) } }

    func testClosedFormSchedulesMatchPyTorchPerGroup() throws {
        let fx = try loadFixture("optim")["schedules"] as! [String: Any]
        for (name, make) in Self.closedForm {
            let want = expectedRates(fx[name])
            let opt = twoGroups()
            let s = make(opt)
            var got = [opt.learningRates]
            for _ in 1..<want.count {
                s.step()
                got.append(opt.learningRates)
            }
            assertClose(got.flatMap { $0 }, want.flatMap { $0 }, rtol: 1e-6, atol: 1e-9, name)
            XCTAssertEqual(s.lastLearningRates, opt.learningRates)
            // Jumping to a position (resume) gives the rates of stepping there.
            let fresh = twoGroups()
            let jumped = make(fresh)
            try jumped.loadSchedulerState(Dictionary(uniqueKeysWithValues: s.schedulerState()))
            XCTAssertEqual(fresh.learningRates, opt.learningRates, name)
            XCTAssertEqual(jumped.schedulerState().map(\.0), s.schedulerState().map(\.0))
        }
    }

    func testReduceLROnPlateauMatchesPyTorch() throws {
        let fx = try loadFixture("optim")["schedules"] as! [String: Any]
        let cases: [(String, (SGD) -> ReduceLROnPlateau)] = [
            ("plateau_min", { ReduceLROnPlateau($0, mode: .min, factor: 0.5, patience: 2, cooldown: 1, minLR: 0.004) }),
            (
                "plateau_max_abs",
                { ReduceLROnPlateau($0, mode: .max, factor: 0.2, patience: 1, threshold: 0.1, thresholdMode: .abs) }
            ),
        ]
        for (name, make) in cases {
            let entry = fx[name] as! [String: Any]
            let metrics = (entry["metrics"] as! [NSNumber]).map(\.doubleValue)
            let states = (entry["state"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
            let opt = twoGroups()
            let s = make(opt)
            var got = [opt.learningRates]
            for (i, m) in metrics.enumerated() {
                s.step(metric: m)
                got.append(opt.learningRates)
                XCTAssertEqual([s.best, Double(s.numBadEpochs), Double(s.cooldownCounter)], states[i], "\(name) step \(i + 1)")
            }
            assertClose(got.flatMap { $0 }, expectedRates(entry).flatMap { $0 }, rtol: 1e-6, atol: 1e-9, name)
            XCTAssertEqual(s.lastEpoch, metrics.count)
        }
    }

    /// A plateau scheduler restored mid-way continues as the original does.
    func testPlateauStateRoundTrip() throws {
        let metrics: [Double] = [1, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8]
        let a = twoGroups(), b = twoGroups()
        let sa = ReduceLROnPlateau(a, factor: 0.5, patience: 1, cooldown: 2)
        let sb = ReduceLROnPlateau(b, factor: 0.5, patience: 1, cooldown: 2)
        for m in metrics[..<4] { sa.step(metric: m) }
        let mid = Dictionary(uniqueKeysWithValues: sa.schedulerState())
        XCTAssertEqual(mid["best"], 0.9)
        try sb.loadSchedulerState(mid)
        b.paramGroups = a.paramGroups.enumerated().map { i, g in
            var h = b.paramGroups[i]
            h.learningRate = g.learningRate
            return h
        }
        for m in metrics[4...] {
            sa.step(metric: m)
            sb.step(metric: m)
            XCTAssertEqual(a.learningRates, b.learningRates)
        }
        XCTAssertEqual(sa.schedulerState().map(\.1), sb.schedulerState().map(\.1))
        XCTAssertThrowsError(try sb.loadSchedulerState(["last_epoch": 1])) {
            XCTAssertEqual("\($0)", "checkpoint: ReduceLROnPlateau state is missing best")
        }
        XCTAssertThrowsError(try sb.loadSchedulerState(mid.merging(["num_bad_epochs": -1]) { $1 })) {
            XCTAssertEqual("\($0)", "checkpoint: scheduler state num_bad_epochs = -1.0 is not a whole number >= 0")
        }
    }

    func testComposedSchedulerStateNamesChildren() throws {
        let opt = twoGroups()
        let s = SequentialLR(opt, schedulers: [LinearLR(opt, totalIters: 2), ExponentialLR(opt, gamma: 0.5)], milestones: [2])
        for _ in 0..<4 { s.step() }
        XCTAssertEqual(s.schedulerState().map(\.0), ["last_epoch", "children.0.last_epoch", "children.1.last_epoch"])
        XCTAssertEqual(s.schedulerState().map(\.1), [4, 1, 2])
        XCTAssertThrowsError(try s.loadSchedulerState(["last_epoch": 1])) {
            XCTAssertEqual("\($0)", "checkpoint: SequentialLR state is missing children.0.last_epoch")
        }
        XCTAssertEqual(s.lastEpoch, 4, "a failed load changes nothing")
    }
}
