import Foundation
import Strata

/// Results of the sweep and their renderings.
enum InitSweep {
    /// logspace(0, -4, count): 1 down to 1e-4.
    static func scales(count: Int) -> [Double] {
        count == 1 ? [1] : (0..<count).map { pow(10, -4 * Double($0) / Double(count - 1)) }
    }

    struct Curves {
        var trainAcc: [Double] = []
        var testAcc: [Double] = []
    }

    struct Run {
        var seed: UInt64
        var w: Double
        var bn = Curves()
        var plain = Curves()
    }

    struct Results {
        var convention: SeedMLP.BNConvention
        var ws: [Double]
        var seeds: [UInt64]
        var runs: [Run]
        var epochs: Int
        var trainCount: Int
        var heldOutCount: Int
        var wallSeconds: Double

        /// Mean curve over seeds for scale index `wi`.
        func mean(_ wi: Int, bn: Bool, test: Bool) -> [Double] {
            let sel = runs.filter { $0.w == ws[wi] }.map { r -> [Double] in
                let c = bn ? r.bn : r.plain
                return test ? c.testAcc : c.trainAcc
            }
            guard let first = sel.first else { return [] }
            return first.indices.map { e in sel.map { $0[e] }.reduce(0, +) / Double(sel.count) }
        }

        /// results.json: the convention, the grid, and every run's curves
        /// (snake_case keys, written by Foundation's JSONEncoder).
        func json() throws -> Data {
            struct Convention: Encodable {
                var name: String, eps: Float, momentum: Float, unbiasedRunningVar: Bool, initialRunningVar: Float
            }
            struct Curve: Encodable { var trainAcc: [Double], testAcc: [Double] }
            struct RunRecord: Encodable { var seed: UInt64, w: Double, bn: Curve, plain: Curve }
            struct File: Encodable {
                var bnConvention: Convention, w: [Double], seeds: [UInt64]
                var epochs: Int, trainImages: Int, heldOutImages: Int, wallSeconds: Double
                var runs: [RunRecord]
            }
            let c = convention
            let file = File(
                bnConvention: Convention(
                    name: c.name, eps: c.eps, momentum: c.momentum,
                    unbiasedRunningVar: c.unbiasedRunningVariance, initialRunningVar: c.initialRunningVar),
                w: ws, seeds: seeds, epochs: epochs, trainImages: trainCount, heldOutImages: heldOutCount,
                wallSeconds: (wallSeconds * 10).rounded() / 10,
                runs: runs.map { r in
                    RunRecord(
                        seed: r.seed, w: r.w, bn: Curve(trainAcc: r.bn.trainAcc, testAcc: r.bn.testAcc),
                        plain: Curve(trainAcc: r.plain.trainAcc, testAcc: r.plain.testAcc))
                })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            return try encoder.encode(file)
        }

        func summaryMarkdown() -> String {
            var s = "Final accuracy after \(epochs) epochs, mean over \(seeds.count) seed(s) \(seeds); "
            s += "BN convention \(convention.name) (eps \(convention.eps), momentum \(convention.momentum)).\n\n"
            s += "| w | BN train | plain train | BN held-out | plain held-out |\n|---:|---:|---:|---:|---:|\n"
            for wi in ws.indices {
                let v = [
                    mean(wi, bn: true, test: false), mean(wi, bn: false, test: false),
                    mean(wi, bn: true, test: true), mean(wi, bn: false, test: true),
                ].map { ($0.last ?? 0) * 100 }
                s += String(format: "| %.3g | %.1f%% | %.1f%% | %.1f%% | %.1f%% |\n", ws[wi], v[0], v[1], v[2], v[3])
            }
            return s
        }

        func grid(metric: String, title: String) -> ChartGrid {
            let test = metric == "test"
            let panels = ws.indices.map { wi -> LineChart in
                LineChart(
                    title: String(format: "w = %.3g", ws[wi]), xLabel: "epoch", yLabel: "accuracy",
                    series: [
                        ChartSeries("BatchNorm", y: mean(wi, bn: true, test: test), color: "#1f77b4", style: .solid),
                        ChartSeries("plain", y: mean(wi, bn: false, test: test), color: "#ff7f0e", style: .dashed),
                    ],
                    yRange: 0...1, showLegend: false)
            }
            return ChartGrid(title: title, columns: 4, panels: panels, sharedLegend: true)
        }
    }
}
