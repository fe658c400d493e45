import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData

/// Readers bound their work by their input and check values at load:
/// gzip output grows as data arrives, labels are range-checked, pixels are
/// checked as the Float that is stored.
final class BoundedReaderTests: XCTestCase {
    /// Peak resident memory of this process so far, in bytes.
    func peakRSS() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }

    /// 1 MiB of incompressible bytes, gzipped (about 1 MiB).
    func randomGzip() -> (raw: [UInt8], gz: [UInt8]) {
        let g = RandomGenerator(seed: 3)
        let raw = (0..<(1 << 18)).flatMap { _ -> [UInt8] in
            let w = g.next()
            return [UInt8(w & 0xff), UInt8(w >> 8 & 0xff), UInt8(w >> 16 & 0xff), UInt8(w >> 24 & 0xff)]
        }
        return (raw, FileBytes.gzip(raw))
    }

    func testDamagedGzipFailsWithoutSizingFromTheTrailer() throws {
        let (raw, gz) = randomGzip()
        XCTAssertEqual(try FileBytes.gunzip(gz, path: "ok.gz"), raw)
        // Eight bytes appended whose last four claim 4 GiB; then the stream cut at 90%
        // with the same claim at its end. The old reader zero-filled up to 1032x the input.
        let claim: [UInt8] = [0xff, 0xff, 0xff, 0xff]
        let padded = gz + [1, 2, 3, 4] + claim
        let cut = Array(gz[..<(gz.count * 9 / 10)]) + claim
        let before = peakRSS()
        assertIOError("padded.gz", "unexpected bytes after the end of the stream") { try FileBytes.gunzip(padded, path: "padded.gz") }
        assertIOError("cut.gz", "gzip") { try FileBytes.gunzip(cut, path: "cut.gz") }
        let grown = peakRSS() - before
        // The input and output are ~1 MiB each; the old reader reached ~1 GiB here.
        XCTAssertLessThan(grown, 128 << 20, "peak RSS grew by \(grown >> 20) MiB for 1 MiB inputs")
    }

    func testTruncatedGzipIsReported() {
        let (_, gz) = randomGzip()
        let cut = Array(gz[..<(gz.count / 2)])
        assertIOError("half.gz", "truncated gzip stream") { try FileBytes.gunzip(cut, path: "half.gz") }
    }

    /// Loads `text` as a CSV of two-pixel samples, label last.
    func loadCSV(_ text: String, scale: Float = 1, classCount: Int? = nil) throws -> Dataset {
        let p = makeTempDir(self) + "/data.csv"
        writeBytes(Array(text.utf8), p)
        do {
            return try Dataset.loadCSV(p, sampleShape: [2], pixelScale: scale, classCount: classCount)
        } catch let StrataError.io(path, reason) {
            XCTAssertEqual(path, p)
            throw StrataError.invalidArgument(reason)
        }
    }

    func assertCSVError(
        _ text: String, _ fragment: String, scale: Float = 1, classCount: Int? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try loadCSV(text, scale: scale, classCount: classCount), file: file, line: line) {
            XCTAssertTrue("\($0)".contains(fragment), "'\($0)' lacks '\(fragment)'", file: file, line: line)
        }
    }

    func testCSVLabelsAreRangeChecked() throws {
        assertCSVError("1,2,999999999\n", "line 1: label 999999999.0 is not an integer in 0..<65536")
        XCTAssertEqual(try loadCSV("1,2,3\n4,5,10\n").labels, [3, 10])
        assertCSVError("1,2,3\n4,5,10\n", "line 2: label 10.0 is not an integer in 0..<10", classCount: 10)
    }

    func testCSVPixelsAreCheckedAsFloat() {
        assertCSVError("1e39,2,3\n", "line 1, field 1: 1e+39 is not a finite Float")
        // Finite as a Float, but not after scaling.
        assertCSVError("3e38,2,3\n", "is not a finite Float after scaling by 10.0", scale: 10)
    }

    func testIDXLabelsAreCheckedAgainstTheClassCount() throws {
        let dir = makeTempDir(self)
        let images = IDX.encode(shape: [2, 2, 2], bytes: [UInt8](repeating: 7, count: 8))
        writeBytes(FileBytes.gzip(images), dir + "/t10k-images-idx3-ubyte.gz")
        writeBytes(FileBytes.gzip(IDX.encode(shape: [2], bytes: [3, 12])), dir + "/t10k-labels-idx1-ubyte.gz")
        let labels = dir + "/t10k-labels-idx1-ubyte.gz"
        assertIOError(labels, "label 12 of sample 1 is outside 0..<10") {
            try Dataset.fashionMNIST(train: false, directory: dir)
        }
        XCTAssertEqual(try Dataset.loadIDX(images: dir + "/t10k-images-idx3-ubyte.gz", labels: labels).labels, [3, 12])
        assertIOError(labels, "outside 0..<12") {
            try Dataset.loadIDX(images: dir + "/t10k-images-idx3-ubyte.gz", labels: labels, classCount: 12)
        }
    }
}
