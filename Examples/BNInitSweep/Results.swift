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

        func json() -> String {
            func list(_ a: [Double]) -> String { "[" + a.map { String(format: "%.4f", $0) }.joined(separator: ", ") + "]" }
            var s = "{\n"
            s += "  \"bn_convention\": {\"name\": \(JSONValue.quote(convention.name)), \"eps\": \(convention.eps), "
            s += "\"momentum\": \(convention.momentum), \"unbiased_running_var\": \(convention.unbiasedRunningVariance), \"initial_running_var\": \(convention.initialRunningVar)},\n"
            s += "  \"w\": [" + ws.map { "\($0)" }.joined(separator: ", ") + "],\n"
            s += "  \"seeds\": [" + seeds.map(String.init).joined(separator: ", ") + "],\n"
            s += "  \"epochs\": \(epochs), \"train_images\": \(trainCount), \"held_out_images\": \(heldOutCount),\n"
            s += "  \"wall_seconds\": \(String(format: "%.1f", wallSeconds)),\n"
            s += "  \"runs\": [\n"
            s += runs.map { r in
                "    {\"seed\": \(r.seed), \"w\": \(r.w),\n"
                    + "     \"bn\": {\"train_acc\": \(list(r.bn.trainAcc)), \"test_acc\": \(list(r.bn.testAcc))},\n"
                    + "     \"plain\": {\"train_acc\": \(list(r.plain.trainAcc)), \"test_acc\": \(list(r.plain.testAcc))}}"
            }.joined(separator: ",\n")
            s += "\n  ]\n}\n"
            return s
        }

        func summaryMarkdown() -> String {
            var s = "Final accuracy after \(epochs) epochs, mean over \(seeds.count) seed(s) \(seeds); "
            s += "BN convention \(convention.name) (eps \(convention.eps), momentum \(convention.momentum)).\n\n"
            s += "| w | BN train | plain train | BN held-out | plain held-out |\n|---:|---:|---:|---:|---:|\n"
            for wi in ws.indices {
                let v = [mean(wi, bn: true, test: false), mean(wi, bn: false, test: false),
                         mean(wi, bn: true, test: true), mean(wi, bn: false, test: true)].map { ($0.last ?? 0) * 100 }
                s += String(format: "| %.3g | %.1f%% | %.1f%% | %.1f%% | %.1f%% |\n", ws[wi], v[0], v[1], v[2], v[3])
            }
            return s
        }

        func grid(metric: String, title: String) -> ChartGrid {
            let test = metric == "test"
            let panels = ws.indices.map { wi -> LineChart in
                LineChart(title: String(format: "w = %.3g", ws[wi]), xLabel: "epoch", yLabel: "accuracy",
                          series: [ChartSeries("BatchNorm", y: mean(wi, bn: true, test: test), color: "#1f77b4", style: .solid),
                                   ChartSeries("plain", y: mean(wi, bn: false, test: test), color: "#ff7f0e", style: .dashed)],
                          yRange: 0...1, showLegend: false)
            }
            return ChartGrid(title: title, columns: 4, panels: panels, sharedLegend: true)
        }
    }
}
