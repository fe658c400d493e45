import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// Element-by-element comparison |a - e| <= atol + rtol * |e|, reporting the
/// first failing index at the caller's file and line.
func assertClose(
    _ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("count \(actual.count) != expected \(expected.count) \(message)", file: file, line: line)
        return
    }
    for i in actual.indices {
        let (a, e) = (actual[i], expected[i])
        if !(abs(a - e) <= atol + rtol * abs(e)) {
            XCTFail("element \(i): \(a) vs expected \(e) (rtol \(rtol), atol \(atol)) \(message)", file: file, line: line)
            return
        }
    }
}

func assertClose(
    _ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    assertClose(actual.scalars, expected.scalars, rtol: rtol, atol: atol, message, file: file, line: line)
}

/// Asserts that a gradient check passed, printing the worst element if not.
func assertGradCheck(_ result: GradCheckResult, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(result.passed, "\(result) \(message)", file: file, line: line)
}

/// A random tensor whose elements are at least `margin` away from zero
/// (keeps finite differences away from kinks such as ReLU at 0).
func randomAwayFromZero(_ shape: [Int], margin: Float = 0.05, seed: UInt64) -> Tensor {
    let g = RandomGenerator(seed: seed)
    let t = Tensor.randn(shape, generator: g)
    for i in 0..<t.count where abs(t.data[i]) < margin { t.data[i] = t.data[i] < 0 ? -margin : margin }
    return t
}

/// Loads a JSON fixture from Tests/StrataTests/Fixtures.
func loadFixture(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
        XCTFail("fixture \(name).json not found", file: file, line: line)
        throw StrataError.io(path: name, reason: "fixture not found")
    }
    let data = try Data(contentsOf: url)
    guard let dict = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw StrataError.io(path: name, reason: "fixture is not a JSON object")
    }
    return dict
}

/// A fixture entry as floats (a flat JSON array of numbers).
func floats(_ any: Any?) -> [Float] {
    ((any as? [Any]) ?? []).map { Float(($0 as? NSNumber)?.doubleValue ?? .nan) }
}

/// A fixture entry as ints.
func ints(_ any: Any?) -> [Int] {
    ((any as? [Any]) ?? []).map { ($0 as? NSNumber)?.intValue ?? -1 }
}

/// Starts this test bundle again as a child running only the test `entry`
/// (`"StrataTests.Class/testMethod"`), with `environment` added to this
/// process's, its stdout and stderr going to the given files. posix_spawn
/// and waitpid are used directly: Foundation's `Process` reaps children
/// through a signal source, and reading its pipes hung under the
/// sanitizers.
func spawnTestChild(
    _ entry: String, environment: [String: String], stdoutPath: String = "/dev/null", stderrPath: String = "/dev/null"
) throws -> pid_t {
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let args = [CommandLine.arguments[0], entry]
    let envStrings = env.map { "\($0.key)=\($0.value)" }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var cArgs = args.map { strdup($0) } + [nil]
    var cEnv = envStrings.map { strdup($0) } + [nil]
    defer { for pointer in cArgs + cEnv { free(pointer) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, args[0], &actions, nil, &cArgs, &cEnv)
    guard rc == 0 else { throw StrataError.io(path: args[0], reason: "posix_spawn failed: \(rc)") }
    return pid
}

/// Waits for a child of `spawnTestChild`: whether it exited with status 0,
/// and whether it ended by a signal (a trap, outside a sanitizer's handler).
func waitTestChild(_ pid: pid_t) -> (succeeded: Bool, signalled: Bool) {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let signal = status & 0x7f
    return (signal == 0 && (status >> 8) & 0xff == 0, signal != 0 && signal != 0x7f)
}
