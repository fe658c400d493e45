import FuzzSupport
import Strata

/// A checkpoint file: loaded, then restored (strictly and not) into a
/// Linear(2, 2) with SGD (momentum) or Adam, a StepLR and one generator.
func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = writeFuzzFile(fuzzBytes(data, size), "checkpoint.safetensors")
    guard let c = try? Checkpoint.load(from: path) else { return 0 }
    for strict in [true, false] {
        for useAdam in [false, true] {
            let m = Linear(2, 2, generator: RandomGenerator(seed: 0))
            let opt: any Optimizer =
                useAdam
                ? Adam(parameters: m.parameters())
                : SGD(parameters: m.parameters(), learningRate: 0.1, momentum: 0.9)
            let sched = StepLR(opt, stepSize: 2)
            _ = try? c.restore(
                model: m, optimizer: opt, scheduler: sched,
                generators: ["global": RandomGenerator(seed: 1)], strict: strict)
            // A restored optimiser must be able to step.
            for p in m.parameters() { p.grad = Tensor(zeros: p.shape) }
            opt.step()
        }
    }
    return 0
}

runFuzzer(fuzzCheckpoint)
