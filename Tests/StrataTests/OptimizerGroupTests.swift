import XCTest

@testable import StrataCore
@testable import StrataNN

/// RMSprop, Adagrad, AMSGrad and parameter groups against PyTorch
/// (Fixtures/optim.json from make_optim_fixtures.py), strict state loading,
/// and the weight-decay split.
final class OptimizerGroupTests: XCTestCase {
    typealias Make = (Tensor, Tensor) throws -> any Optimizer

    static var cases: [(String, Make)] {
        [
            ("rmsprop", { RMSprop(parameters: [$0, $1]) }),
            ("rmsprop_momentum", { RMSprop(parameters: [$0, $1], learningRate: 0.005, alpha: 0.9, momentum: 0.8) }),
            (
                "rmsprop_centered",
                { RMSprop(parameters: [$0, $1], learningRate: 0.01, epsilon: 1e-6, weightDecay: 0.1, centered: true) }
            ),
            (
                "rmsprop_all",
                {
                    RMSprop(
                        parameters: [$0, $1], learningRate: 0.01, alpha: 0.95, epsilon: 1e-5, weightDecay: 0.05,
                        momentum: 0.5, centered: true)
                }
            ),
            ("adagrad", { Adagrad(parameters: [$0, $1]) }),
            (
                "adagrad_all",
                {
                    Adagrad(
                        parameters: [$0, $1], learningRate: 0.1, lrDecay: 0.1, weightDecay: 0.05,
                        initialAccumulatorValue: 0.1, epsilon: 1e-8)
                }
            ),
            ("adam_amsgrad", { Adam(parameters: [$0, $1], learningRate: 0.01, weightDecay: 0.1, amsgrad: true) }),
            (
                "adamw_amsgrad",
                { AdamW(parameters: [$0, $1], learningRate: 0.02, betas: (0.8, 0.95), weightDecay: 0.3, amsgrad: true) }
            ),
            (
                "sgd_groups",
                {
                    try SGD(
                        groups: [
                            ParameterGroup([$0], learningRate: 0.05, weightDecay: 0.1),
                            ParameterGroup([$1], momentum: 0.5, dampening: 0.2),
                        ], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
                }
            ),
            (
                "adam_groups",
                {
                    try Adam(
                        groups: [
                            ParameterGroup([$0]),
                            ParameterGroup([$1], learningRate: 0.05, weightDecay: 0.2, betas: (0.8, 0.9), epsilon: 1e-4),
                        ], learningRate: 0.01)
                }
            ),
            (
                "adamw_groups",
                {
                    try AdamW(
                        groups: [ParameterGroup([$0], weightDecay: 0), ParameterGroup([$1])], learningRate: 0.02,
                        weightDecay: 0.5)
                }
            ),
            (
                "rmsprop_groups",
                {
                    try RMSprop(
                        groups: [ParameterGroup([$0], momentum: 0.9), ParameterGroup([$1], alpha: 0.8)], learningRate: 0.01)
                }
            ),
            (
                "adagrad_groups",
                { try Adagrad(groups: [ParameterGroup([$0], lrDecay: 0.2), ParameterGroup([$1], learningRate: 0.1)]) }
            ),
        ]
    }

    func params() throws -> (Tensor, Tensor, [(Tensor, Tensor)]) {
        let f = try loadFixture("optim")["params"] as! [String: Any]
        let a = Tensor(shape: [2, 3], floats(f["a"]), requiresGrad: true)
        let b = Tensor(floats(f["b"]), requiresGrad: true)
        let grads = (f["grads"] as! [[Any]]).map { (Tensor(shape: [2, 3], floats($0[0])), Tensor(floats($0[1]))) }
        return (a, b, grads)
    }

    func testOptimizersAndGroupsMatchPyTorch() throws {
        let fx = try loadFixture("optim")["optimizers"] as! [String: Any]
        XCTAssertEqual(Set(fx.keys), Set(Self.cases.map(\.0)), "every fixture case is tested")
        for (name, make) in Self.cases {
            let expected = fx[name] as! [String: Any]
            let (a, b, grads) = try params()
            let opt = try make(a, b)
            for (step, (ga, gb)) in grads.enumerated() {
                a.grad = ga
                b.grad = gb
                opt.step()
                let after = floats((expected["after"] as! [Any])[step])
                assertClose(a.scalars + b.scalars, after, rtol: 2e-5, atol: 1e-6, "\(name) step \(step + 1)")
            }
            let keys = opt.stateDict().map(\.0).filter { $0.hasPrefix("0.") }.map { String($0.dropFirst(2)) }
            XCTAssertEqual(keys.sorted(), expected["state_keys"] as! [String], name)
        }
    }

    /// Stepping, saving the state, loading it into a fresh optimiser and
    /// stepping on equals stepping straight through, bit for bit.
    func testStateRoundTripResumesExactly() throws {
        for (name, make) in Self.cases {
            let (a, b, grads) = try params()
            let (c, d, _) = try params()
            let straight = try make(a, b)
            for (ga, gb) in grads {
                a.grad = ga
                b.grad = gb
                straight.step()
            }
            let first = try make(c, d)
            for (ga, gb) in grads[..<2] {
                c.grad = ga
                d.grad = gb
                first.step()
            }
            let second = try make(c, d)
            try second.loadStateDict(Dictionary(uniqueKeysWithValues: first.stateDict().map { ($0.0, $0.1.copy()) }))
            for (ga, gb) in grads[2...] {
                c.grad = ga
                d.grad = gb
                second.step()
            }
            XCTAssertEqual(a.scalars + b.scalars, c.scalars + d.scalars, name)
        }
    }

    func testStrictLoadingNamesTheProblem() throws {
        let p = Tensor([1, 2], requiresGrad: true)
        let rms = RMSprop(parameters: [p], momentum: 0.9)
        let state = Dictionary(uniqueKeysWithValues: rms.stateDict())
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertEqual(
            message { try Adagrad(parameters: [p]).loadStateDict(state) },
            "checkpoint: cannot load optimizer state into Adagrad: missing keys: \"0.sum\"; "
                + "unexpected keys: \"0.momentum_buffer\", \"0.square_avg\"")
        XCTAssertEqual(
            message { try RMSprop(parameters: [p]).loadStateDict(state) },
            "checkpoint: cannot load optimizer state into RMSprop: unexpected keys: \"0.momentum_buffer\"")
        XCTAssertEqual(
            message {
                try Adam(parameters: [p], amsgrad: true).loadStateDict(Dictionary(uniqueKeysWithValues: Adam(parameters: [p]).stateDict()))
            },
            "checkpoint: cannot load optimizer state into Adam(amsgrad: true): missing keys: \"0.max_exp_avg_sq\"")
        var wrong = state
        wrong["0.square_avg"] = Tensor(zeros: [3])
        XCTAssertEqual(
            message { try RMSprop(parameters: [p], momentum: 0.9).loadStateDict(wrong) },
            "checkpoint: optimizer state 0.square_avg has shape [3], expected [2]")
        wrong = state
        wrong["0.step"] = Tensor.scalar(1.5)
        XCTAssertTrue(message { try RMSprop(parameters: [p], momentum: 0.9).loadStateDict(wrong) }.contains("0.step = 1.5"))
        // Non-strict: the missing parameter keeps its state, the report lists it.
        let q = Tensor([3], requiresGrad: true)
        let two = Adagrad(parameters: [p, q])
        let report = try two.loadStateDict(Dictionary(uniqueKeysWithValues: Adagrad(parameters: [p]).stateDict()), strict: false)
        XCTAssertEqual(report.missingKeys, ["1.sum", "1.step"])
    }

    func testGroupsRefuseRepeatedParametersAndUnusedOptions() {
        let a = Tensor([1], requiresGrad: true), b = Tensor([2], requiresGrad: true)
        func message(_ body: () throws -> Any) -> String {
            do { _ = try body() } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertEqual(
            message { try SGD(groups: [ParameterGroup([a, b]), ParameterGroup([b])], learningRate: 0.1) },
            "SGD: some parameters appear in more than one parameter group (group 0 at 1 and group 1 at 0)")
        XCTAssertEqual(
            message { try Adam(groups: [ParameterGroup([a, b, a])]) },
            "Adam: parameter group 0 lists a parameter twice (at 0 and 2)")
        XCTAssertEqual(
            message { try SGD(groups: [ParameterGroup([a], betas: (0.9, 0.9))], learningRate: 0.1) },
            "SGD: parameter group 0 sets beta1, which SGD does not use")
        XCTAssertEqual(
            message { try Adam(groups: [ParameterGroup([a]), ParameterGroup([b], betas: (1, 0.9))]) },
            "Adam: parameter group 1: betas must be in [0, 1), got (1.0, 0.9)")
        XCTAssertEqual(message { try RMSprop(groups: []) }, "RMSprop: got no parameter groups")
    }

    func testLearningRateIsTheFirstGroupsAndSetsAll() throws {
        let a = Tensor([1], requiresGrad: true), b = Tensor([2], requiresGrad: true)
        let opt = try SGD(groups: [ParameterGroup([a]), ParameterGroup([b], learningRate: 0.01)], learningRate: 0.1)
        XCTAssertEqual(opt.learningRate, 0.1)
        XCTAssertEqual(opt.learningRates, [0.1, 0.01])
        XCTAssertTrue(opt.parameters.count == 2 && opt.parameters[0] === a && opt.parameters[1] === b)
        XCTAssertEqual(opt.paramGroups[1].momentum, 0, "constructor defaults fill the group")
        opt.learningRate = 0.5
        XCTAssertEqual(opt.learningRates, [0.5, 0.5])
        opt.paramGroups[1].weightDecay = 0.25
        XCTAssertEqual(opt.paramGroups.map(\.weightDecay), [0, 0.25])
    }

    /// The one-line split: BatchNorm parameters and biases without weight decay.
    func testWeightDecayGroupsSkipBatchNormAndBiases() throws {
        let g = RandomGenerator(seed: 3)
        let model = Sequential(Linear(3, 4, generator: g), BatchNorm1d(4), ReLU(), Linear(4, 2, generator: g))
        let groups = model.weightDecayGroups()
        let named = Dictionary(uniqueKeysWithValues: model.namedParameters().map { (ObjectIdentifier($0.1), $0.0) })
        XCTAssertEqual(
            groups.map { $0.parameters.map { named[ObjectIdentifier($0)] ?? "?" } },
            [
                ["0.weight", "3.weight"], ["0.bias", "1.weight", "1.bias", "3.bias"],
            ])
        XCTAssertEqual(groups.map(\.weightDecay), [nil, 0])
        let opt = try SGD(groups: groups, learningRate: 0.1, weightDecay: 0.5)
        XCTAssertEqual(opt.paramGroups.map(\.weightDecay), [0.5, 0])
        let before = model.parameters().map(\.scalars)
        for p in model.parameters() { p.grad = Tensor(zeros: p.shape) }
        opt.step()
        // Zero gradients: only weight decay moves a parameter, p * (1 - lr * wd).
        for ((key, p), old) in zip(model.namedParameters(), before) {
            let decays = key == "0.weight" || key == "3.weight"
            assertClose(p.scalars, old.map { decays ? $0 - 0.1 * 0.5 * $0 : $0 }, rtol: 1e-6, atol: 0, key)
        }
        // A custom rule: only biases.
        let biasOnly = model.weightDecayGroups(noWeightDecayOn: { name, _, _ in name == "bias" })
        XCTAssertEqual(biasOnly.map(\.parameters.count), [3, 3])
    }
}
