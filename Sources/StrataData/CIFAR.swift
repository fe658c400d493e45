import StrataCore

/// The label layout of a CIFAR binary file.
public enum CIFARVariant: Sendable, Equatable {
    /// CIFAR-10: 1 label byte (0...9), then 3072 pixel bytes.
    case cifar10
    /// CIFAR-100: a coarse (0...19) and a fine (0...99) label byte, then
    /// 3072 pixel bytes; `fineLabels` picks which becomes the label.
    case cifar100(fineLabels: Bool)

    var labelBytes: Int { self == .cifar10 ? 1 : 2 }
    var classCount: Int {
        switch self {
        case .cifar10: return 10
        case let .cifar100(fine): return fine ? 100 : 20
        }
    }
}

extension Dataset {
    /// Loads CIFAR binary files (`data_batch_1.bin` ... / `test_batch.bin`
    /// for CIFAR-10, `train.bin` / `test.bin` for CIFAR-100), concatenated
    /// in the order given: images [N, 3, 32, 32] in [0, 1] (each record's
    /// 1024 red, then green, then blue bytes, rows top to bottom), labels
    /// as stored. gzip-compressed files are accepted.
    ///
    /// Throws `StrataError.io` naming the file for a missing or empty file,
    /// a size that is not a whole number of records (3073 bytes for
    /// CIFAR-10, 3074 for CIFAR-100), or a label byte out of range (often
    /// the sign of the other variant's file).
    public static func loadCIFAR(_ paths: [String], variant: CIFARVariant = .cifar10) throws -> Dataset {
        guard !paths.isEmpty else { throw StrataError.invalidArgument("loadCIFAR: no files given") }
        let record = variant.labelBytes + 3072
        var files: [[UInt8]] = []
        for path in paths {
            let bytes = try FileBytes.read(path)
            guard !bytes.isEmpty else { throw StrataError.io(path: path, reason: "empty CIFAR file") }
            guard bytes.count % record == 0 else {
                throw StrataError.io(
                    path: path,
                    reason: "\(bytes.count) bytes is not a whole number of \(record)-byte CIFAR"
                        + "\(variant == .cifar10 ? "-10" : "-100") records (truncated, or the other variant?)")
            }
            for r in 0..<(bytes.count / record) {
                let first = Int(bytes[r * record]), firstLimit = variant == .cifar10 ? 10 : 20
                guard first < firstLimit else {
                    throw StrataError.io(
                        path: path,
                        reason: "record \(r) has \(variant == .cifar10 ? "label" : "coarse label") "
                            + "\(first), outside 0..<\(firstLimit) (the other CIFAR variant?)")
                }
                if variant != .cifar10, bytes[r * record + 1] >= 100 {
                    throw StrataError.io(path: path, reason: "record \(r) has fine label \(bytes[r * record + 1]), outside 0..<100")
                }
            }
            files.append(bytes)
        }
        let n = files.reduce(0) { $0 + $1.count / record }
        let images = Tensor(uninitialized: [n, 3, 32, 32])
        var labels: [Int] = []
        labels.reserveCapacity(n)
        let scale: Float = 1.0 / 255.0
        var row = 0
        for bytes in files {
            bytes.withUnsafeBufferPointer { buf in
                for r in 0..<(buf.count / record) {
                    let base = r * record
                    labels.append(Int(buf[base + (variant == .cifar100(fineLabels: true) ? 1 : 0)]))
                    let dst = images.data + row * 3072
                    for j in 0..<3072 { dst[j] = Float(buf[base + variant.labelBytes + j]) * scale }
                    row += 1
                }
            }
        }
        return Dataset(images: images, labels: labels)
    }

    /// CIFAR-10 from the `cifar-10-batches-bin` folder of the official
    /// archive: `data_batch_1.bin` ... `data_batch_5.bin` (50,000 images)
    /// or `test_batch.bin` (10,000).
    public static func cifar10(directory: String, train: Bool) throws -> Dataset {
        let names = train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
        return try loadCIFAR(names.map { directory + "/" + $0 }, variant: .cifar10)
    }

    /// CIFAR-100 from the `cifar-100-binary` folder: `train.bin` or
    /// `test.bin`, with the fine (100) or coarse (20) labels.
    public static func cifar100(directory: String, train: Bool, fineLabels: Bool = true) throws -> Dataset {
        try loadCIFAR([directory + "/" + (train ? "train.bin" : "test.bin")], variant: .cifar100(fineLabels: fineLabels))
    }
}
