import StrataCore
import StrataNN

/// The safetensors format (<https://github.com/huggingface/safetensors>):
///
///     [8 bytes]  N, little-endian UInt64: length of the JSON header
///     [N bytes]  JSON: {"__metadata__": {string: string},
///                       "<name>": {"dtype": "F32", "shape": [2, 3],
///                                  "data_offsets": [begin, end]}, ...}
///     [rest]     the data section; each tensor's little-endian elements,
///                row-major, at [begin, end) relative to the section start
///
/// Reading validates the whole file before anything is returned: header
/// length against the file size and a 100 MB limit, JSON syntax (parsed by
/// Foundation; see SafeTensorsHeader.swift), unique keys, known
/// dtypes, non-negative shapes, offsets inside the data section, ordered,
/// without overlaps or gaps, covering it exactly, and each byte length equal
/// to element count x dtype size. Any violation throws
/// `StrataError.io(path:reason:)` naming the tensor.
///
/// Every dtype converts to Float32 on reading. Writing produces F32, and
/// I64 for keys ending in `num_batches_tracked` (PyTorch's BatchNorm counter
/// is int64; Strata keeps it as a Float scalar).
public enum SafeTensors {
    /// Element types of the format that Strata reads.
    public enum DType: String, Sendable, CaseIterable {
        case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .F64, .I64: return 8
            case .F32, .I32: return 4
            case .F16, .BF16, .I16: return 2
            case .I8, .U8, .BOOL: return 1
            }
        }
    }

    /// One tensor's header entry.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range in the data section.
        public let begin: Int, end: Int
    }

    /// A parsed and validated safetensors file held in memory.
    public struct File: @unchecked Sendable {
        /// Where it was read from (for messages).
        public let path: String
        /// Entries in data order.
        public let entries: [Entry]
        /// The `__metadata__` map.
        public let metadata: [String: String]
        let bytes: [UInt8]
        let dataStart: Int

        /// Tensor names in data order.
        public var names: [String] { entries.map(\.name) }

        /// The entry named `name`, if any.
        public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

        /// The tensor named `name` converted to Float32, or nil.
        public func tensor(_ name: String) -> Tensor? { entry(name).map(makeTensor) }

        /// Every tensor, converted to Float32, in data order.
        public func tensors() -> [(String, Tensor)] { entries.map { ($0.name, makeTensor($0)) } }

        func makeTensor(_ e: Entry) -> Tensor {
            let t = Tensor(uninitialized: e.shape)
            bytes.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                SafeTensors.convert(base + dataStart + e.begin, dtype: e.dtype, count: t.count, into: t.data)
            }
            return t
        }
    }

    /// Upper bound on the JSON header length (the reference implementation's limit).
    public static let maxHeaderLength = 100_000_000

    /// Reads and validates `path`.
    public static func read(_ path: String) throws -> File {
        try parse(try readWholeFile(path), path: path)
    }

    /// Validates `bytes` as a safetensors file; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws -> File {
        func fail(_ reason: String) -> StrataError { .io(path: path, reason: reason) }
        if let kind = pytorchCheckpointKind(bytes) {
            throw fail(
                "this is a PyTorch \(kind) checkpoint (torch.save), not safetensors; convert it in Python with "
                    + "safetensors.torch.save_file(model.state_dict(), path) and load that file")
        }
        guard bytes.count >= 8 else {
            throw fail("truncated safetensors file: \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        var n64: UInt64 = 0
        for i in 0..<8 { n64 |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n64 <= UInt64(maxHeaderLength) else {
            throw fail("header length \(n64) exceeds the limit of \(maxHeaderLength) bytes")
        }
        let n = Int(n64)
        guard 8 + n <= bytes.count else {
            throw fail("header length \(n) exceeds the file size (\(bytes.count) bytes)")
        }
        guard n >= 2 else { throw fail("header length \(n) is too short for a JSON object") }
        let header: (metadata: [String: String], entries: [RawEntry])
        do {
            header = try decodeHeader(bytes[8..<(8 + n)])
        } catch let problem as HeaderProblem {
            throw fail(problem.message)
        }
        let dataSize = bytes.count - 8 - n
        var entries = try header.entries.map { try checkEntry($0, dataSize: dataSize, fail: fail) }
        // Data order: ordered, contiguous, non-overlapping, covering the section.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var expected = 0
        var previous: String?
        for e in entries {
            if e.begin < expected, let previous {
                throw fail("tensor \"\(e.name)\" data_offsets [\(e.begin), \(e.end)] overlap \"\(previous)\" (which ends at \(expected))")
            }
            if e.begin > expected {
                throw fail("gap of \(e.begin - expected) bytes before tensor \"\(e.name)\" (data_offsets must be contiguous)")
            }
            expected = e.end
            previous = e.name
        }
        guard expected == dataSize else {
            throw fail("data section has \(dataSize) bytes but the tensors cover \(expected)")
        }
        return File(path: path, entries: entries, metadata: header.metadata, bytes: bytes, dataStart: 8 + n)
    }

    /// Checks a header entry: known dtype, non-negative shape, offsets
    /// inside the data section spanning exactly the tensor's bytes.
    private static func checkEntry(_ raw: RawEntry, dataSize: Int, fail: (String) -> StrataError) throws -> Entry {
        let name = raw.name
        guard let dtype = DType(rawValue: raw.dtype) else {
            throw fail(
                "tensor \"\(name)\": unsupported dtype \"\(raw.dtype)\" (supported: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        var count = 1
        for d in raw.shape {
            guard d >= 0, d < (1 << 40) else {
                throw fail("tensor \"\(name)\": shape \(raw.shape) is not a list of non-negative integers")
            }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p < (1 << 40) else { throw fail("tensor \"\(name)\": shape \(raw.shape) is too large") }
            count = p
        }
        guard raw.offsets.count == 2, raw.offsets[0] >= 0, raw.offsets[1] >= raw.offsets[0] else {
            throw fail("tensor \"\(name)\": data_offsets \(raw.offsets) must be [begin, end] with 0 <= begin <= end")
        }
        let (b, e) = (raw.offsets[0], raw.offsets[1])
        guard e <= dataSize else {
            throw fail("tensor \"\(name)\": data_offsets [\(b), \(e)] outside the data section of \(dataSize) bytes")
        }
        let needed = count * dtype.size
        guard e - b == needed else {
            throw fail("tensor \"\(name)\": data_offsets span \(e - b) bytes but \(dtype.rawValue) \(raw.shape) needs \(needed)")
        }
        return Entry(name: name, dtype: dtype, shape: raw.shape, begin: b, end: e)
    }

    /// Converts `count` little-endian elements of `dtype` at `src` to Float32.
    static func convert(_ src: UnsafeRawPointer, dtype: DType, count: Int, into dst: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .F32:
            for i in 0..<count {
                dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        case .F64:
            for i in 0..<count {
                dst[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        case .F16:
            for i in 0..<count { dst[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .BF16:
            for i in 0..<count {
                dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
            }
        case .I64:
            for i in 0..<count { dst[i] = Float(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
        case .I32:
            for i in 0..<count { dst[i] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
        case .I16:
            for i in 0..<count { dst[i] = Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
        case .I8:
            for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .U8:
            for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        case .BOOL:
            for i in 0..<count { dst[i] = src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        }
    }

    /// IEEE 754 binary16 bits to Float (normals, subnormals, inf, NaN).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exp = UInt32(h >> 10) & 0x1f
        let frac = UInt32(h) & 0x3ff
        if exp == 0 {
            let magnitude = Float(frac) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        if exp == 0x1f { return Float(bitPattern: sign | 0x7f80_0000 | frac << 13) }
        return Float(bitPattern: sign | (exp + 112) << 23 | frac << 13)
    }

    /// Whether a key is written as int64 (PyTorch's BatchNorm step counter).
    package static func isInt64Key(_ key: String) -> Bool { key.hasSuffix("num_batches_tracked") }

    /// The bytes of a safetensors file holding `tensors` in the given order
    /// (F32; I64 for `num_batches_tracked` keys) and `metadata`. The header
    /// is padded with spaces to a multiple of 8 bytes, as the reference
    /// writer does. Duplicate names are a programming error.
    public static func encode(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) -> [UInt8] {
        var names = Set<String>()
        var entries: [RawEntry] = []
        var offset = 0
        for (name, t) in tensors {
            strataCheck(names.insert(name).inserted, "SafeTensors.encode: duplicate tensor name \"\(name)\"")
            strataCheck(name != "__metadata__", "SafeTensors.encode: \"__metadata__\" is reserved")
            let int64 = isInt64Key(name)
            let size = t.count * (int64 ? 8 : 4)
            entries.append(RawEntry(name: name, dtype: int64 ? "I64" : "F32", shape: t.shape, offsets: [offset, offset + size]))
            offset += size
        }
        var header = encodeHeader(metadata: metadata, entries: entries)
        while header.count % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let n = UInt64(header.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
        out += header
        for (name, t) in tensors {
            if isInt64Key(name) {
                for i in 0..<t.count {
                    let f = t.data[i]
                    let v = UInt64(bitPattern: f.isFinite && abs(f) < 9.2e18 ? Int64(f.rounded()) : 0)
                    for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
                }
            } else {
                #if _endian(little)
                out.append(contentsOf: UnsafeRawBufferPointer(start: t.data, count: t.count * 4))
                #else
                for i in 0..<t.count {
                    let v = t.data[i].bitPattern
                    out += [
                        UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8),
                        UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24),
                    ]
                }
                #endif
            }
        }
        return out
    }

    /// Writes `tensors` to `path` atomically (see `AtomicFile.write`).
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: path)
    }
}

/// "zip" or "pickle" when `bytes` start as a file written by `torch.save`
/// (a zip archive, `PK\x03\x04`, since PyTorch 1.6; a bare pickle,
/// `\x80` and a protocol byte 2...5, before), nil otherwise. A safetensors
/// file whose length prefix happens to begin the same way still has its
/// JSON header's `{` at byte 8, so it is not mistaken for one.
func pytorchCheckpointKind(_ bytes: [UInt8]) -> String? {
    if bytes.count > 8 && bytes[8] == UInt8(ascii: "{") { return nil }
    if bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04 { return "zip" }
    if bytes.count >= 2 && bytes[0] == 0x80 && (2...5).contains(bytes[1]) { return "pickle" }
    return nil
}
