import Foundation
import Strata

/// Fashion-MNIST's 60,000 training images for cnn-epoch, held in memory.
///
/// The benchmark keeps its own small IDX reader (gzip through the `gzip`
/// tool) so that it does not depend on the data-loading API of the library;
/// loading is not timed. Looked up in `$STRATA_FASHION_MNIST`,
/// `data/fashion-mnist`, then `/usr/share/datasets/fashion-mnist`. When the
/// files are missing, random data of the same shape stands in and the record
/// says so.
struct FashionMNISTTrain {
    /// [60000, 1, 28, 28], pixel / 255.
    let images: Tensor
    /// 60,000 labels in 0..<10.
    let labels: [Int]
    /// Where the data came from ("random stand-in" when not found).
    let source: String

    static func load() -> FashionMNISTTrain {
        var dirs = ["data/fashion-mnist", "/usr/share/datasets/fashion-mnist"]
        if let env = ProcessInfo.processInfo.environment["STRATA_FASHION_MNIST"] { dirs.insert(env, at: 0) }
        for dir in dirs {
            if let images = readIDX(dir + "/train-images-idx3-ubyte"), let labels = readIDX(dir + "/train-labels-idx1-ubyte"),
               images.dims == [60000, 28, 28], labels.dims == [60000] {
                let t = Tensor(uninitialized: [60000, 1, 28, 28])
                images.bytes.withUnsafeBufferPointer { src in
                    for i in 0..<src.count { t.data[i] = Float(src[i]) / 255 }
                }
                return FashionMNISTTrain(images: t, labels: labels.bytes.map { Int($0) }, source: dir)
            }
        }
        let gen = RandomGenerator(seed: 1)
        let images = Tensor.rand([60000, 1, 28, 28], generator: gen)
        let labels = (0..<60000).map { _ in gen.nextInt(below: 10) }
        return FashionMNISTTrain(images: images, labels: labels, source: "random stand-in (Fashion-MNIST not found)")
    }
}

/// An IDX file's dimensions and raw unsigned-byte payload, from `path` or
/// `path.gz`; nil when absent or malformed.
func readIDX(_ path: String) -> (dims: [Int], bytes: [UInt8])? {
    let raw: Data
    if let d = FileManager.default.contents(atPath: path) {
        raw = d
    } else if FileManager.default.fileExists(atPath: path + ".gz") {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-dc", path + ".gz"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        raw = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
    } else {
        return nil
    }
    let bytes = [UInt8](raw)
    guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0, bytes[2] == 0x08 else { return nil }
    let rank = Int(bytes[3])
    guard bytes.count >= 4 + 4 * rank else { return nil }
    var dims: [Int] = []
    for d in 0..<rank {
        let o = 4 + 4 * d
        dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
    }
    let header = 4 + 4 * rank
    let count = dims.reduce(1, *)
    guard bytes.count == header + count else { return nil }
    return (dims, Array(bytes[header...]))
}
