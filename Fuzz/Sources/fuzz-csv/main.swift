import FuzzSupport
import Strata

/// A CSV file (plain or gzip) of two-pixel samples. The first byte picks
/// the options: bit 0 label column, bit 1 header line, bit 2 class count 10.
func fuzzCSV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    guard let mode = bytes.first else { return 0 }
    let path = writeFuzzFile(Array(bytes.dropFirst()), "data.csv")
    if let d = try? Dataset.loadCSV(
        path, sampleShape: [2], labelColumn: mode & 1 == 0 ? .last : .first,
        pixelScale: 1, hasHeader: mode & 2 != 0, classCount: mode & 4 != 0 ? 10 : nil)
    {
        // What a training script does next with the labels.
        _ = try? d.stratifiedSplit(fraction: 0.5, seed: 1)
    }
    return 0
}

runFuzzer(fuzzCSV)
