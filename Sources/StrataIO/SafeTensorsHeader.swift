import Foundation
import StrataCore

/// The JSON header of a safetensors file, read and written by Foundation.
///
/// Reading: `JSONDecoder` parses the text and decodes integers exactly (a
/// shape or offset that is not an integer in `Int`'s range, such as 2.5 or
/// 2^64, fails to decode; 9007199254740993 stays 9007199254740993, where a
/// Double would round it). Two things Foundation lets through are caught
/// first by `structuralProblem`: a key repeated in one object (Foundation
/// keeps one of them silently, so a duplicate tensor name would lose a
/// tensor) and a comma right before `}` or `]`.
///
/// Writing: `JSONEncoder` with sorted keys, so a file's bytes depend only on
/// its contents. Readers find tensors by their offsets, not by key order.
extension SafeTensors {
    /// A tensor's header entry as written, before it is checked against the
    /// data section.
    struct RawEntry {
        let name: String
        let dtype: String
        let shape: [Int]
        let offsets: [Int]
    }

    /// The `__metadata__` map and the tensor entries (sorted by name) of
    /// `bytes`, a header's JSON text. Throws `HeaderProblem` naming what is
    /// wrong.
    static func decodeHeader(_ bytes: ArraySlice<UInt8>) throws -> (metadata: [String: String], entries: [RawEntry]) {
        // Foundation would also accept UTF-16 and UTF-32 (detected by their
        // zero bytes); the format says UTF-8.
        guard !bytes.contains(0), String(validating: bytes, as: UTF8.self) != nil else {
            throw HeaderProblem("header is not UTF-8 text")
        }
        if let problem = structuralProblem(bytes) { throw HeaderProblem("header: \(problem)") }
        let data = Data(bytes)
        do {
            let header = try JSONDecoder().decode(HeaderDocument.self, from: data)
            return (header.metadata, header.entries)
        } catch DecodingError.dataCorrupted {
            throw HeaderProblem("header: invalid JSON" + syntaxErrorLocation(data))
        }
    }

    /// Where the syntax error in `data` is, as JSONSerialization reports it
    /// (" (Invalid value around character 9.)"); JSONDecoder says only that
    /// the data is not valid JSON. Runs on the error path only.
    private static func syntaxErrorLocation(_ data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)
            return ""
        } catch {
            return ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String).map { " (\($0))" } ?? ""
        }
    }

    /// The header text for `metadata` (omitted when empty) and `entries`.
    static func encodeHeader(metadata: [String: String], entries: [RawEntry]) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(HeaderDocument(metadata: metadata, entries: entries)))
        } catch {
            // Only non-finite floating-point values can fail, and a header has none.
            strataFatal("SafeTensors.encode: JSONEncoder failed: \(error)")
        }
    }

    /// The first repeated key or comma before a closing bracket in `bytes`,
    /// described with its byte offset, or nil.
    ///
    /// The scan follows only nesting, strings and commas: anything else is
    /// left to Foundation, and on text that is not JSON the scan ends
    /// without a finding (Foundation then reports the syntax error). Keys
    /// are compared as Swift strings, as Foundation's dictionary compares
    /// them, after resolving escapes (`"\u0061"` repeats `"a"`).
    static func structuralProblem(_ bytes: ArraySlice<UInt8>) -> String? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        // One entry per open bracket: the keys seen so far for an object, nil for an array.
        var open: [Set<String>?] = []
        var expectingKey = false, afterComma = false
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let c = bytes[i]
            switch c {
            case quote:
                var end = i + 1
                var escaped = false
                while end < bytes.endIndex && bytes[end] != quote {
                    if bytes[end] == backslash { escaped = true; end += 1 }
                    end += 1
                }
                guard end < bytes.endIndex else { return nil }
                if expectingKey, let last = open.last, var keys = last {
                    guard let key = decodeKey(bytes[(i + 1)..<end], escaped: escaped) else { return nil }
                    if !keys.insert(key).inserted {
                        return "duplicate key \"\(key)\" at byte \(i - bytes.startIndex)"
                    }
                    open[open.count - 1] = keys
                }
                expectingKey = false
                afterComma = false
                i = end
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                open.append(c == UInt8(ascii: "{") ? [] : nil)
                expectingKey = c == UInt8(ascii: "{")
                afterComma = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if afterComma {
                    return "invalid JSON at byte \(i - bytes.startIndex): comma before '\(Character(Unicode.Scalar(c)))'"
                }
                _ = open.popLast()
                expectingKey = false
            case UInt8(ascii: ","):
                afterComma = true
                expectingKey = open.last.map { $0 != nil } ?? false
            case 0x20, 0x09, 0x0A, 0x0D:
                break
            default:
                expectingKey = false
                afterComma = false
            }
            i += 1
        }
        return nil
    }

    /// The string a key's JSON text (between its quotes) stands for; nil if
    /// it is not valid (Foundation reports that).
    private static func decodeKey(_ text: ArraySlice<UInt8>, escaped: Bool) -> String? {
        if !escaped { return String(validating: text, as: UTF8.self) }
        let literal = [UInt8(ascii: "\"")] + text + [UInt8(ascii: "\"")]
        return try? JSONDecoder().decode(String.self, from: Data(literal))
    }
}

/// A malformed header: the message names the tensor or key when there is one.
struct HeaderProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Any JSON object key.
private struct AnyKey: CodingKey {
    let stringValue: String
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.init(stringValue) }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// The whole header: `{"__metadata__": {...}, "<name>": {entry}, ...}`.
private struct HeaderDocument: Codable {
    var metadata: [String: String]
    var entries: [SafeTensors.RawEntry]

    init(metadata: [String: String], entries: [SafeTensors.RawEntry]) {
        self.metadata = metadata
        self.entries = entries
    }

    init(from decoder: any Decoder) throws {
        guard let top = try? decoder.container(keyedBy: AnyKey.self) else {
            throw HeaderProblem("header is a JSON \(jsonKind(decoder)), not an object")
        }
        metadata = [:]
        entries = []
        for key in top.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            let name = key.stringValue
            if name == "__metadata__" {
                guard let items = try? top.nestedContainer(keyedBy: AnyKey.self, forKey: key) else {
                    throw HeaderProblem("__metadata__ is not an object")
                }
                for k in items.allKeys {
                    metadata[k.stringValue] = try decodeField(
                        String.self, items, k,
                        problem:
                            "__metadata__ value for \"\(k.stringValue)\" is not a string")
                }
            } else {
                entries.append(try SafeTensors.RawEntry(name: name, from: top.superDecoder(forKey: key)))
            }
        }
    }

    func encode(to encoder: any Encoder) throws {
        var top = encoder.container(keyedBy: AnyKey.self)
        if !metadata.isEmpty { try top.encode(metadata, forKey: AnyKey("__metadata__")) }
        for e in entries {
            var fields = top.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(e.name))
            try fields.encode(e.dtype, forKey: AnyKey("dtype"))
            try fields.encode(e.shape, forKey: AnyKey("shape"))
            try fields.encode(e.offsets, forKey: AnyKey("data_offsets"))
        }
    }
}

extension SafeTensors.RawEntry {
    /// Decodes `{"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}`;
    /// the values are checked later against the data section.
    fileprivate init(name: String, from decoder: any Decoder) throws {
        func problem(_ what: String) -> HeaderProblem { HeaderProblem("tensor \"\(name)\": \(what)") }
        guard let fields = try? decoder.container(keyedBy: AnyKey.self) else { throw problem("entry is not an object") }
        let known = ["dtype", "shape", "data_offsets"]
        if let unknown = fields.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw problem("unknown field \"\(unknown)\"")
        }
        func field<T: Decodable>(_ type: T.Type, _ key: String, _ expected: String) throws -> T {
            let k = AnyKey(key)
            guard fields.contains(k) else { throw problem("missing \(key)") }
            do {
                return try fields.decode(T.self, forKey: k)
            } catch {
                // A type mismatch, or a number that is not an exact `Int`.
                let kind = (try? fields.superDecoder(forKey: k)).map(jsonKind) ?? "value"
                throw problem("\(key) is not \(expected)" + (kind == "array" ? "" : " but a JSON \(kind)"))
            }
        }
        self.name = name
        dtype = try field(String.self, "dtype", "a string")
        shape = try field([Int].self, "shape", "a list of non-negative integers")
        offsets = try field([Int].self, "data_offsets", "a list of two integers [begin, end]")
    }
}

/// Decodes `key` of `container` as `T`; a value of another JSON type throws
/// `problem`, malformed text passes Foundation's error on.
private func decodeField<T: Decodable>(
    _ type: T.Type, _ container: KeyedDecodingContainer<AnyKey>, _ key: AnyKey, problem: @autoclosure () -> String
) throws -> T {
    do {
        return try container.decode(T.self, forKey: key)
    } catch DecodingError.typeMismatch {
        throw HeaderProblem(problem())
    }
}

/// The JSON type of the value `decoder` stands at, for messages.
private func jsonKind(_ decoder: any Decoder) -> String {
    if let single = try? decoder.singleValueContainer() {
        if single.decodeNil() { return "null" }
        if (try? single.decode(Bool.self)) != nil { return "boolean" }
        if (try? single.decode(String.self)) != nil { return "string" }
        if (try? single.decode(Double.self)) != nil { return "number" }
    }
    if (try? decoder.unkeyedContainer()) != nil { return "array" }
    if (try? decoder.container(keyedBy: AnyKey.self)) != nil { return "object" }
    return "value"
}
