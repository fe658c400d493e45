import StrataCore
import StrataNN
/// A small strict JSON parser and writer for safetensors headers.
///
/// Own parser rather than Foundation's so that: object key order and
/// duplicate keys are visible (a duplicate tensor name is an error),
/// integers stay exact up to 2^63, and a syntax error reports its byte
/// offset.
public indirect enum JSONValue: Equatable, Sendable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    /// An integer literal (no fraction, no exponent) that fits Int64.
    case integer(Int64)
    /// Any other number.
    case number(Double)
    case bool(Bool)
    case null

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.array(x), .array(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    /// A short name of the kind of value, for error messages.
    var kindName: String {
        switch self {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case .integer, .number: return "number"
        case .bool: return "boolean"
        case .null: return "null"
        }
    }

    /// Parses `bytes` as one JSON value (whitespace around it allowed).
    /// Throws `JSONError` with the byte offset of the problem.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws -> JSONValue {
        var p = JSONParser(bytes: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.pos == bytes.endIndex else { throw p.error("unexpected data after the JSON value") }
        return v
    }

    /// Compact JSON text.
    public var serialized: String {
        switch self {
        case let .object(members):
            return "{" + members.map { JSONValue.quote($0.0) + ":" + $0.1.serialized }.joined(separator: ",") + "}"
        case let .array(items): return "[" + items.map(\.serialized).joined(separator: ",") + "]"
        case let .string(s): return JSONValue.quote(s)
        case let .integer(i): return String(i)
        case let .number(d): return d.isFinite ? "\(d)" : "null"
        case let .bool(b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    /// `s` as a JSON string literal.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// A JSON syntax error at a byte offset.
public struct JSONError: Error, CustomStringConvertible {
    public let offset: Int
    public let message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

private struct JSONParser {
    let bytes: ArraySlice<UInt8>
    var pos: Int

    init(bytes: ArraySlice<UInt8>) { self.bytes = bytes; pos = bytes.startIndex }

    func error(_ message: String) -> JSONError { JSONError(offset: pos - bytes.startIndex, message: message) }

    var peek: UInt8? { pos < bytes.endIndex ? bytes[pos] : nil }

    mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 }
    }

    mutating func expect(_ literal: String, _ v: JSONValue) throws -> JSONValue {
        for c in literal.utf8 {
            guard peek == c else { throw error("invalid literal, expected '\(literal)'") }
            pos += 1
        }
        return v
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 64 else { throw error("nesting deeper than 64 levels") }
        guard let c = peek else { throw error("unexpected end of input") }
        switch c {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character '\(Character(Unicode.Scalar(c)))'")
        }
    }

    mutating func object(depth: Int) throws -> JSONValue {
        pos += 1
        var members: [(String, JSONValue)] = []
        var seen = Set<String>()
        skipSpace()
        if peek == UInt8(ascii: "}") { pos += 1; return .object(members) }
        while true {
            skipSpace()
            guard peek == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try string()
            guard seen.insert(key).inserted else { throw error("duplicate key \"\(key)\"") }
            skipSpace()
            guard peek == UInt8(ascii: ":") else { throw error("expected ':' after key \"\(key)\"") }
            pos += 1
            skipSpace()
            members.append((key, try value(depth: depth + 1)))
            skipSpace()
            if peek == UInt8(ascii: ",") { pos += 1; continue }
            if peek == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw error("expected ',' or '}' in object")
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        pos += 1
        var items: [JSONValue] = []
        skipSpace()
        if peek == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            if peek == UInt8(ascii: ",") { pos += 1; continue }
            if peek == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw error("expected ',' or ']' in array")
        }
    }

    mutating func hex4() throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek, let d = Int(String(Unicode.Scalar(c)), radix: 16) else { throw error("bad \\u escape") }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }

    mutating func string() throws -> String {
        pos += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() { if !raw.isEmpty { scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars); raw = [] } }
        while true {
            guard let c = peek else { throw error("unterminated string") }
            pos += 1
            if c == UInt8(ascii: "\"") { flush(); return String(scalars) }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") { raw.append(c); continue }
            flush()
            guard let e = peek else { throw error("unterminated escape") }
            pos += 1
            switch e {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code) {
                    guard peek == UInt8(ascii: "\\") else { throw error("unpaired surrogate") }
                    pos += 1
                    guard peek == UInt8(ascii: "u") else { throw error("unpaired surrogate") }
                    pos += 1
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let s = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                scalars.append(s)
            default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
    }

    mutating func number() throws -> JSONValue {
        let start = pos
        if peek == UInt8(ascii: "-") { pos += 1 }
        func digits() -> Int {
            var n = 0
            while let c = peek, c >= 0x30 && c <= 0x39 { pos += 1; n += 1 }
            return n
        }
        guard digits() > 0 else { throw error("invalid number") }
        var integral = true
        if peek == UInt8(ascii: ".") {
            pos += 1; integral = false
            guard digits() > 0 else { throw error("invalid number: digits expected after '.'") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            pos += 1; integral = false
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { pos += 1 }
            guard digits() > 0 else { throw error("invalid number: digits expected in exponent") }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if integral, let i = Int64(text) { return .integer(i) }
        guard let d = Double(text) else { throw error("invalid number '\(text)'") }
        return .number(d)
    }
}
