import StrataCore

/// Reader for the IDX format of MNIST and Fashion-MNIST
/// (<http://yann.lecun.com/exdb/mnist/>), plain or gzip-compressed.
///
/// An IDX file is a big-endian header — two zero bytes, a type byte (0x08
/// for unsigned bytes), the number of dimensions — followed by one 32-bit
/// big-endian extent per dimension and the data in row-major order. Images
/// files have magic 0x00000803 ([N, rows, cols]), labels files 0x00000801
/// ([N]).
package enum IDX {
    /// The magic number of an unsigned-byte images file ([N, rows, cols]).
    package static let imagesMagic: UInt32 = 0x0000_0803
    /// The magic number of an unsigned-byte labels file ([N]).
    package static let labelsMagic: UInt32 = 0x0000_0801

    /// The contents of an unsigned-byte IDX file: extents and raw bytes.
    package struct Contents: Sendable {
        /// Extent of each dimension, outermost first.
        package let shape: [Int]
        /// The elements, row-major (a slice of the file's bytes, not a copy).
        package let bytes: ArraySlice<UInt8>
    }

    /// Reads an IDX file whose magic must be `magic`, checking that the data
    /// length equals the product of the extents.
    package static func read(_ path: String, magic: UInt32) throws -> Contents {
        let b = try FileBytes.read(path)
        guard b.count >= 4 else {
            throw StrataError.io(path: path, reason: "truncated IDX file: \(b.count) bytes, too short for the magic number")
        }
        let found = UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
        guard found == magic else {
            throw StrataError.io(path: path, reason: "wrong magic number \(hex(found)), expected \(hex(magic)) (\(kind(magic)))")
        }
        let dims = Int(b[3])
        let headerSize = 4 + 4 * dims
        guard b.count >= headerSize else {
            throw StrataError.io(path: path, reason: "truncated IDX header: \(b.count) bytes, need \(headerSize) for \(dims) dimensions")
        }
        var shape: [Int] = []
        var expected = 1
        for d in 0..<dims {
            let o = 4 + 4 * d
            let extent = Int(UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3]))
            shape.append(extent)
            let (product, overflow) = expected.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= 1 << 40 else {
                throw StrataError.io(path: path, reason: "IDX extents \(shape) are implausibly large")
            }
            expected = product
        }
        let have = b.count - headerSize
        guard have >= expected else {
            throw StrataError.io(path: path, reason: "truncated data: header \(shape) needs \(expected) bytes, file has \(have)")
        }
        guard have == expected else {
            throw StrataError.io(path: path, reason: "\(have - expected) unexpected bytes after the \(expected) bytes of data for \(shape)")
        }
        return Contents(shape: shape, bytes: b[headerSize...])
    }

    /// Reads an images file: [N, rows, cols] unsigned bytes.
    package static func readImages(_ path: String) throws -> Contents { try read(path, magic: imagesMagic) }

    /// Reads a labels file: [N] unsigned bytes.
    package static func readLabels(_ path: String) throws -> Contents { try read(path, magic: labelsMagic) }

    /// The bytes of an IDX file holding `bytes` with `shape` (for tests and
    /// for exporting data).
    package static func encode(shape: [Int], bytes: [UInt8]) -> [UInt8] {
        strataCheck(shape.reduce(1, *) == bytes.count, "IDX.encode: \(bytes.count) bytes do not fill shape \(shape)")
        var out: [UInt8] = [0, 0, 0x08, UInt8(shape.count)]
        for d in shape {
            let v = UInt32(d)
            out += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
        }
        return out + bytes
    }

    private static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
    }

    private static func kind(_ magic: UInt32) -> String {
        magic == imagesMagic ? "IDX images, unsigned bytes" : magic == labelsMagic ? "IDX labels, unsigned bytes" : "IDX"
    }
}

extension Dataset {
    /// Loads an images file and a labels file in IDX format (gzip or not),
    /// pixels scaled to [0, 1], images shaped [N, 1, rows, cols].
    ///
    /// Throws `StrataError.io` for a missing file, a wrong magic number,
    /// truncated data, image and label counts that disagree, or (when
    /// `classCount` is given) a label outside 0..<classCount.
    public static func loadIDX(
        images imagesPath: String, labels labelsPath: String, classCount: Int? = nil
    ) throws -> Dataset {
        let imgs = try IDX.readImages(imagesPath)
        let labs = try IDX.readLabels(labelsPath)
        guard imgs.shape.count == 3 else {
            throw StrataError.io(path: imagesPath, reason: "expected 3 dimensions [N, rows, cols], got \(imgs.shape)")
        }
        guard labs.shape.count == 1 else {
            throw StrataError.io(path: labelsPath, reason: "expected 1 dimension [N], got \(labs.shape)")
        }
        guard imgs.shape[0] == labs.shape[0] else {
            throw StrataError.io(
                path: labelsPath,
                reason:
                    "holds \(labs.shape[0]) labels but \(imagesPath) holds \(imgs.shape[0]) images")
        }
        if let classCount, let i = labs.bytes.firstIndex(where: { Int($0) >= classCount }) {
            throw StrataError.io(
                path: labelsPath,
                reason:
                    "label \(labs.bytes[i]) of sample \(i - labs.bytes.startIndex) is outside 0..<\(classCount)")
        }
        let (n, rows, cols) = (imgs.shape[0], imgs.shape[1], imgs.shape[2])
        let tensor = Tensor(uninitialized: [n, 1, rows, cols])
        let scale: Float = 1.0 / 255.0
        imgs.bytes.withUnsafeBufferPointer { src in
            let dst = tensor.data
            for i in 0..<src.count { dst[i] = Float(src[i]) * scale }
        }
        return Dataset(images: tensor, labels: labs.bytes.map { Int($0) })
    }

    /// Fashion-MNIST from Debian's `dataset-fashion-mnist` layout:
    /// `{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz` in `directory`.
    /// 60,000 training or 10,000 test images, [N, 1, 28, 28] in [0, 1];
    /// labels are checked to lie in 0..<10.
    public static func fashionMNIST(
        train: Bool, directory: String = "/usr/share/datasets/fashion-mnist"
    ) throws -> Dataset {
        let prefix = train ? "train" : "t10k"
        return try loadIDX(
            images: "\(directory)/\(prefix)-images-idx3-ubyte.gz",
            labels: "\(directory)/\(prefix)-labels-idx1-ubyte.gz", classCount: 10)
    }
}
