import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData

/// ImageFolder: torchvision's layout, ordering and messages.
final class ImageFolderTests: XCTestCase {
    /// root/<class>/<file> for each (class, file) pair, PNG unless the name says JPEG.
    func makeTree(_ files: [(String, String)], in root: String, size: Int = 4) throws {
        let fm = FileManager.default
        for (i, (cls, name)) in files.enumerated() {
            let path = "\(root)/\(cls)/\(name)"
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let lower = name.lowercased()
            if lower.hasSuffix(".png") || lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") {
                try patternImage(width: size, height: size, channels: 3, salt: i).write(to: path)
            } else {
                writeFile(Array("not an image".utf8), path)
            }
        }
    }

    func testClassesAndFilesFollowTorchvisionOrder() throws {
        let root = makeTempDir(self)
        try makeTree(
            [
                ("dog", "b.png"), ("dog", "a.JPG"), ("cat", "z.jpeg"), ("cat", "kittens/m.png"), ("cat", "a.PNG"),
                ("Zebra", "x.png"), ("cat", "notes.txt"), ("cat", ".DS_Store"), ("dog", "c.gif"),
            ], in: root)
        writeFile(Array("x".utf8), "\(root)/README.md")  // a file at the root belongs to no class
        let folder = try ImageFolder(root: root)
        XCTAssertEqual(folder.classes, ["Zebra", "cat", "dog"], "sorted by code point: upper case first")
        XCTAssertEqual(folder.classToIndex, ["Zebra": 0, "cat": 1, "dog": 2])
        let relative = folder.samples.map { String($0.path.dropFirst(root.count + 1)) }
        // Within a class: the folder's own files sorted, then its sub-folders' (sorted(os.walk)).
        XCTAssertEqual(relative, ["Zebra/x.png", "cat/a.PNG", "cat/z.jpeg", "cat/kittens/m.png", "dog/a.JPG", "dog/b.png"])
        XCTAssertEqual(folder.samples.map(\.label), [0, 1, 1, 1, 2, 2])
        XCTAssertEqual(folder.classCounts, [1, 3, 2])
        XCTAssertEqual(folder.count, 6, "notes.txt, .DS_Store and c.gif are skipped silently, as torchvision does")
        XCTAssertTrue(folder.skipped.isEmpty)

        let s = try folder.sample(at: 1)
        XCTAssertEqual(s.label, 1)
        XCTAssertEqual(s.image.shape, [3, 4, 4])
        let expected = ToTensor()(patternImage(width: 4, height: 4, channels: 3, salt: 4))
        XCTAssertEqual(s.image.scalars, expected.scalars, "cat/a.PNG decoded losslessly to [C, H, W] / 255")
        let gray = try ImageFolder(root: root, mode: .gray)
        XCTAssertEqual(try gray.sample(at: 0).image.shape, [1, 4, 4])
        XCTAssertEqual(try ImageFolder(root: root, extensions: [".png"]).count, 4, "extensions filter")
    }

    func testEmptyClassFolderThrowsPyTorchsMessage() throws {
        let root = makeTempDir(self)
        try makeTree([("cat", "a.png"), ("empty", "readme.txt")], in: root)
        try FileManager.default.createDirectory(atPath: "\(root)/also-empty", withIntermediateDirectories: true)
        XCTAssertThrowsError(try ImageFolder(root: root)) { error in
            XCTAssertEqual(
                "\(error)",
                StrataError.io(
                    path: root,
                    reason:
                        "Found no valid file for the classes also-empty, empty. Supported extensions are: .png, .jpg, .jpeg"
                ).description)
        }
    }

    func testRootWithoutClassFoldersOrMissingRootThrows() throws {
        let root = makeTempDir(self)
        writeFile(try patternImage(width: 2, height: 2, channels: 3).pngData(), "\(root)/loose.png")
        XCTAssertThrowsError(try ImageFolder(root: root)) {
            XCTAssertTrue("\($0)".contains("Couldn't find any class folder in \(root)."), "\($0)")
        }
        XCTAssertThrowsError(try ImageFolder(root: root + "/nope")) { XCTAssertTrue("\($0)".contains("no such folder"), "\($0)") }
    }

    func testBadImageThrowsNamingTheFileOrIsSkippedAndCounted() throws {
        let root = makeTempDir(self)
        try makeTree([("a", "1.png"), ("a", "2.png"), ("b", "3.png")], in: root)
        let good = try readWholeFile("\(root)/a/2.png")
        writeFile(Array(good.prefix(good.count - 20)), "\(root)/a/2.png")  // truncated
        writeFile(Array("plain text with an image name".utf8), "\(root)/b/4.jpg")

        let strict = try ImageFolder(root: root)
        XCTAssertEqual(strict.count, 4)
        XCTAssertThrowsError(try strict.sample(at: 1)) { error in
            XCTAssertTrue("\(error)".contains("\(root)/a/2.png"), "\(error)")
            XCTAssertTrue("\(error)".contains("corrupt or truncated PNG"), "\(error)")
        }
        XCTAssertThrowsError(try strict.sample(at: 3)) {
            XCTAssertTrue("\($0)".contains("\(root)/b/4.jpg: not a PNG or JPEG file"), "\($0)")
        }
        // The loader hands the error on from its worker thread.
        var it = DataLoader(strict, batchSize: 2).makeIterator()
        XCTAssertThrowsError(try it.nextBatch()) { XCTAssertTrue("\($0)".contains("a/2.png"), "\($0)") }

        let lenient = try ImageFolder(root: root, badImages: .skip)
        XCTAssertEqual(lenient.count, 2)
        XCTAssertEqual(lenient.skipped.map(\.path), ["\(root)/a/2.png", "\(root)/b/4.jpg"])
        XCTAssertTrue(lenient.skipped[0].reason.contains("corrupt or truncated PNG"))
        let batches = Array(DataLoader(lenient, batchSize: 2))
        XCTAssertEqual(batches.map(\.labels), [[0, 1]])
        XCTAssertEqual(batches[0].images.shape, [2, 3, 4, 4])
    }

    func testLoaderNeedsEqualSizesAndResizeMakesThem() throws {
        let root = makeTempDir(self)
        try makeTree([("a", "small.png")], in: root, size: 4)
        try makeTree([("b", "big.png")], in: root, size: 6)
        let folder = try ImageFolder(root: root)
        var it = DataLoader(folder, batchSize: 2, prefetch: false).makeIterator()
        XCTAssertThrowsError(try it.nextBatch()) { XCTAssertTrue("\($0)".contains("must share one shape"), "\($0)") }
        let resized = DataLoader(folder, batchSize: 2, transform: Resize(height: 5, width: 5))
        XCTAssertEqual(Array(resized)[0].images.shape, [2, 3, 5, 5])
    }
}
