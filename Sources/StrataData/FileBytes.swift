import CZlib
import Foundation
import StrataCore

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
    ///
    /// The work is bounded by the data that actually decompresses: output
    /// grows as zlib produces it (never sized from the trailer's claim), so a
    /// truncated or padded file fails after about the cost of reading it.
    /// zlib checks each member's CRC-32 and length trailer.
    package static func gunzip(_ input: [UInt8], path: String) throws -> [UInt8] {
        guard !input.isEmpty else { return [] }
        var stream = z_stream()
        // 15 window bits + 16: gzip framing only (no raw or zlib streams).
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw StrataError.io(path: path, reason: "zlib inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        // Address space only (pages are touched as bytes arrive); 8x is typical of image data.
        output.reserveCapacity(min(input.count * 8, 1 << 30))
        var chunk = [UInt8](repeating: 0, count: min(1 << 18, max(input.count * 4, 4096)))
        var consumed = 0
        let total = input.count
        try input.withUnsafeBufferPointer { inBuf in
            guard let inBase = inBuf.baseAddress else { return }
            while true {
                let (status, produced): (Int32, Int) = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_in = UnsafeMutablePointer(mutating: inBase + consumed)
                    stream.avail_in = UInt32(min(total - consumed, Int(UInt32.max)))
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    let availIn = Int(stream.avail_in)
                    let s = inflate(&stream, Z_NO_FLUSH)
                    consumed += availIn - Int(stream.avail_in)
                    return (s, outBuf.count - Int(stream.avail_out))
                }
                output.append(contentsOf: chunk[..<produced])
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
                    // No progress with output room left: the input ran out mid-stream.
                    if produced < chunk.count && (consumed == total || status == Z_BUF_ERROR) {
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
        return output
    }

    /// Compresses `bytes` as one gzip member (for writing test data and
    /// compressed logs).
    package static func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        let ok = deflateInit2_(
            &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
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
