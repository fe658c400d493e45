import Foundation
import XCTest

@testable import StrataCore
@testable import StrataIO
@testable import StrataTraining

/// The safetensors header as Foundation parses it, plus the checks Strata
/// adds: repeated keys, commas before a closing bracket, exact integers.
final class SafeTensorsHeaderTests: XCTestCase {
    /// A file whose header is `header` and whose data section is `dataBytes` zeros.
    func file(_ header: String, dataBytes: Int = 8) -> [UInt8] {
        let h = Array(header.utf8)
        return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(h.count) >> (8 * UInt64($0))) } + h
            + [UInt8](repeating: 0, count: dataBytes)
    }

    /// The reason of the `StrataError.io` that parsing `bytes` throws ("" if it does not throw).
    func reason(_ bytes: [UInt8]) -> String {
        do {
            _ = try SafeTensors.parse(bytes, path: "h.safetensors")
            return ""
        } catch let StrataError.io(_, reason) {
            return reason
        } catch {
            return "unexpected error \(error)"
        }
    }

    func assertRejected(
        _ header: String, _ fragment: String, dataBytes: Int = 8,
        file f: StaticString = #filePath, line: UInt = #line
    ) {
        let r = reason(file(header, dataBytes: dataBytes))
        XCTAssertTrue(r.contains(fragment), "header \(header): reason '\(r)' lacks '\(fragment)'", file: f, line: line)
    }

    let entry = #"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

    func testDuplicateKeysAreRejectedAtEveryLevel() {
        // Foundation alone keeps one of two equal keys without a word.
        assertRejected(#"{"a":\#(entry),"a":\#(entry)}"#, #"duplicate key "a""#)
        // Escapes are resolved before comparing: "\u0061" is "a".
        assertRejected(#"{"a":\#(entry),"\u0061":\#(entry)}"#, #"duplicate key "a""#)
        assertRejected(#"{"__metadata__":{"k":"1","k":"2"},"a":\#(entry)}"#, #"duplicate key "k""#)
        assertRejected(#"{"a":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#, #"duplicate key "dtype""#)
        // Not duplicates: equal keys in different objects, a value equal to a
        // key, and braces, commas and quotes inside strings.
        let ok = #"{"__metadata__":{"a":"a","dtype":"{\"x\":1,}"},"a":\#(entry)}"#
        XCTAssertEqual(reason(file(ok)), "")
        XCTAssertNil(SafeTensors.structuralProblem(ArraySlice(#"[{"a":1},{"a":2},{"b":[{"a":3}]}]"#.utf8)))
        XCTAssertEqual(
            SafeTensors.structuralProblem(ArraySlice(#"[{"a":1},{"b":[{"a":3,"a":4}]}]"#.utf8)),
            #"duplicate key "a" at byte 22"#)
    }

    func testCommaBeforeAClosingBracketIsRejected() {
        // Foundation accepts both of these; JSON does not.
        assertRejected(#"{"a":\#(entry),}"#, "invalid JSON at byte 54: comma before '}'")
        assertRejected(#"{"a":{"dtype":"F32","shape":[2,],"data_offsets":[0,8]}}"#, "comma before ']'")
        XCTAssertNil(SafeTensors.structuralProblem(ArraySlice(#"{"a":[1,2],"b":",}"}"#.utf8)))
    }

    func testIntegersAboveTwoToThe53AreExactOrRejected() {
        // 2^53 + 1 has no Double; a parser going through Double would report 9007199254740992.
        assertRejected(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,9007199254740993]}}"#,
            "data_offsets [0, 9007199254740993] outside the data section of 8 bytes")
        assertRejected(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[9007199254740993,9007199254740993]}}"#,
            "data_offsets [9007199254740993, 9007199254740993] outside the data section")
        assertRejected(
            #"{"a":{"dtype":"F32","shape":[9007199254740993],"data_offsets":[0,8]}}"#,
            "shape [9007199254740993] is not a list of non-negative integers")
        // Beyond Int64, fractions and non-numbers do not decode as integers.
        assertRejected(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551624]}}"#,
            #"tensor "a": data_offsets is not a list of two integers"#)
        assertRejected(
            #"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#,
            #"tensor "a": shape is not a list of non-negative integers"#)
        assertRejected(
            #"{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#,
            #"tensor "a": shape is not a list of non-negative integers but a JSON string"#)
        assertRejected(
            #"{"a":{"dtype":7,"shape":[2],"data_offsets":[0,8]}}"#,
            #"tensor "a": dtype is not a string but a JSON number"#)
        assertRejected(#"{"a":{"dtype":"F32","shape":[2]}}"#, #"tensor "a": missing data_offsets"#)
    }

    func testMalformedHeadersAreRejected() {
        for bad in [
            #"{"a":"#, #"{"a":1"#, "[1 2]", "01x", #"{"a":tru}"#, #"{"a":\#(entry)} x"#,
            #"{"__metadata__":{"k":"\q"},"a":\#(entry)}"#, "{\"__metadata__\":{\"k\":\"\u{01}\"},\"a\":\(entry)}",
        ] {
            XCTAssertTrue(reason(file(bad)).contains("invalid JSON"), "\(bad): \(reason(file(bad)))")
        }
        assertRejected("12", "header is a JSON number, not an object")
        assertRejected("null", "header is a JSON null, not an object")
        assertRejected(#""x""#, "header is a JSON string, not an object")
        assertRejected(#"{"__metadata__":[1],"a":\#(entry)}"#, "__metadata__ is not an object")
        assertRejected(#"{"a":[1]}"#, #"tensor "a": entry is not an object"#)
        // Foundation would detect UTF-16 by its zero bytes and accept it; the format is UTF-8.
        let utf16 = Array(#"{"a":\#(entry)}"#.utf16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] })
        let bytes =
            (0..<8).map { UInt8(truncatingIfNeeded: UInt64(utf16.count) >> (8 * UInt64($0))) } + utf16 + [UInt8](repeating: 0, count: 8)
        XCTAssertTrue(reason(bytes).contains("not UTF-8"), reason(bytes))
        var invalidUTF8 = file(#"{"__metadata__":{"k":"?"},"a":\#(entry)}"#)
        invalidUTF8[8 + 22] = 0xFF
        XCTAssertTrue(reason(invalidUTF8).contains("not UTF-8"), reason(invalidUTF8))
    }

    func testEscapedNamesAndMetadataRoundTrip() throws {
        let names = ["plain", "a/b", "quote \" and \\ backslash", "é and 😀", "tab\tnew\nline", "\u{01}"]
        let tensors = names.enumerated().map { ($0.element, Tensor([Float($0.offset), 1])) }
        let metadata = ["note": "x\"y\\z\u{02}", "unicode": "ünï"]
        let bytes = SafeTensors.encode(tensors, metadata: metadata)
        let read = try SafeTensors.parse(bytes, path: "round.safetensors")
        XCTAssertEqual(read.names, names, "data order is write order")
        XCTAssertEqual(read.metadata, metadata)
        for (i, n) in names.enumerated() { XCTAssertEqual(read.tensor(n)?.scalars, [Float(i), 1], n) }
        // The header is Foundation's compact, key-sorted JSON, padded with spaces to 8 bytes.
        let n = Int(bytes[0]) | Int(bytes[1]) << 8
        XCTAssertEqual(n % 8, 0)
        let header = try XCTUnwrap(String(bytes: bytes[8..<(8 + n)], encoding: .utf8))
        XCTAssertTrue(header.contains(#""__metadata__":{"note":"x\"y\\z\u0002","unicode":"ünï"}"#), header)
        XCTAssertTrue(header.contains(#""a/b":{"data_offsets":[8,16],"dtype":"F32","shape":[2]}"#), header)
    }

    func testTrainingLogJSONIsFoundationJSON() throws {
        var log = TrainingLog()
        log.append(["step": 1, "loss": .nan, "name \"q\"": 2.5])
        log.append(["step": 2, "loss": 0.125])
        let text = log.json()
        XCTAssertEqual(text, "[\n  {\"loss\":null,\"name \\\"q\\\"\":2.5,\"step\":1},\n  {\"loss\":0.125,\"step\":2}\n]\n")
        let back = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        XCTAssertTrue(back[0]["loss"] is NSNull)
        XCTAssertEqual(back[1]["loss"] as? Double, 0.125)
    }
}
