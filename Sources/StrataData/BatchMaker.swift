import Dispatch
import StrataCore

/// Builds batches from immutable configuration; safe to call from several
/// worker threads at once because it only reads the dataset and writes the
/// new batch's own tensors.
final class BatchMaker: @unchecked Sendable {
    let dataset: any DatasetProtocol
    /// Set when the fast path applies: an in-memory dataset without a transform.
    let memory: Dataset?
    let seed: UInt64
    let transform: (any Transform)?
    let augmentation: Augmentation
    let mean: [Float]?
    let std: [Float]?
    let flatten: Bool

    init(
        dataset: any DatasetProtocol, seed: UInt64, transform: (any Transform)?, augmentation: Augmentation,
        mean: [Float]?, std: [Float]?, flatten: Bool
    ) {
        self.dataset = dataset
        memory = transform == nil ? dataset as? Dataset : nil
        self.seed = seed
        self.transform = transform
        self.augmentation = augmentation
        self.mean = mean
        self.std = std
        self.flatten = flatten
    }

    /// Batch `index` of `batches`; its samples sit at epoch positions
    /// index * batchSize + r, which seed their transforms.
    func make(batches: [[Int]], batchSize: Int, epoch: Int, index: Int) throws -> Batch {
        let indices = batches[index]
        let (out, labels) = try gather(indices, firstPosition: index * batchSize, epoch: epoch)
        if augmentation.isEnabled {
            guard out.rank == 4 else {
                throw StrataError.shapeMismatch(op: "DataLoader augmentation", expected: "[B, C, H, W]", actual: out.shape)
            }
            let g = RandomGenerator(seed: mixSeed(seed, UInt64(epoch), UInt64(index) &+ 0x4155_4700))
            augment(out, generator: g)
        }
        if let mean, let std {
            let channels = out.rank == 4 ? out.shape[1] : 1
            guard mean.count == 1 || mean.count == channels else {
                throw StrataError.shapeMismatch(
                    op: "DataLoader normalization (\(mean.count) means)",
                    expected: "\(mean.count) channels", actual: out.shape)
            }
            normalize(out, mean: mean, std: std)
        }
        let images = flatten && out.rank > 2 ? withNoGrad { out.reshaped([indices.count, -1]) } : out
        return Batch(images: images, labels: labels, indices: indices, epoch: epoch, index: index)
    }

    /// The samples at `indices` stacked into [B, ...sample shape], transformed.
    private func gather(_ indices: [Int], firstPosition: Int, epoch: Int) throws -> (Tensor, [Int]) {
        if let memory {
            let sampleSize = memory.sampleShape.reduce(1, *)
            let out = Tensor(uninitialized: [indices.count] + memory.sampleShape)
            for (r, i) in indices.enumerated() {
                (out.data + r * sampleSize).update(from: memory.images.data + i * sampleSize, count: sampleSize)
            }
            return (out, indices.map { memory.labels[$0] })
        }
        var out: Tensor?
        var shape: [Int] = []
        var labels: [Int] = []
        labels.reserveCapacity(indices.count)
        for (r, i) in indices.enumerated() {
            let sample = try dataset.sample(at: i)
            var image = sample.image
            if let transform {
                let g = RandomGenerator(seed: mixSeed(seed ^ 0x5452_4E53_464F_524D, UInt64(epoch), UInt64(firstPosition + r)))
                image = try transform.apply(image, generator: g)
            }
            if out == nil {
                shape = image.shape
                out = Tensor(uninitialized: [indices.count] + shape)
            }
            guard image.shape == shape, let dst = out else {
                throw StrataError.shapeMismatch(
                    op: "DataLoader: sample \(i) (batch samples must share one shape)",
                    expected: "\(shape)", actual: image.shape)
            }
            (dst.data + r * image.count).update(from: image.data, count: image.count)
            labels.append(sample.label)
        }
        guard let result = out else { throw StrataError.invalidArgument("DataLoader: empty batch") }
        return (result, labels)
    }

    /// Random crop with zero padding, then horizontal flip, per sample, in place.
    private func augment(_ t: Tensor, generator g: RandomGenerator) {
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let pad = augmentation.randomCropPadding
        var scratch = [Float](repeating: 0, count: c * h * w)
        for s in 0..<n {
            let base = t.data + s * c * h * w
            let dy = pad > 0 ? g.nextInt(below: 2 * pad + 1) - pad : 0
            let dx = pad > 0 ? g.nextInt(below: 2 * pad + 1) - pad : 0
            let flip = augmentation.horizontalFlip && g.nextDouble() < 0.5
            if dy == 0 && dx == 0 && !flip { continue }
            scratch.withUnsafeMutableBufferPointer { tmp in
                guard let dst = tmp.baseAddress else { return }
                for ch in 0..<c {
                    let plane = base + ch * h * w, out = dst + ch * h * w
                    for y in 0..<h {
                        let sy = y + dy
                        for x in 0..<w {
                            // Output pixel x reads the (possibly mirrored) cropped pixel.
                            let cx = flip ? w - 1 - x : x
                            let sx = cx + dx
                            out[y * w + x] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? plane[sy * w + sx] : 0
                        }
                    }
                }
                base.update(from: dst, count: c * h * w)
            }
        }
    }

    private func normalize(_ t: Tensor, mean: [Float], std: [Float]) {
        let n = t.shape[0]
        let channels = t.rank == 4 ? t.shape[1] : 1
        let plane = t.count / max(n * channels, 1)
        for s in 0..<n {
            for ch in 0..<channels {
                let k = mean.count == 1 ? 0 : ch
                let m = mean[k], inv = 1 / std[k]
                let p = t.data + (s * channels + ch) * plane
                for j in 0..<plane { p[j] = (p[j] - m) * inv }
            }
        }
    }
}

/// Hands one batch (or the error building it) from a worker to the iterator.
final class PrefetchSlot: @unchecked Sendable {
    let index: Int
    private let ready = DispatchSemaphore(value: 0)
    // Written once by the producer before `ready` is signalled, read by the
    // consumer only after waiting on it.
    private var result: Result<Batch, any Error>?

    init(index: Int) { self.index = index }

    func fill(_ r: Result<Batch, any Error>) { result = r; ready.signal() }

    func wait() -> Result<Batch, any Error> {
        ready.wait()
        guard let r = result else { strataFatal("DataLoader: prefetched batch \(index) missing") }
        return r
    }
}

/// The unit of work sent to a worker (all fields immutable).
struct PrefetchJob: @unchecked Sendable {
    let maker: BatchMaker
    let batches: [[Int]]
    let batchSize: Int
    let epoch: Int
    let slot: PrefetchSlot

    func run() {
        slot.fill(Result { try maker.make(batches: batches, batchSize: batchSize, epoch: epoch, index: slot.index) })
    }
}

/// Combines a seed with up to two counters into a new 64-bit seed (the
/// SplitMix64 finaliser), so per-epoch, per-batch and per-sample streams differ.
func mixSeed(_ seed: UInt64, _ a: UInt64, _ b: UInt64) -> UInt64 {
    func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return mix(mix(mix(seed) ^ a) ^ b)
}
