import FuzzSupport
import Strata

/// The JSON header alone: the harness adds the 8-byte length in front and
/// 64 bytes of data behind, so every input reaches the header parser.
func fuzzSafetensorsHeader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let header = fuzzBytes(data, size)
    let n = UInt64(header.count)
    let length = (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
    let path = writeFuzzFile(length + header + [UInt8](repeating: 0x3f, count: 64), "header.safetensors")
    _ = try? Linear(2, 2, generator: RandomGenerator(seed: 0)).loadSafetensors(from: path, strict: false)
    return 0
}

runFuzzer(fuzzSafetensorsHeader)
