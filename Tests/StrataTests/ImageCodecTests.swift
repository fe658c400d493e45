import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData

/// PNG and JPEG decoding through libpng and libjpeg-turbo, colour
/// conversions, and the errors for damaged files.
final class ImageCodecTests: XCTestCase {
    func testPNGRoundTripIsLosslessForGrayAndRGB() throws {
        let dir = makeTempDir(self)
        for channels in [1, 3] {
            let img = patternImage(width: 7, height: 5, channels: channels)
            let path = "\(dir)/p\(channels).png"
            try img.write(to: path)
            let back = try Image(contentsOf: path, mode: channels == 3 ? .rgb : .gray)
            XCTAssertEqual(back, img)
        }
    }

    func testColourModesMatchPILConversions() throws {
        let rgb = patternImage(width: 4, height: 3, channels: 3)
        let gray = try Image(decoding: try rgb.pngData(), mode: .gray)
        XCTAssertEqual(gray.channels, 1)
        for i in 0..<12 {
            XCTAssertEqual(gray.pixels[i], pilLuma(rgb.pixels[3 * i], rgb.pixels[3 * i + 1], rgb.pixels[3 * i + 2]), "pixel \(i)")
        }
        let g = patternImage(width: 4, height: 3, channels: 1)
        let asRGB = try Image(decoding: try g.pngData(), mode: .rgb)
        XCTAssertEqual(asRGB.pixels, g.pixels.flatMap { [$0, $0, $0] }, "gray is replicated to RGB")
    }

    func testPaletteGrayAlphaRGBAAnd16BitPNGsBecome8BitGrayOrRGB() throws {
        // Palette (color type 3) with a tRNS entry: alpha is dropped, colours kept.
        let palette: [UInt8] = [10, 20, 30, 200, 100, 50, 0, 255, 0]
        let p = RawPNG.file(
            width: 3, height: 2, bitDepth: 8, colorType: 3, rows: [[0, 1, 2], [2, 1, 0]],
            palette: palette, transparency: [0, 128])
        let pi = try Image(decoding: p, mode: .rgb)
        XCTAssertEqual(pi.pixels, [10, 20, 30, 200, 100, 50, 0, 255, 0, 0, 255, 0, 200, 100, 50, 10, 20, 30])
        // Gray + alpha (type 4): the gray sample, replicated.
        let ga = RawPNG.file(width: 2, height: 1, bitDepth: 8, colorType: 4, rows: [[90, 255, 17, 0]])
        XCTAssertEqual(try Image(decoding: ga, mode: .rgb).pixels, [90, 90, 90, 17, 17, 17])
        XCTAssertEqual(try Image(decoding: ga, mode: .gray).pixels, [90, 17])
        // RGBA (type 6): colour kept, alpha dropped (PIL's convert("RGB")).
        let rgba = RawPNG.file(width: 2, height: 1, bitDepth: 8, colorType: 6, rows: [[1, 2, 3, 255, 250, 128, 7, 9]])
        XCTAssertEqual(try Image(decoding: rgba, mode: .rgb).pixels, [1, 2, 3, 250, 128, 7])
        XCTAssertEqual(try Image(decoding: rgba, mode: .gray).pixels, [pilLuma(1, 2, 3), pilLuma(250, 128, 7)])
        // 16-bit gray (type 0): 0, 65535 and 257 * 100 map to 0, 255, 100.
        let g16 = RawPNG.file(width: 3, height: 1, bitDepth: 16, colorType: 0, rows: [[0, 0, 255, 255, 100, 100]])
        XCTAssertEqual(try Image(decoding: g16, mode: .gray).pixels, [0, 255, 100])
        // 16-bit RGB (type 2).
        let rgb16 = RawPNG.file(width: 1, height: 1, bitDepth: 16, colorType: 2, rows: [[255, 255, 0, 0, 50, 50]])
        XCTAssertEqual(try Image(decoding: rgb16, mode: .rgb).pixels, [255, 0, 50])
    }

    func testJPEGRoundTripIsCloseAndKeepsItsSize() throws {
        let dir = makeTempDir(self)
        // A smooth image: JPEG at quality 95 stays within a few levels.
        var px = [UInt8](repeating: 0, count: 16 * 8 * 3)
        for y in 0..<8 { for x in 0..<16 { for c in 0..<3 { px[(y * 16 + x) * 3 + c] = UInt8(40 + 8 * x + 5 * y + 20 * c) } } }
        let img = Image(width: 16, height: 8, channels: 3, pixels: px)
        try img.write(to: "\(dir)/a.JPG", jpegQuality: 95)
        let bytes = try readWholeFile("\(dir)/a.JPG")
        XCTAssertEqual(ImageFormat.sniff(bytes), .jpeg, "a .JPG name writes JPEG")
        let back = try Image(contentsOf: "\(dir)/a.JPG")
        XCTAssertEqual([back.width, back.height, back.channels], [16, 8, 3])
        let worst = zip(back.pixels, img.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 8)
        let gray = try Image(decoding: try patternImage(width: 8, height: 8, channels: 1).jpegData(quality: 90), mode: .gray)
        XCTAssertEqual(gray.channels, 1)
    }

    func testDamagedFilesThrowErrorsNamingTheFile() throws {
        let dir = makeTempDir(self)
        let png = try patternImage(width: 16, height: 16, channels: 3).pngData()
        let jpeg = try patternImage(width: 64, height: 64, channels: 3).jpegData()
        let cases: [(String, [UInt8], String)] = [
            ("truncated.png", Array(png.prefix(png.count / 2)), "corrupt or truncated PNG"),
            ("badcrc.png", png.enumerated().map { $0.offset == 20 ? $0.element ^ 0xFF : $0.element }, "PNG"),
            ("truncated.jpg", Array(jpeg.prefix(jpeg.count * 3 / 4)), "corrupt or truncated JPEG"),
            ("no-scan.jpg", Array(jpeg.prefix(300)), "not a readable JPEG"),
            ("header-only.jpg", Array(jpeg.prefix(4)), "JPEG"),
            ("text.png", Array("not an image at all".utf8), "not a PNG or JPEG file"),
            ("empty.png", [], "empty file"),
        ]
        for (name, bytes, expected) in cases {
            let path = "\(dir)/\(name)"
            writeFile(bytes, path)
            XCTAssertThrowsError(try Image(contentsOf: path), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(path), "\(name): \(text)")
                XCTAssertTrue(text.contains(expected), "\(name): \(text)")
            }
        }
        XCTAssertThrowsError(try Image(contentsOf: "\(dir)/missing.png")) { XCTAssertTrue("\($0)".contains("missing.png")) }
    }

    func testToTensorIsChannelFirstInUnitRange() {
        let img = Image(width: 2, height: 1, channels: 3, pixels: [0, 51, 102, 153, 204, 255])
        let t = ToTensor()(img)
        XCTAssertEqual(t.shape, [3, 1, 2])
        assertClose(t.scalars, [0, 0.6, 0.2, 0.8, 0.4, 1.0])
    }
}
