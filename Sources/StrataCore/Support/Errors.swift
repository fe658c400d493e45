#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Error policy
/// -------------
/// * Anything that comes from outside the program — files, checkpoints,
///   command-line arguments, datasets — is reported by a thrown `StrataError`
///   and never crashes.
/// * Programming errors inside a computation — mismatched shapes, an invalid
///   layer argument, a BatchNorm training batch with one value per channel —
///   trap through `strataFatal`, which always prints its message (also in
///   optimised builds, unlike `precondition`). The message names the op or
///   layer, and the expected and actual shapes. Layers expose their input
///   checks as throwing `validate(...)` functions so callers (and tests) can
///   check an input without trapping.
public enum StrataError: Error, CustomStringConvertible, Equatable {
    /// A tensor had the wrong shape for an op or layer.
    case shapeMismatch(op: String, expected: String, actual: [Int])
    /// An argument was out of its valid range.
    case invalidArgument(String)
    /// A file could not be read or its contents are malformed.
    case io(path: String, reason: String)
    /// A checkpoint could not be loaded into a module.
    case checkpoint(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, expected, actual):
            return "\(op): expected input of shape \(expected), got \(actual)"
        case let .invalidArgument(message):
            return message
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .checkpoint(message):
            return "checkpoint: \(message)"
        }
    }
}

/// Traps with `message`, printed in every build configuration. Standard
/// output is flushed first: when it goes to a pipe or a file it is
/// buffered, and a trap would otherwise drop the program's last lines
/// (the loss values printed just before the bad step).
@inline(never) @usableFromInline
package func strataFatal(_ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    let text = message()
    fflush(nil)  // every output stream, stdout included
    fatalError("Strata: " + text, file: file, line: line)
}

/// Traps with `message` when `condition` is false (printed in every build).
/// Inlinable so that checks in the other targets stay as cheap as in this one.
@inlinable @inline(__always)
package func strataCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { strataFatal(message(), file: file, line: line) }
}

/// Runs a throwing validation and traps with its message if it throws.
@inline(__always)
package func strataTry<R>(_ body: () throws -> R, file: StaticString = #fileID, line: UInt = #line) -> R {
    do { return try body() } catch { strataFatal("\(error)", file: file, line: line) }
}
