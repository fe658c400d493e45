import Foundation
import StrataCore
import StrataData
import StrataIO
import StrataNN

/// Low-level SVG pieces shared by the charts.
enum SVG {
    /// Matplotlib's "tab10" colours, assigned to series names in order of appearance.
    static let colors = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]

    static func palette(for names: [String]) -> [String: String] {
        var map: [String: String] = [:]
        for name in names where map[name] == nil { map[name] = colors[map.count % colors.count] }
        return map
    }

    static func header(width: Double, height: Double) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\" "
            + "viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    }

    /// A coordinate with at most two decimals.
    static func n(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) -> String {
        "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\"/>"
    }

    static func text(_ s: String, x: Double, y: Double, size: Double, anchor: String, weight: String? = nil) -> String {
        let w = weight.map { " font-weight=\"\($0)\"" } ?? ""
        return "<text x=\"\(n(x))\" y=\"\(n(y))\" font-size=\"\(n(size))\" text-anchor=\"\(anchor)\"\(w)>\(escape(s))</text>\n"
    }

    /// Width and height of the legend box for `series`.
    static func legendSize(_ series: [ChartSeries], size: Double, horizontal: Bool = false) -> (width: Double, height: Double) {
        var seen = Set<String>()
        let items = series.filter { seen.insert($0.name).inserted }
        let rowH = size * 1.35
        let widths = items.map { 30 + Double($0.name.count) * size * 0.6 + 14 }
        return (
            horizontal ? widths.reduce(0, +) + 8 : (widths.max() ?? 0) + 8,
            horizontal ? rowH + 6 : rowH * Double(items.count) + 6
        )
    }

    /// A legend box: one short line sample (colour and dash) per series name.
    static func legend(
        _ series: [ChartSeries], palette: [String: String], x: Double, y: Double, size: Double,
        horizontal: Bool = false
    ) -> String {
        var seen = Set<String>()
        let items = series.filter { seen.insert($0.name).inserted }
        let rowH = size * 1.35
        let widths = items.map { 30 + Double($0.name.count) * size * 0.6 + 14 }
        let (boxW, boxH) = legendSize(series, size: size, horizontal: horizontal)
        var out =
            "<g class=\"legend\">\n<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(boxW))\" height=\"\(n(boxH))\" "
            + "fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n"
        var cx = x + 6, cy = y + 3 + rowH / 2
        for (i, s) in items.enumerated() {
            let color = s.color ?? palette[s.name] ?? colors[0]
            let dash = s.style.dashArray.map { " stroke-dasharray=\"\($0)\"" } ?? ""
            out +=
                "<line x1=\"\(n(cx))\" y1=\"\(n(cy))\" x2=\"\(n(cx + 24))\" y2=\"\(n(cy))\" stroke=\"\(color)\" stroke-width=\"\(n(s.lineWidth + 0.4))\"\(dash)/>\n"
            out += text(s.name, x: cx + 30, y: cy + size * 0.35, size: size, anchor: "start")
            if horizontal { cx += widths[i] } else { cy += rowH }
        }
        return out + "</g>\n"
    }

    /// The data range, widened when empty or flat.
    static func extent(_ values: [Double]) -> ClosedRange<Double> {
        guard var lo = values.min(), var hi = values.max() else { return 0...1 }
        if lo == hi { let pad = lo == 0 ? 1 : abs(lo) * 0.1; lo -= pad; hi += pad }
        return lo...hi
    }

    /// 1, 2 or 5 times a power of ten, near `range / (count - 1)`: Heckbert's
    /// "nice numbers" for axis labels.
    static func niceStep(_ raw: Double) -> Double {
        let e = Foundation.floor(Foundation.log10(raw))
        let f = raw / Foundation.pow(10, e)
        let nice: Double = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10
        return nice * Foundation.pow(10, e)
    }

    /// Tick positions covering `range` (first <= lower bound, last >= upper bound).
    static func ticks(_ range: ClosedRange<Double>, count: Int) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return [range.lowerBound] }
        let step = niceStep(span / Double(max(count - 1, 1)))
        let lo = Foundation.floor(range.lowerBound / step) * step
        let hi = Foundation.ceil(range.upperBound / step) * step
        var out: [Double] = []
        var t = lo
        while t <= hi + step * 1e-9 && out.count < 100 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)
            t = lo + Double(out.count) * step
        }
        return out
    }

    /// A tick label with as many decimals as the step needs.
    static func tickLabel(_ v: Double, step: Double) -> String {
        let mag = abs(v) > abs(step) ? abs(v) : abs(step)
        if mag >= 1e5 || (mag < 1e-3 && mag > 0) { return String(format: "%.0e", v) }
        let decimals = max(0, Int(-Foundation.floor(Foundation.log10(step) + 1e-9)))
        return String(format: "%.\(decimals)f", v)
    }
}
