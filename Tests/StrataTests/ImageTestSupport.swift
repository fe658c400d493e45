import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData

/// Hand-built PNG files for the decoder tests, written plainly so that the
/// color types our encoder never produces (palette, gray+alpha, RGBA,
/// 16-bit) can be read back: signature, IHDR, optional PLTE/tRNS, one IDAT
/// holding an uncompressed (stored) zlib stream, IEND.
enum RawPNG {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    /// zlib stream of stored (uncompressed) deflate blocks.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var pos = 0
        repeat {
            let n = min(65_535, data.count - pos)
            let final: UInt8 = pos + n == data.count ? 1 : 0
            out += [final, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)]
            out += data[pos..<(pos + n)]
            pos += n
        } while pos < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for x in data { a = (a + UInt32(x)) % 65_521; b = (b + a) % 65_521 }
        return out + be32((b << 16) | a)
    }

    /// `rows`: each row's raw sample bytes (no filter byte; big-endian for 16-bit).
    static func file(
        width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, rows: [[UInt8]],
        palette: [UInt8]? = nil, transparency: [UInt8]? = nil
    ) -> [UInt8] {
        var ihdr = be32(UInt32(width)) + be32(UInt32(height))
        ihdr += [bitDepth, colorType, 0, 0, 0]
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr)
        if let palette { out += chunk("PLTE", palette) }
        if let transparency { out += chunk("tRNS", transparency) }
        out += chunk("IDAT", zlibStored(rows.flatMap { [0] + $0 }))
        return out + chunk("IEND", [])
    }
}

/// Writes `bytes` to `path`, failing the test when it cannot.
func writeFile(_ bytes: [UInt8], _ path: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "cannot write \(path)", file: file, line: line)
}

/// A w x h image of `channels` whose byte at (y, x, c) is a fixed function of its place.
func patternImage(width: Int, height: Int, channels: Int, salt: Int = 0) -> Image {
    var px = [UInt8](repeating: 0, count: width * height * channels)
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                let v: Int = salt * 37 + y * 29 + x * 11 + c * 70
                px[(y * width + x) * channels + c] = UInt8(v % 256)
            }
        }
    }
    return Image(width: width, height: height, channels: channels, pixels: px)
}

/// PIL's convert("L") on one RGB pixel, written out plainly.
func pilLuma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
    let red: UInt32 = UInt32(r) * 19_595, green: UInt32 = UInt32(g) * 38_470, blue: UInt32 = UInt32(b) * 7_471
    let sum: UInt32 = red + green + blue + 0x8000
    return UInt8(sum >> 16)
}
