import Foundation
import Strata

/// Collects one rank's failed expectations for a scenario.
final class Checker {
    let scenario: String
    private(set) var failures: [String] = []

    init(scenario: String) { self.scenario = scenario }

    func fail(_ message: String) { failures.append(message) }

    func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fail(message()) }
    }

    /// |a - b| <= tolerance * max(1, |b|) elementwise; reports the worst element.
    func close(_ a: [Float], _ b: [Float], tolerance: Float, _ what: String) {
        guard a.count == b.count else { return fail("\(what): \(a.count) values vs \(b.count)") }
        var worst: Float = 0, at = 0
        for i in a.indices {
            let e = abs(a[i] - b[i]) / max(1, abs(b[i]))
            if !(e <= worst) { worst = e; at = i }
        }
        if !(worst <= tolerance) {
            fail("\(what): element \(at) is \(a[at]) vs \(b[at]) (relative error \(worst) > \(tolerance))")
        }
    }

    /// The largest relative difference, max |a - b| / max(1, |b|).
    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1) / max(1, abs($1.1))) }
    }
}
