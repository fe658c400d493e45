import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// LR schedules, gradient clipping, NaN guard, metrics, progress bar, charts, logs.
final class TrainingUtilTests: XCTestCase {
    func schedulerRates(_ make: (SGD) -> any LRScheduler, steps: Int) -> [Float] {
        let opt = SGD(parameters: [Tensor(zeros: [1], requiresGrad: true)], learningRate: 0.1, momentum: 0.9)
        let s = make(opt)
        var rates = [opt.learningRate]
        for _ in 0..<steps { s.step(); rates.append(opt.learningRate) }
        return rates
    }

    func testSchedulesMatchPyTorch() throws {
        let fx = try loadFixture("schedules")["schedules"] as! [String: Any]
        assertClose(schedulerRates({ StepLR($0, stepSize: 3, gamma: 0.5) }, steps: 12), floats(fx["step_lr"]), rtol: 1e-6, atol: 0)
        assertClose(
            schedulerRates({ MultiStepLR($0, milestones: [7, 3, 7], gamma: 0.5) }, steps: 12), floats(fx["multi_step_lr"]),
            rtol: 1e-6, atol: 0)
        assertClose(
            schedulerRates({ CosineAnnealingLR($0, tMax: 10, etaMin: 0.001) }, steps: 25), floats(fx["cosine"]), rtol: 1e-6, atol: 1e-9)
        assertClose(
            schedulerRates({ OneCycleLR($0, maxLR: 0.2, totalSteps: 50) }, steps: 49), floats(fx["one_cycle"]), rtol: 1e-5, atol: 1e-9)
        // Jumping to a position (resume) gives the same rate as stepping there.
        let opt = SGD(parameters: [Tensor(zeros: [1])], learningRate: 0.1)
        let s = CosineAnnealingLR(opt, tMax: 10, etaMin: 0.001)
        s.lastEpoch = 7
        XCTAssertEqual(opt.learningRate, floats(fx["cosine"])[7], accuracy: 1e-8)
        XCTAssertEqual(s.lastLearningRate, opt.learningRate)
    }

    func testClipGradNormMatchesPyTorch() throws {
        let fx = try loadFixture("schedules")["clip"] as! [String: Any]
        for name in ["l2", "l2_big", "inf", "l1"] {
            let c = fx[name] as! [String: Any]
            let a = Tensor(zeros: [2, 2], requiresGrad: true), b = Tensor(zeros: [3], requiresGrad: true)
            let frozen = Tensor(zeros: [2], requiresGrad: true)  // no grad: skipped
            a.grad = Tensor(shape: [2, 2], floats(fx["g1"])); b.grad = Tensor(floats(fx["g2"]))
            let normType: Float = (c["norm_type"] as? String) == "inf" ? .infinity : Float((c["norm_type"] as! NSNumber).doubleValue)
            let total = clipGradNorm([a, frozen, b], maxNorm: Float((c["max_norm"] as! NSNumber).doubleValue), normType: normType)
            XCTAssertEqual(total, Float((c["total"] as! NSNumber).doubleValue), accuracy: 1e-5, name)
            assertClose(a.grad!.scalars, floats(c["g1"]), rtol: 1e-5, atol: 1e-7, name)
            assertClose(b.grad!.scalars, floats(c["g2"]), rtol: 1e-5, atol: 1e-7, name)
        }
        let p = Tensor(zeros: [4], requiresGrad: true)
        p.grad = Tensor([-3, 0.5, 2, -0.1])
        clipGradValue([p], clipValue: 1)
        XCTAssertEqual(p.grad!.scalars, [-1, 0.5, 1, -0.1])
        XCTAssertEqual(clipGradNorm([Tensor(zeros: [2])], maxNorm: 1), 0)
    }

    func testNaNGuardNamesTheFirstBadLayer() throws {
        let g = RandomGenerator(seed: 1)
        let bad = Linear(3, 3, generator: g)
        bad.weight.data[4] = .nan
        let model = Sequential(Linear(4, 3, generator: g), Sequential(ReLU(), bad, ReLU()), Linear(3, 2, generator: g))
        let x = Tensor.randn([2, 4], generator: g)
        XCTAssertThrowsError(try NaNGuard.forward(model, x)) { error in
            let e = error as! NonFiniteError
            XCTAssertEqual(e.kind, .output)
            XCTAssertEqual(e.name, "1.1")
            XCTAssertEqual(e.layerType, "Linear")
            XCTAssertTrue(e.description.contains("layer \"1.1\" (Linear)"), e.description)
        }
        bad.weight.data[4] = 0
        let y = try NaNGuard.forward(model, x)
        XCTAssertEqual(y.scalars, model(x).scalars)
        x.data[0] = .infinity
        XCTAssertThrowsError(try NaNGuard.forward(model, x)) { XCTAssertEqual(($0 as! NonFiniteError).kind, .input) }
        XCTAssertThrowsError(try NaNGuard.check(loss: Tensor.scalar(.nan))) { XCTAssertEqual(($0 as! NonFiniteError).name, "loss") }

        // Gradients: the last layer's is reported first (backward order).
        x.data[0] = 1
        let loss = crossEntropy(model(x), labels: [0, 1])
        loss.backward()
        XCTAssertNoThrow(try NaNGuard.checkGradients(model))
        bad.weight.grad!.data[0] = .nan
        model.layers[0].ownParameters[1].1.grad!.data[0] = -.infinity
        XCTAssertThrowsError(try NaNGuard.checkGradients(model)) { error in
            let e = error as! NonFiniteError
            XCTAssertEqual(e.name, "1.1.weight")
            XCTAssertEqual(e.nanCount, 1)
        }
    }

    func testMetrics() {
        var m = RunningMean()
        m.add(2, count: 10); m.add(4, count: 30)
        XCTAssertEqual(m.mean, 3.5)
        var acc = Accuracy()
        acc.add(logits: Tensor(shape: [3, 2], [0.1, 0.9, 0.8, 0.2, 0.3, 0.7]), labels: [1, 1, 1])
        XCTAssertEqual(acc.correct, 2)
        XCTAssertEqual(acc.value, 2.0 / 3, accuracy: 1e-12)
        var cm = ConfusionMatrix(classes: 3)
        cm.add(predictions: [0, 1, 2, 2, 0, 1], labels: [0, 1, 2, 1, 0, 0])
        XCTAssertEqual(cm.counts, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
        XCTAssertEqual(cm.accuracy, 4.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(cm.perClassRecall, [2.0 / 3, 0.5, 1])
        let text = cm.render(names: ["cat", "dog", "eel"])
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 5)
        XCTAssertTrue(lines[0].contains("cat") && lines[0].contains("recall"))
        XCTAssertTrue(lines[1].contains("  2   1   0"), String(lines[1]))
        XCTAssertTrue(lines[1].hasSuffix("66.7%"), String(lines[1]))
        XCTAssertTrue(text.contains("accuracy 66.67% over 6 samples"))
    }

    func testProgressBarLines() {
        var out: [String] = []
        var now = 0.0
        let bar = ProgressBar(
            total: 10, epoch: 1, epochs: 3, interactive: false, interval: 2,
            write: { out.append($0) }, clock: { now })
        for _ in 0..<10 { now += 0.5; bar.update(loss: 0.25, samples: 100) }
        // t = 0.5 (first), 2.5, 4.5 and the last step.
        XCTAssertEqual(out.count, 4)
        XCTAssertEqual(out[1], "epoch 1/3  step  5/10  loss 0.2500  200 samples/s  ETA 0:03\n")
        XCTAssertTrue(out[3].contains("step 10/10"))
        bar.finish("val acc 0.9")
        XCTAssertEqual(out.last, "epoch 1/3  step 10/10  mean loss 0.2500  200 samples/s  took 0:05  val acc 0.9\n")

        var tty: [String] = []
        let live = ProgressBar(total: 4, interactive: true, write: { tty.append($0) }, clock: { now })
        live.update(loss: 1, samples: 8)
        XCTAssertTrue(tty[0].hasPrefix("\r"))
        XCTAssertTrue(tty[0].contains("[######..................] 1/4"), tty[0])
        XCTAssertEqual(ProgressBar.duration(3725), "1:02:05")
    }

    func chart() -> LineChart {
        LineChart(
            title: "Accuracy <BN>", xLabel: "epoch", yLabel: "accuracy",
            series: [
                ChartSeries("BN", y: [0.2, 0.5, 0.7, 0.8, 0.85]),
                ChartSeries("plain", y: [0.1, 0.15, .nan, 0.3, 0.4], style: .dashed),
            ], yRange: 0...1)
    }

    func testSVGLineChartAndGrid() throws {
        let svg = chart().svg()
        XCTAssertTrue(svg.hasPrefix("<?xml"))
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
        XCTAssertEqual(svg.components(separatedBy: "class=\"series\"").count - 1, 2)
        XCTAssertTrue(svg.contains("Accuracy &lt;BN&gt;"), "title escaped")
        XCTAssertTrue(svg.contains("stroke-dasharray=\"6 4\""), "dashed series")
        XCTAssertTrue(svg.contains(">BN</text>") && svg.contains(">plain</text>"), "legend")
        XCTAssertTrue(svg.contains(">0.0</text>") && svg.contains(">1.0</text>"), "y ticks")
        XCTAssertTrue(svg.contains("rotate(-90"), "y label")
        // The NaN breaks the dashed line into two pieces.
        let plainPath = svg.components(separatedBy: "data-name=\"plain\" d=\"")[1].components(separatedBy: "\"")[0]
        XCTAssertEqual(plainPath.filter { $0 == "M" }.count, 2)
        XCTAssertEqual(SVG.ticks(0.03...0.97, count: 6), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])

        let panels = (0..<16).map { i -> LineChart in
            var c = chart(); c.title = "w = \(i)"; return c
        }
        let grid = ChartGrid(title: "BN (solid) vs plain (dashed)", columns: 4, panels: panels).svg()
        XCTAssertEqual(grid.components(separatedBy: "<g class=\"panel\">").count - 1, 16)
        XCTAssertEqual(grid.components(separatedBy: "<g class=\"legend\">").count - 1, 1, "one shared legend")
        XCTAssertTrue(grid.contains(">w = 15</text>"))

        let dir = makeTempDir(self)
        let written = try ChartFile.write(grid, base: dir + "/grid")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/grid.svg"))
        if ChartFile.rsvgConvert != nil {
            XCTAssertEqual(written.count, 2)
            let png = try FileBytes.readRaw(dir + "/grid.png")
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        }
    }

    func testTrainingLogCSVAndJSON() throws {
        var log = TrainingLog()
        log.append(["epoch": 1, "loss": 0.5])
        log.append(["epoch": 2, "loss": 0.25, "val accuracy": 0.875])
        XCTAssertEqual(log.csv(), "epoch,loss,val accuracy\n1,0.5,\n2,0.25,0.875\n")
        XCTAssertEqual(log.json(), "[\n  {\"epoch\":1,\"loss\":0.5},\n  {\"epoch\":2,\"loss\":0.25,\"val accuracy\":0.875}\n]\n")
        XCTAssertEqual(log.series(x: "epoch", y: "val accuracy").y, [0.875])
        let dir = makeTempDir(self)
        try log.writeJSON(to: dir + "/log.json")
        let back = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/log.json"))) as! [[String: Double]]
        XCTAssertEqual(back[1]["val accuracy"], 0.875)
    }
}
