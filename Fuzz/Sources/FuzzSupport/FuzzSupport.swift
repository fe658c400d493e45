import Foundation

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
    let ok = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    precondition(ok, "fuzz harness: cannot write \(path)")
    return path
}
