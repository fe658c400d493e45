import Dispatch
import Foundation
import StrataCore
import StrataData
import StrataIO
import StrataNN

/// Training progress on stderr: a bar redrawn in place when stderr is a
/// terminal, plain lines every `interval` seconds otherwise (logs, CI).
/// Shows epoch, step/total, loss, throughput (samples/s) and ETA.
///
///     let bar = ProgressBar(total: loader.batchCount, epoch: e, epochs: 10)
///     for batch in loader { ...; bar.update(loss: loss.item, samples: batch.count) }
///     bar.finish()
public final class ProgressBar {
    public let total: Int
    public let epoch: Int?
    public let epochs: Int?
    /// Redraw in place (terminal) or print periodic lines.
    public let interactive: Bool
    /// Seconds between plain lines (non-interactive mode).
    public let interval: Double
    private let write: (String) -> Void
    private let clock: () -> Double
    private let start: Double
    private var lastDraw: Double = -.infinity
    public private(set) var step = 0
    public private(set) var samples = 0
    private var loss = RunningMean()
    private var lastLoss: Double?

    /// `interactive` defaults to whether stderr is a terminal; `write`
    /// defaults to stderr; `clock` (seconds) is injectable for tests.
    public init(
        total: Int, epoch: Int? = nil, epochs: Int? = nil, interactive: Bool? = nil, interval: Double = 10,
        write: ((String) -> Void)? = nil, clock: (() -> Double)? = nil
    ) {
        self.total = total
        self.epoch = epoch
        self.epochs = epochs
        self.interactive = interactive ?? (isatty(2) != 0)
        self.interval = interval
        self.write = write ?? { FileHandle.standardError.write(Data($0.utf8)) }
        self.clock = clock ?? { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
        start = self.clock()
    }

    /// Records one finished step of `samples` samples with its mean loss.
    public func update(loss value: Double? = nil, samples count: Int) {
        step += 1
        samples += count
        if let value { loss.add(value, count: count); lastLoss = value }
        let now = clock()
        let due = interactive ? now - lastDraw >= 0.1 : now - lastDraw >= interval
        if due || step == total {
            lastDraw = now
            let text = line(elapsed: now - start)
            write(interactive ? "\r\u{1B}[2K" + text : text + "\n")
        }
    }

    /// Ends the bar: a final line with the epoch's mean loss and `extra`
    /// (e.g. validation accuracy).
    public func finish(_ extra: String = "") {
        let text = line(elapsed: clock() - start, final: true) + (extra.isEmpty ? "" : "  " + extra)
        write(interactive ? "\r\u{1B}[2K" + text + "\n" : text + "\n")
    }

    /// The status text after `elapsed` seconds.
    package func line(elapsed: Double, final: Bool = false) -> String {
        var parts: [String] = []
        if let epoch {
            parts.append(epochs.map { "epoch \(epoch)/\($0)" } ?? "epoch \(epoch)")
        }
        let digits = String(total).count
        let stepText = String(repeating: " ", count: max(0, digits - String(step).count)) + "\(step)/\(total)"
        if interactive && total > 0 {
            let width = 24, filled = min(width, step * width / total)
            parts.append("[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + stepText)
        } else {
            parts.append("step " + stepText)
        }
        if final, loss.weight > 0 {
            parts.append("mean loss " + Self.format(loss.mean, 4))
        } else if let lastLoss {
            parts.append("loss " + Self.format(lastLoss, 4))
        }
        let rate = elapsed > 0 ? Double(samples) / elapsed : 0
        parts.append(Self.format(rate, 0) + " samples/s")
        if final {
            parts.append("took " + Self.duration(elapsed))
        } else if step > 0 && total > step {
            parts.append("ETA " + Self.duration(elapsed / Double(step) * Double(total - step)))
        }
        return parts.joined(separator: "  ")
    }

    static func format(_ v: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", v)
    }

    /// m:ss, or h:mm:ss from one hour.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60)
        let two = { (v: Int) in v < 10 ? "0\(v)" : "\(v)" }
        return h > 0 ? "\(h):\(two(m)):\(two(sec))" : "\(m):\(two(sec))"
    }
}
