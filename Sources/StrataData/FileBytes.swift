import StrataCore
import CZlib
import Foundation

/// Reading whole files, transparently gunzipping them, and writing gzip.
///
/// A file whose first two bytes are the gzip magic `1f 8b` is decompressed
/// through zlib (several concatenated gzip members are accepted, as `gzip`
/// itself does); anything else is returned as is. Every failure is a thrown
/// `StrataError.io` naming the file: missing, unreadable, corrupt or
/// truncated gzip stream.
package enum FileBytes {
    /// The bytes of `path`, decompressed when the file is gzip.
    package static func read(_ path: String) throws -> [UInt8] {
        let raw = try readRaw(path)
        if isGzip(raw) { return try gunzip(raw, path: path) }
        return raw
    }

    /// Whether `bytes` start with the gzip magic number 1f 8b.
    package static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// The file's bytes as stored on disk.
    package static func readRaw(_ path: String) throws -> [UInt8] { try readWholeFile(path) }

    /// Decompresses a gzip stream (one or more members). `path` names the
    /// source in error messages.
    package static func gunzip(_ input: [UInt8], path: String) throws -> [UInt8] {
        guard !input.isEmpty else { return [] }
        var stream = z_stream()
        // 15 window bits + 16: gzip framing only (no raw or zlib streams).
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw StrataError.io(path: path, reason: "zlib inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        // The last member's trailer holds its size mod 2^32: a capacity hint.
        var hint = input.count * 4
        if input.count >= 18 {
            let n = input.count
            let isize = Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24
            // Deflate expands at most 1032:1, which bounds a corrupt trailer's claim.
            if isize > 0 { hint = max(hint, min(isize, input.count * 1032 + 1024)) }
        }
        var output = [UInt8](repeating: 0, count: max(hint, 1024))
        var produced = 0
        var consumed = 0
        let total = input.count
        try input.withUnsafeBufferPointer { inBuf in
            guard let inBase = inBuf.baseAddress else { return }
            while true {
                if produced == output.count {
                    output.append(contentsOf: [UInt8](repeating: 0, count: output.count))
                }
                let status: Int32 = output.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_in = UnsafeMutablePointer(mutating: inBase + consumed)
                    stream.avail_in = UInt32(min(total - consumed, Int(UInt32.max)))
                    stream.next_out = outBuf.baseAddress.map { $0 + produced }
                    stream.avail_out = UInt32(min(outBuf.count - produced, Int(UInt32.max)))
                    let before = (Int(stream.avail_in), Int(stream.avail_out))
                    let s = inflate(&stream, Z_NO_FLUSH)
                    consumed += before.0 - Int(stream.avail_in)
                    produced += before.1 - Int(stream.avail_out)
                    return s
                }
                switch status {
                case Z_STREAM_END:
                    // Another member may follow; trailing zero padding is tolerated.
                    let rest = inBuf[consumed...]
                    if rest.isEmpty || rest.allSatisfy({ $0 == 0 }) {
                        return
                    }
                    guard rest.count >= 2, rest[rest.startIndex] == 0x1f, rest[rest.startIndex + 1] == 0x8b else {
                        throw StrataError.io(path: path, reason: "corrupt gzip: unexpected bytes after the end of the stream")
                    }
                    inflateReset(&stream)
                case Z_OK, Z_BUF_ERROR:
                    if (consumed == total || status == Z_BUF_ERROR) && stream.avail_out > 0 {
                        throw StrataError.io(path: path, reason: "truncated gzip stream (ends after \(total) bytes)")
                    }
                case Z_DATA_ERROR:
                    let msg = stream.msg.map { String(cString: $0) } ?? "invalid data"
                    throw StrataError.io(path: path, reason: "corrupt gzip: \(msg)")
                case Z_MEM_ERROR:
                    throw StrataError.io(path: path, reason: "gzip: out of memory")
                default:
                    throw StrataError.io(path: path, reason: "corrupt gzip (zlib status \(status))")
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Compresses `bytes` as one gzip member (for writing test data and
    /// compressed logs).
    package static func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        let ok = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                               ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        strataCheck(ok == Z_OK, "gzip: deflateInit failed with status \(ok)")
        defer { deflateEnd(&stream) }
        var input = bytes
        let bound = Int(deflateBound(&stream, UInt(bytes.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        let written: Int = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                let status = deflate(&stream, Z_FINISH)
                strataCheck(status == Z_STREAM_END, "gzip: deflate did not finish (status \(status))")
                return outBuf.count - Int(stream.avail_out)
            }
        }
        output.removeSubrange(written...)
        return output
    }
}
