import StrataCore
import Dispatch

/// One mini-batch from a `DataLoader`.
public struct Batch: @unchecked Sendable {
    /// [B, C, H, W], or [B, D] for flat data or a flattening loader.
    public let images: Tensor
    /// The class of each sample.
    public let labels: [Int]
    /// Positions of these samples in the dataset.
    public let indices: [Int]
    /// The epoch this batch belongs to (0-based).
    public let epoch: Int
    /// Index of the batch within its epoch (0-based).
    public let index: Int
    /// Number of samples B.
    public var count: Int { labels.count }
}

/// Random augmentations applied to [C, H, W] samples before normalisation.
public struct Augmentation: Sendable, Equatable {
    /// Pad each side with `randomCropPadding` zeros, then crop back to
    /// H x W at a uniformly random offset (torchvision's
    /// `RandomCrop(H, padding=p)`); 0 disables it.
    public var randomCropPadding: Int
    /// Mirror left-right with probability 1/2 (`RandomHorizontalFlip`).
    public var horizontalFlip: Bool

    public init(randomCropPadding: Int = 0, horizontalFlip: Bool = false) {
        self.randomCropPadding = randomCropPadding
        self.horizontalFlip = horizontalFlip
    }

    /// No augmentation.
    public static let none = Augmentation()
    var isEnabled: Bool { randomCropPadding > 0 || horizontalFlip }
}

/// Mini-batches over a `Dataset` (PyTorch's `DataLoader`): optional
/// shuffling, dropping the last incomplete batch, augmentation, per-channel
/// normalisation `(x - mean) / std`, and prefetching of the next batch on a
/// background thread while the current one trains.
///
///     let loader = DataLoader(train, batchSize: 128, shuffle: true, seed: 1)
///     for epoch in 0..<10 {
///         for batch in loader { ... batch.images, batch.labels ... }
///     }
///
/// Each `for` loop runs one epoch: it uses `epoch` and then increments it.
/// Determinism: the order of epoch `e` and every random augmentation of its
/// batch `b` come from generators seeded by (`seed`, `e`) and (`seed`, `e`,
/// `b`), so batches are identical with or without prefetching, and a
/// resumed run that sets `epoch` sees exactly the batches the uninterrupted
/// run saw.
public final class DataLoader: Sequence {
    public let dataset: Dataset
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    public let dropLast: Bool
    public let augmentation: Augmentation
    /// Per-channel mean and std (one value, or one per channel), or nil.
    public let normalization: (mean: [Float], std: [Float])?
    /// Output batches as [B, C*H*W].
    public let flatten: Bool
    /// Build the next batch on a background thread.
    public let prefetch: Bool
    /// The epoch the next `for` loop (or `makeIterator()`) will run.
    public var epoch: Int = 0

    private let maker: BatchMaker

    public init(
        _ dataset: Dataset, batchSize: Int, shuffle: Bool = false, seed: UInt64 = 0, dropLast: Bool = false,
        augmentation: Augmentation = .none, normalization: (mean: [Float], std: [Float])? = nil,
        flatten: Bool = false, prefetch: Bool = true
    ) {
        strataCheck(batchSize > 0, "DataLoader: batchSize must be positive, got \(batchSize)")
        strataCheck(!augmentation.isEnabled || dataset.images.rank == 4,
                    "DataLoader: augmentation needs [N, C, H, W] images, got \(dataset.images.shape)")
        strataCheck(augmentation.randomCropPadding >= 0, "DataLoader: randomCropPadding must be >= 0")
        let channels = dataset.images.rank == 4 ? dataset.images.shape[1] : 1
        if let norm = normalization {
            strataCheck(norm.mean.count == norm.std.count && (norm.mean.count == 1 || norm.mean.count == channels),
                        "DataLoader: normalization needs 1 or \(channels) means and stds, got \(norm.mean.count) and \(norm.std.count)")
            strataCheck(norm.std.allSatisfy { $0 > 0 }, "DataLoader: normalization std must be positive, got \(norm.std)")
        }
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.augmentation = augmentation
        self.normalization = normalization
        self.flatten = flatten
        self.prefetch = prefetch
        maker = BatchMaker(dataset: dataset, batchSize: batchSize, seed: seed, augmentation: augmentation,
                           mean: normalization?.mean, std: normalization?.std, flatten: flatten)
    }

    /// Batches per epoch.
    public var batchCount: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// Samples per epoch (after dropping the last incomplete batch).
    public var samplesPerEpoch: Int { dropLast ? batchCount * batchSize : dataset.count }

    /// The sample order of epoch `epoch`.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<dataset.count) }
        return RandomGenerator(seed: mixSeed(seed, UInt64(epoch), 0x5348_5546)).permutation(dataset.count)
    }

    /// Batch `index` of epoch `epoch`, built now on the calling thread.
    public func batch(epoch: Int, index: Int) -> Batch {
        strataCheck(index >= 0 && index < batchCount, "DataLoader.batch: index \(index) outside 0..<\(batchCount)")
        return maker.make(order: order(epoch: epoch), epoch: epoch, index: index)
    }

    /// Iterates epoch `epoch` from batch `startBatch` (to resume mid-epoch)
    /// without changing `self.epoch`.
    public func iterator(epoch: Int, startBatch: Int = 0) -> Iterator {
        Iterator(maker: maker, order: order(epoch: epoch), epoch: epoch, nextIndex: startBatch,
                 end: batchCount, prefetch: prefetch)
    }

    /// Runs epoch `epoch` and advances `epoch` by one.
    public func makeIterator() -> Iterator {
        defer { epoch += 1 }
        return iterator(epoch: epoch)
    }

    /// Walks one epoch's batches, optionally one batch ahead on a
    /// background thread.
    public struct Iterator: IteratorProtocol, Sequence {
        let maker: BatchMaker
        let order: [Int]
        let epoch: Int
        var nextIndex: Int
        let end: Int
        let prefetch: Bool
        var pending: PrefetchSlot?
        let queue: DispatchQueue?

        init(maker: BatchMaker, order: [Int], epoch: Int, nextIndex: Int, end: Int, prefetch: Bool) {
            self.maker = maker
            self.order = order
            self.epoch = epoch
            self.nextIndex = nextIndex
            self.end = end
            self.prefetch = prefetch
            queue = prefetch ? DispatchQueue(label: "strata.dataloader.prefetch", qos: .userInitiated) : nil
        }

        public mutating func next() -> Batch? {
            guard nextIndex < end else { return nil }
            let index = nextIndex
            nextIndex += 1
            let batch: Batch
            if let slot = pending, slot.index == index {
                batch = slot.wait()
            } else {
                batch = maker.make(order: order, epoch: epoch, index: index)
            }
            pending = nil
            if let queue, nextIndex < end {
                let slot = PrefetchSlot(index: nextIndex)
                let job = PrefetchJob(maker: maker, order: order, epoch: epoch, slot: slot)
                queue.async { job.run() }
                pending = slot
            }
            return batch
        }
    }
}

/// Builds batches from immutable configuration; safe to call from the
/// prefetch thread because it only reads the dataset and writes the new
/// batch's own tensor.
final class BatchMaker: @unchecked Sendable {
    let dataset: Dataset
    let batchSize: Int
    let seed: UInt64
    let augmentation: Augmentation
    let mean: [Float]?
    let std: [Float]?
    let flatten: Bool

    init(dataset: Dataset, batchSize: Int, seed: UInt64, augmentation: Augmentation,
         mean: [Float]?, std: [Float]?, flatten: Bool) {
        self.dataset = dataset
        self.batchSize = batchSize
        self.seed = seed
        self.augmentation = augmentation
        self.mean = mean
        self.std = std
        self.flatten = flatten
    }

    func make(order: [Int], epoch: Int, index: Int) -> Batch {
        let lo = index * batchSize, hi = min(lo + batchSize, order.count)
        let indices = Array(order[lo..<hi])
        let src = dataset.images
        let sampleSize = src.count / max(dataset.count, 1)
        let out = Tensor(uninitialized: [indices.count] + dataset.sampleShape)
        for (r, i) in indices.enumerated() {
            (out.data + r * sampleSize).update(from: src.data + i * sampleSize, count: sampleSize)
        }
        if augmentation.isEnabled {
            let g = RandomGenerator(seed: mixSeed(seed, UInt64(epoch), UInt64(index) &+ 0x4155_4700))
            augment(out, generator: g)
        }
        if let mean, let std { normalize(out, mean: mean, std: std) }
        let images = flatten && out.rank > 2 ? withNoGrad { out.reshaped([indices.count, -1]) } : out
        return Batch(images: images, labels: indices.map { dataset.labels[$0] }, indices: indices,
                     epoch: epoch, index: index)
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

/// Hands one prefetched batch from the background queue to the iterator.
final class PrefetchSlot: @unchecked Sendable {
    let index: Int
    private let ready = DispatchSemaphore(value: 0)
    // Written once by the producer before `ready` is signalled, read by the
    // consumer only after waiting on it.
    private var batch: Batch?

    init(index: Int) { self.index = index }

    func fill(_ b: Batch) { batch = b; ready.signal() }

    func wait() -> Batch {
        ready.wait()
        guard let b = batch else { strataFatal("DataLoader: prefetched batch \(index) missing") }
        return b
    }
}

/// The unit of work sent to the prefetch queue (all fields immutable).
struct PrefetchJob: @unchecked Sendable {
    let maker: BatchMaker
    let order: [Int]
    let epoch: Int
    let slot: PrefetchSlot

    func run() { slot.fill(maker.make(order: order, epoch: epoch, index: slot.index)) }
}

/// Combines a seed with up to two counters into a new 64-bit seed (the
/// SplitMix64 finaliser), so per-epoch and per-batch streams differ.
func mixSeed(_ seed: UInt64, _ a: UInt64, _ b: UInt64) -> UInt64 {
    func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return mix(mix(mix(seed) ^ a) ^ b)
}
