import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// Optimisers against PyTorch, and an end-to-end training run.
final class OptimizerTests: XCTestCase {
    func runOptimizer(_ make: ([Tensor]) -> any Optimizer) throws -> [Float] {
        let f = try loadFixture("core")["optim"] as! [String: Any]
        let p = Tensor(floats(f["p0"]), requiresGrad: true)
        let opt = make([p])
        for g in (f["grads"] as! [Any]) {
            p.grad = Tensor(floats(g))
            opt.step()
        }
        return p.scalars
    }

    func testOptimizersMatchPyTorch() throws {
        let results = (try loadFixture("core")["optim"] as! [String: Any])["results"] as! [String: Any]
        let cases: [(String, ([Tensor]) -> any Optimizer)] = [
            ("sgd_plain", { SGD(parameters: $0, learningRate: 0.1) }),
            ("sgd_momentum", { SGD(parameters: $0, learningRate: 0.1, momentum: 0.9) }),
            ("sgd_dampening_wd", { SGD(parameters: $0, learningRate: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0.01) }),
            ("sgd_nesterov", { SGD(parameters: $0, learningRate: 0.1, momentum: 0.9, weightDecay: 0.1, nesterov: true) }),
            ("adam", { Adam(parameters: $0, learningRate: 0.01) }),
            ("adam_wd", { Adam(parameters: $0, learningRate: 0.01, betas: (0.8, 0.99), epsilon: 1e-6, weightDecay: 0.1) }),
            ("adamw", { AdamW(parameters: $0, learningRate: 0.01) }),
            ("adamw_wd", { AdamW(parameters: $0, learningRate: 0.02, weightDecay: 0.3) }),
        ]
        for (name, make) in cases {
            assertClose(try runOptimizer(make), floats(results[name]), rtol: 1e-5, atol: 1e-6, name)
        }
    }

    func testOptimizerStateRoundTripResumesExactly() throws {
        for make in [
            { SGD(parameters: $0, learningRate: 0.1, momentum: 0.9) } as ([Tensor]) -> any Optimizer,
            { Adam(parameters: $0, learningRate: 0.01) },
        ] {
            let g = RandomGenerator(seed: 5)
            let grads = (0..<4).map { _ in Tensor.randn([3], generator: g) }
            let a = Tensor([1, 2, 3], requiresGrad: true), b = Tensor([1, 2, 3], requiresGrad: true)
            let oa = make([a])
            for gr in grads { a.grad = gr; oa.step() }
            let ob1 = make([b])
            for gr in grads[..<2] { b.grad = gr; ob1.step() }
            let ob2 = make([b])
            try ob2.loadStateDict(Dictionary(uniqueKeysWithValues: ob1.stateDict().map { ($0.0, $0.1.copy()) }))
            for gr in grads[2...] { b.grad = gr; ob2.step() }
            XCTAssertEqual(a.scalars, b.scalars)
        }
    }

    func testOptimizerStateErrorsNameTheKey() {
        let p = Tensor([1, 2], requiresGrad: true)
        let adam = Adam(parameters: [p])
        XCTAssertThrowsError(
            try adam.loadStateDict(["0.step": Tensor.scalar(1), "0.exp_avg": Tensor(zeros: [3]), "0.exp_avg_sq": Tensor(zeros: [2])])
        ) {
            XCTAssertEqual("\($0)", "checkpoint: optimizer state 0.exp_avg has shape [3], expected [2]")
        }
    }

    /// Two-layer MLP on a fixed, separable problem: the loss must fall below a
    /// threshold, and two runs with the same seed give identical losses.
    func trainSpirals(seed: UInt64) -> [Float] {
        let g = RandomGenerator(seed: seed)
        // Three Gaussian blobs in 2-D.
        let centers: [(Float, Float)] = [(2, 0), (-1, 1.7), (-1, -1.7)]
        var xs: [Float] = [], labels: [Int] = []
        for i in 0..<150 {
            let c = i % 3
            let noise = Tensor.randn([2], std: 0.5, generator: g)
            xs += [centers[c].0 + noise.data[0], centers[c].1 + noise.data[1]]
            labels.append(c)
        }
        let x = Tensor(shape: [150, 2], xs)
        let model = Sequential(Linear(2, 16, generator: g), ReLU(), Linear(16, 3, generator: g))
        let opt = SGD(parameters: model.parameters(), learningRate: 0.1, momentum: 0.9)
        var losses: [Float] = []
        for _ in 0..<60 {
            opt.zeroGrad()
            let loss = crossEntropy(model(x), labels: labels)
            loss.backward()
            opt.step()
            losses.append(loss.item)
        }
        model.eval()
        let accuracy = zip(withNoGrad { model(x) }.argmax(axis: 1), labels).filter { $0 == $1 }.count
        XCTAssertGreaterThan(accuracy, 140)
        return losses
    }

    func testMLPTrainsAndIsDeterministic() {
        BLAS.threadCount = 1
        let a = trainSpirals(seed: 42)
        let b = trainSpirals(seed: 42)
        XCTAssertEqual(a, b, "same seed must give identical losses")
        XCTAssertGreaterThan(a[0], 0.5)
        XCTAssertLessThan(a.last!, 0.1)
    }
}
