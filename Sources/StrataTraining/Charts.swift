import Foundation
import StrataCore
import StrataData
import StrataIO
import StrataNN

/// Line style of a chart series.
public enum LineStyle: String, Sendable {
    case solid, dashed, dotted

    var dashArray: String? {
        switch self {
        case .solid: return nil
        case .dashed: return "6 4"
        case .dotted: return "1.5 3"
        }
    }
}

/// One line of a chart: points (x[i], y[i]); non-finite y values break the line.
public struct ChartSeries: Sendable {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    /// CSS colour; nil picks from the palette by the series' name.
    public var color: String?
    public var style: LineStyle
    public var lineWidth: Double

    public init(_ name: String, x: [Double], y: [Double], color: String? = nil, style: LineStyle = .solid, lineWidth: Double = 1.6) {
        strataCheck(x.count == y.count, "ChartSeries \(name): \(x.count) x values for \(y.count) y values")
        self.name = name
        self.x = x
        self.y = y
        self.color = color
        self.style = style
        self.lineWidth = lineWidth
    }

    /// y against 1, 2, 3, ... (e.g. one value per epoch).
    public init(_ name: String, y: [Double], color: String? = nil, style: LineStyle = .solid) {
        self.init(name, x: (0..<y.count).map { Double($0 + 1) }, y: y, color: color, style: style)
    }
}

/// A line chart with axes, ticks, grid lines and a legend, rendered as SVG
/// by the library (no Python). Put several in a `ChartGrid` for panels.
public struct LineChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [ChartSeries]
    /// Fixed axis ranges (e.g. 0...1 for accuracy); nil fits the data.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    public var showLegend: Bool

    public init(
        title: String = "", xLabel: String = "", yLabel: String = "", series: [ChartSeries] = [],
        xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil, showLegend: Bool = true
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.xRange = xRange
        self.yRange = yRange
        self.showLegend = showLegend
    }

    /// A standalone SVG document.
    public func svg(width: Double = 640, height: Double = 400) -> String {
        var out = SVG.header(width: width, height: height)
        render(into: &out, x: 0, y: 0, width: width, height: height, fontSize: 13, palette: SVG.palette(for: series.map(\.name)))
        return out + "</svg>\n"
    }

    /// Draws the chart into the box (x, y, width, height) of an SVG document.
    func render(
        into out: inout String, x: Double, y: Double, width: Double, height: Double,
        fontSize f: Double, palette: [String: String]
    ) {
        let top = y + (title.isEmpty ? f * 0.8 : f * 2.0)
        let left = x + f * (yLabel.isEmpty ? 3.2 : 4.6)
        let bottom = y + height - f * (xLabel.isEmpty ? 1.9 : 3.2)
        let right = x + width - f * 0.8
        let pw = max(right - left, 1), ph = max(bottom - top, 1)

        let xs = series.flatMap { $0.x }.filter(\.isFinite)
        let ys = zip(series.flatMap { $0.x }, series.flatMap { $0.y }).filter { $0.0.isFinite && $0.1.isFinite }.map(\.1)
        let xr = xRange ?? SVG.extent(xs), yr = yRange ?? SVG.extent(ys)
        let xt = SVG.ticks(xr, count: width < 400 ? 4 : 6), yt = SVG.ticks(yr, count: height < 300 ? 4 : 6)
        let (x0, x1) = xRange.map { ($0.lowerBound, $0.upperBound) } ?? (xt.first ?? 0, xt.last ?? 1)
        let (y0, y1) = yRange.map { ($0.lowerBound, $0.upperBound) } ?? (yt.first ?? 0, yt.last ?? 1)
        func px(_ v: Double) -> Double { left + (v - x0) / (x1 - x0 == 0 ? 1 : x1 - x0) * pw }
        func py(_ v: Double) -> Double { bottom - (v - y0) / (y1 - y0 == 0 ? 1 : y1 - y0) * ph }

        if !title.isEmpty {
            out += SVG.text(title, x: x + width / 2, y: y + f * 1.3, size: f * 1.05, anchor: "middle", weight: "bold")
        }
        // Grid lines and tick labels.
        out += "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">"
        for t in xt where t >= x0 - 1e-12 && t <= x1 + 1e-12 { out += SVG.line(px(t), top, px(t), bottom) }
        for t in yt where t >= y0 - 1e-12 && t <= y1 + 1e-12 { out += SVG.line(left, py(t), right, py(t)) }
        out += "</g>\n"
        out += "<g class=\"axes\" stroke=\"#333\" stroke-width=\"1\">"
        out += SVG.line(left, bottom, right, bottom) + SVG.line(left, top, left, bottom)
        for t in xt where t >= x0 - 1e-12 && t <= x1 + 1e-12 { out += SVG.line(px(t), bottom, px(t), bottom + 4) }
        for t in yt where t >= y0 - 1e-12 && t <= y1 + 1e-12 { out += SVG.line(left - 4, py(t), left, py(t)) }
        out += "</g>\n<g class=\"ticks\">"
        let xStep = xt.count > 1 ? xt[1] - xt[0] : 1, yStep = yt.count > 1 ? yt[1] - yt[0] : 1
        for t in xt where t >= x0 - 1e-12 && t <= x1 + 1e-12 {
            out += SVG.text(SVG.tickLabel(t, step: xStep), x: px(t), y: bottom + f * 1.25, size: f * 0.85, anchor: "middle")
        }
        for t in yt where t >= y0 - 1e-12 && t <= y1 + 1e-12 {
            out += SVG.text(SVG.tickLabel(t, step: yStep), x: left - 6, y: py(t) + f * 0.3, size: f * 0.85, anchor: "end")
        }
        out += "</g>\n"
        if !xLabel.isEmpty { out += SVG.text(xLabel, x: left + pw / 2, y: y + height - f * 0.5, size: f * 0.95, anchor: "middle") }
        if !yLabel.isEmpty {
            let cx = x + f * 1.1, cy = top + ph / 2
            out +=
                "<text x=\"\(SVG.n(cx))\" y=\"\(SVG.n(cy))\" font-size=\"\(SVG.n(f * 0.95))\" text-anchor=\"middle\" transform=\"rotate(-90 \(SVG.n(cx)) \(SVG.n(cy)))\">\(SVG.escape(yLabel))</text>\n"
        }
        // Series, clipped to the plot area.
        let clip = "clip\(Int(x))_\(Int(y))"
        out +=
            "<clipPath id=\"\(clip)\"><rect x=\"\(SVG.n(left))\" y=\"\(SVG.n(top))\" width=\"\(SVG.n(pw))\" height=\"\(SVG.n(ph))\"/></clipPath>\n"
        out += "<g clip-path=\"url(#\(clip))\" fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\">\n"
        for s in series {
            var d = "", pen = false
            for (a, b) in zip(s.x, s.y) {
                guard a.isFinite && b.isFinite else { pen = false; continue }
                d += (pen ? " L" : (d.isEmpty ? "M" : " M")) + "\(SVG.n(px(a))) \(SVG.n(py(b)))"
                pen = true
            }
            guard !d.isEmpty else { continue }
            let color = s.color ?? palette[s.name] ?? "#1f77b4"
            let dash = s.style.dashArray.map { " stroke-dasharray=\"\($0)\"" } ?? ""
            out +=
                "<path class=\"series\" data-name=\"\(SVG.escape(s.name))\" d=\"\(d)\" stroke=\"\(color)\" stroke-width=\"\(SVG.n(s.lineWidth))\"\(dash)/>\n"
        }
        out += "</g>\n"
        if showLegend && !series.isEmpty {
            // The plot corner whose legend box would cover the fewest data points.
            let (lw, lh) = SVG.legendSize(series, size: f * 0.85)
            var points: [(Double, Double)] = []
            for s in series {
                let pts = zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite }.map { (px($0.0), py($0.1)) }
                points += pts
                points += zip(pts, pts.dropFirst()).map { (($0.0 + $1.0) / 2, ($0.1 + $1.1) / 2) }
            }
            let corners = [(right - lw - 8, top + 6), (left + 8, top + 6), (right - lw - 8, bottom - lh - 6), (left + 8, bottom - lh - 6)]
            let covered = corners.map { c in points.filter { $0.0 >= c.0 && $0.0 <= c.0 + lw && $0.1 >= c.1 && $0.1 <= c.1 + lh }.count }
            let best = corners[covered.firstIndex(of: covered.min() ?? 0) ?? 0]
            out += SVG.legend(series, palette: palette, x: best.0, y: best.1, size: f * 0.85)
        }
    }
}

/// Small charts in a grid (e.g. 4 x 4), each with its own title and
/// series, optionally one shared legend below the grid.
public struct ChartGrid: Sendable {
    public var title: String
    public var columns: Int
    public var panels: [LineChart]
    /// One legend under the grid (from the first panel's series) instead of one per panel.
    public var sharedLegend: Bool

    public init(title: String = "", columns: Int, panels: [LineChart], sharedLegend: Bool = true) {
        strataCheck(columns > 0, "ChartGrid: columns must be positive, got \(columns)")
        self.title = title
        self.columns = columns
        self.panels = panels
        self.sharedLegend = sharedLegend
    }

    public func svg(panelWidth: Double = 260, panelHeight: Double = 200) -> String {
        let rows = (panels.count + columns - 1) / columns
        let f = 11.0
        let head = title.isEmpty ? 4.0 : 30.0
        let legendSeries = sharedLegend ? (panels.first?.series ?? []) : []
        let foot = legendSeries.isEmpty ? 4.0 : 30.0
        let width = panelWidth * Double(columns), height = head + panelHeight * Double(rows) + foot
        let palette = SVG.palette(for: panels.flatMap { $0.series.map(\.name) })
        var out = SVG.header(width: width, height: height)
        if !title.isEmpty { out += SVG.text(title, x: width / 2, y: 20, size: 15, anchor: "middle", weight: "bold") }
        for (i, panel) in panels.enumerated() {
            var p = panel
            if sharedLegend { p.showLegend = false }
            out += "<g class=\"panel\">\n"
            p.render(
                into: &out, x: Double(i % columns) * panelWidth, y: head + Double(i / columns) * panelHeight,
                width: panelWidth, height: panelHeight, fontSize: f, palette: palette)
            out += "</g>\n"
        }
        if !legendSeries.isEmpty {
            out += SVG.legend(legendSeries, palette: palette, x: 10, y: height - foot + 6, size: 12, horizontal: true)
        }
        return out + "</svg>\n"
    }
}

/// Writing charts: SVG always, PNG through `rsvg-convert` when installed.
public enum ChartFile {
    /// Writes `svg` to `path` (atomically).
    public static func writeSVG(_ svg: String, to path: String) throws {
        try AtomicFile.write(Array(svg.utf8), to: path)
    }

    /// The full path of `rsvg-convert` (Debian package librsvg2-bin), if on PATH.
    public static var rsvgConvert: String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/rsvg-convert" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Converts an SVG file to PNG (white background). Returns false
    /// without doing anything when `rsvg-convert` is not installed; throws
    /// when it runs and fails.
    @discardableResult
    public static func convertToPNG(svgPath: String, pngPath: String, zoom: Double = 1.5) throws -> Bool {
        guard let tool = rsvgConvert else { return false }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = ["--zoom", "\(zoom)", "--background-color", "white", "--output", pngPath, svgPath]
        let errPipe = Pipe()
        p.standardError = errPipe
        do { try p.run() } catch { throw StrataError.io(path: svgPath, reason: "cannot run rsvg-convert: \(error)") }
        let message = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw StrataError.io(path: svgPath, reason: "rsvg-convert failed (\(p.terminationStatus)): \(message)")
        }
        return true
    }

    /// Writes `svg` to `<base>.svg` and, when possible, `<base>.png`.
    /// Returns the paths written.
    @discardableResult
    public static func write(_ svg: String, base: String) throws -> [String] {
        try writeSVG(svg, to: base + ".svg")
        return try convertToPNG(svgPath: base + ".svg", pngPath: base + ".png") ? [base + ".svg", base + ".png"] : [base + ".svg"]
    }
}
