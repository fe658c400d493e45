import FuzzSupport
import Strata

/// An IDX file, plain or gzip (the reader decides by the magic bytes). The
/// first byte picks the role: even = the images file (beside a valid
/// one-label file), odd = the labels file (beside one valid 2x2 image),
/// loaded with a class count of 10.
func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    guard let mode = bytes.first else { return 0 }
    let fuzzed = writeFuzzFile(Array(bytes.dropFirst()), "fuzzed.idx")
    if mode % 2 == 0 {
        let labels = writeFuzzFile([0, 0, 8, 1, 0, 0, 0, 1, 3], "labels.idx")
        _ = try? Dataset.loadIDX(images: fuzzed, labels: labels)
    } else {
        let images = writeFuzzFile([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4], "images.idx")
        _ = try? Dataset.loadIDX(images: images, labels: fuzzed, classCount: 10)
    }
    return 0
}

runFuzzer(fuzzIDX)
