import Foundation

/// The bytes of `path` as stored on disk; a thrown `StrataError.io` names
/// the file when it is missing, a directory or unreadable.
package func readWholeFile(_ path: String) throws -> [UInt8] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw StrataError.io(path: path, reason: "file not found")
    }
    guard !isDir.boolValue else { throw StrataError.io(path: path, reason: "is a directory, not a file") }
    guard let f = fopen(path, "rb") else {
        throw StrataError.io(path: path, reason: "cannot open for reading: \(String(cString: strerror(errno)))")
    }
    defer { fclose(f) }
    // Read straight into the array (no intermediate Data copy), growing
    // until end of file so that files changing size are handled too.
    var out: [UInt8] = []
    var chunk = 1 << 20
    if fseeko(f, 0, SEEK_END) == 0 {
        let size = ftello(f)
        if size > 0 { chunk = Int(size) + 1 }
        rewind(f)
    }
    while true {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: chunk))
        let n = out.withUnsafeMutableBufferPointer { buf in fread(buf.baseAddress.map { $0 + start }, 1, chunk, f) }
        out.removeSubrange((start + n)...)
        if n < chunk {
            if ferror(f) != 0 { throw StrataError.io(path: path, reason: "read failed") }
            return out
        }
    }
}
