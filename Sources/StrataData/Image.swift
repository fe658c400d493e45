import CImageCodecs
import StrataCore

/// An 8-bit image as a file holds it: `pixels` interleaved row-major,
/// [height, width, channels] (PIL's and NumPy's layout), with 1 channel
/// (gray) or 3 (RGB). `ToTensor` turns it into a [C, H, W] Float32 tensor.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// 1 (gray) or 3 (RGB).
    public let channels: Int
    /// height * width * channels bytes.
    public let pixels: [UInt8]

    /// Checks that `pixels` holds height * width * channels bytes.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        strataCheck(width > 0 && height > 0, "Image: width and height must be positive, got \(width) x \(height)")
        strataCheck(channels == 1 || channels == 3, "Image: channels must be 1 (gray) or 3 (RGB), got \(channels)")
        strataCheck(
            pixels.count == width * height * channels,
            "Image: \(width) x \(height) x \(channels) needs \(width * height * channels) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}

/// The colour mode images are decoded to (torchvision's `ImageReadMode`).
public enum ImageColorMode: Sendable, Equatable {
    /// 3 channels; gray files are replicated, alpha is dropped (PIL's
    /// `convert("RGB")`, what torchvision's `ImageFolder` loader does).
    case rgb
    /// 1 channel; colour files go through ITU-R 601-2 luma (PIL's `convert("L")`).
    case gray

    var channels: Int32 { self == .rgb ? 3 : 1 }
}

/// The file formats `Image` reads, chosen by the file's first bytes.
public enum ImageFormat: Sendable, Equatable {
    case png, jpeg

    /// The format a file's signature announces, or nil.
    public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }
}

extension Image {
    /// Reads a PNG or JPEG file (the format is taken from its first bytes,
    /// not its name) as 8-bit `mode` pixels. Throws `StrataError.io` naming
    /// the file for a missing, unreadable, corrupt or truncated image.
    public init(contentsOf path: String, mode: ImageColorMode = .rgb) throws {
        let bytes = try readWholeFile(path)
        self = try Image(decoding: bytes, mode: mode, path: path)
    }

    /// Decodes PNG or JPEG bytes; `path` only names the source in errors.
    public init(decoding bytes: [UInt8], mode: ImageColorMode = .rgb, path: String = "<memory>") throws {
        guard let format = ImageFormat.sniff(bytes) else {
            throw StrataError.io(
                path: path,
                reason: bytes.isEmpty
                    ? "empty file, not an image"
                    : "not a PNG or JPEG file (unknown signature)")
        }
        var out = strata_image()
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { buf in
            message.withUnsafeMutableBufferPointer { err in
                format == .png
                    ? strata_png_decode(buf.baseAddress, buf.count, mode.channels, &out, err.baseAddress, err.count)
                    : strata_jpeg_decode(buf.baseAddress, buf.count, mode.channels, &out, err.baseAddress, err.count)
            }
        }
        defer { strata_image_free(&out) }
        guard status == 0, let p = out.pixels else {
            throw StrataError.io(path: path, reason: Self.text(message))
        }
        let (w, h, c) = (Int(out.width), Int(out.height), Int(out.channels))
        self.init(width: w, height: h, channels: c, pixels: Array(UnsafeBufferPointer(start: p, count: w * h * c)))
    }

    /// The image encoded as PNG (lossless).
    public func pngData() throws -> [UInt8] {
        try encode { px, out, err, n in
            strata_png_encode(px, Int32(width), Int32(height), Int32(channels), out, err, n)
        }
    }

    /// The image encoded as JPEG, 4:4:4 for RGB, `quality` in 1...100.
    public func jpegData(quality: Int = 90) throws -> [UInt8] {
        try encode { px, out, err, n in
            strata_jpeg_encode(px, Int32(width), Int32(height), Int32(channels), Int32(quality), out, err, n)
        }
    }

    /// Writes the image as PNG, or JPEG when `path` ends in .jpg/.jpeg
    /// (any case), through an atomic rename.
    public func write(to path: String, jpegQuality: Int = 90) throws {
        let lower = path.lowercased()
        let bytes = lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") ? try jpegData(quality: jpegQuality) : try pngData()
        try AtomicFile.write(bytes, to: path)
    }

    private func encode(
        _ body: (UnsafePointer<UInt8>?, UnsafeMutablePointer<strata_buffer>, UnsafeMutablePointer<CChar>?, Int) -> Int32
    ) throws -> [UInt8] {
        var out = strata_buffer()
        var message = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { px in
            message.withUnsafeMutableBufferPointer { err in body(px.baseAddress, &out, err.baseAddress, err.count) }
        }
        defer { strata_buffer_free(&out) }
        guard status == 0, let b = out.bytes else {
            throw StrataError.invalidArgument("Image encoding: \(Self.text(message))")
        }
        return Array(UnsafeBufferPointer(start: b, count: out.size))
    }

    private static func text(_ message: [CChar]) -> String {
        let bytes = message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
