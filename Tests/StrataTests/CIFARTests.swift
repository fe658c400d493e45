import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData

final class CIFARTests: XCTestCase {
    /// One CIFAR record: label bytes, then 1024 R, 1024 G, 1024 B bytes made from `seed`.
    func record(_ labels: [UInt8], seed: Int) -> [UInt8] {
        labels + (0..<3072).map { UInt8((seed * 31 + $0 * 7) % 256) }
    }

    func testCIFAR10RecordsBecomeImagesAndLabels() throws {
        let dir = makeTempDir(self)
        writeFile(record([3], seed: 0) + record([9], seed: 1), "\(dir)/data_batch_1.bin")
        writeFile(record([0], seed: 2), "\(dir)/data_batch_2.bin")
        let d = try Dataset.loadCIFAR(["\(dir)/data_batch_1.bin", "\(dir)/data_batch_2.bin"])
        XCTAssertEqual(d.images.shape, [3, 3, 32, 32])
        XCTAssertEqual(d.labels, [3, 9, 0])
        // Record 1, green plane (bytes 1024...), row 2, column 5.
        let j = 1024 + 2 * 32 + 5
        XCTAssertEqual(d.images[1, 1, 2, 5], Float((31 + j * 7) % 256) / 255, accuracy: 1e-7)
        XCTAssertEqual(d.images[2, 0, 0, 0], Float(62 % 256) / 255, accuracy: 1e-7)
    }

    func testCIFAR100FineAndCoarseLabels() throws {
        let dir = makeTempDir(self), path = "\(dir)/train.bin"
        writeFile(record([4, 87], seed: 0) + record([19, 2], seed: 1), path)
        XCTAssertEqual(try Dataset.loadCIFAR([path], variant: .cifar100(fineLabels: true)).labels, [87, 2])
        XCTAssertEqual(try Dataset.cifar100(directory: dir, train: true, fineLabels: false).labels, [4, 19])
        let d = try Dataset.cifar100(directory: dir, train: true)
        XCTAssertEqual(d.images[0, 0, 0, 1], Float(7) / 255, accuracy: 1e-7, "pixels start after both label bytes")
    }

    func testBadCIFARFilesThrowNamingTheFile() throws {
        let dir = makeTempDir(self)
        writeFile(Array(record([1], seed: 0).dropLast()), "\(dir)/short.bin")
        writeFile(record([12], seed: 0), "\(dir)/label.bin")
        writeFile([], "\(dir)/empty.bin")
        writeFile(record([5, 100], seed: 0), "\(dir)/fine.bin")
        let cases: [(String, CIFARVariant, String)] = [
            ("short.bin", .cifar10, "3072 bytes is not a whole number of 3073-byte CIFAR-10 records"),
            ("label.bin", .cifar10, "record 0 has label 12, outside 0..<10"),
            ("empty.bin", .cifar10, "empty CIFAR file"),
            ("fine.bin", .cifar100(fineLabels: true), "record 0 has fine label 100, outside 0..<100"),
            ("label.bin", .cifar100(fineLabels: true), "3074-byte CIFAR-100 records"),
        ]
        for (name, variant, expected) in cases {
            XCTAssertThrowsError(try Dataset.loadCIFAR(["\(dir)/\(name)"], variant: variant)) { error in
                XCTAssertTrue("\(error)".contains("\(dir)/\(name)"), "\(error)")
                XCTAssertTrue("\(error)".contains(expected), "\(name): \(error)")
            }
        }
        XCTAssertThrowsError(try Dataset.cifar10(directory: dir, train: false)) { XCTAssertTrue("\($0)".contains("test_batch.bin")) }
    }
}
