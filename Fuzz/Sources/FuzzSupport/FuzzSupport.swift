import CLibFuzzer
import Foundation

/// Runs libFuzzer on `test` with this process's arguments (corpus folders,
/// `-max_total_time=...`, or input files to replay) and exits with its status.
public func runFuzzer(_ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, test))
}

/// The bytes libFuzzer passes to `LLVMFuzzerTestOneInput`.
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// A path in the temp folder, private to this process, for `name`.
public func fuzzPath(_ name: String) -> String {
    NSTemporaryDirectory() + "strata-fuzz-\(getpid())-\(name)"
}

/// Writes `bytes` to `fuzzPath(name)` (replacing it) and returns the path.
@discardableResult
public func writeFuzzFile(_ bytes: [UInt8], _ name: String) -> String {
    let path = fuzzPath(name)
    guard let f = fopen(path, "wb") else { fatalError("fuzz harness: cannot write \(path)") }
    let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
    if written != bytes.count { fatalError("fuzz harness: short write to \(path)") }
    return path
}
