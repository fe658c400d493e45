import FuzzSupport
import Strata

/// A whole safetensors file, loaded into a Linear(2, 2) strictly and not
/// (the non-strict load converts every tensor whatever its name).
func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = writeFuzzFile(fuzzBytes(data, size), "model.safetensors")
    for strict in [true, false] {
        _ = try? Linear(2, 2, generator: RandomGenerator(seed: 0)).loadSafetensors(from: path, strict: strict)
    }
    return 0
}

runFuzzer(fuzzSafetensors)
