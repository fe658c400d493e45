import Dispatch
import StrataCore

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
/// (The per-sample `Transform`s `RandomCrop` and `RandomHorizontalFlip` do
/// the same through a loader's `transform`.)
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

/// Mini-batches over a dataset (PyTorch's `DataLoader`): a sampler's order
/// (sequential, shuffled, weighted, or any `Sampler`), batches of
/// `batchSize` with or without the last incomplete one, a per-sample
/// `transform`, augmentation, per-channel normalisation `(x - mean) / std`,
/// and `numWorkers` background threads building the next batches while the
/// current one trains.
///
///     let loader = DataLoader(train, batchSize: 128, shuffle: true, seed: 1)
///     for epoch in 0..<10 {
///         for batch in loader { ... batch.images, batch.labels ... }
///     }
///
/// Each `for` loop runs one epoch: it uses `epoch` and then increments it.
///
/// Determinism: the order of epoch `e` comes from the sampler's
/// `indices(epoch: e)`; the `transform` of the sample at position `p` of
/// epoch `e` draws from a generator seeded by (`seed`, `e`, `p`), and the
/// `augmentation` of batch `b` from one seeded by (`seed`, `e`, `b`). Every
/// batch is built whole by one thread, so batches are identical with any
/// `numWorkers`, with or without prefetching, and a resumed run that sets
/// `epoch` sees exactly the batches the uninterrupted run saw.
///
/// Errors: a sample that cannot be read (a corrupt image, named in the
/// error) or samples of different shapes are thrown by
/// `Iterator.nextBatch()`; a plain `for batch in loader` loop cannot throw,
/// so it stops the program with that message. Use `nextBatch()` to handle
/// it, or `ImageFolder(..., badImages: .skip)` to leave such files out.
public final class DataLoader: Sequence {
    public let dataset: any DatasetProtocol
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    public let dropLast: Bool
    /// The order of each epoch: `sampler` when given, else a `RandomSampler`
    /// (seeded by `seed`) when `shuffle`, else a `SequentialSampler`.
    public let sampler: any Sampler
    /// `sampler` cut into batches of `batchSize` (keeping the last unless `dropLast`).
    public let batchSampler: BatchSampler
    /// Applied to each sample before batching, with its own generator.
    public let transform: (any Transform)?
    public let augmentation: Augmentation
    /// Per-channel mean and std (one value, or one per channel), or nil.
    public let normalization: (mean: [Float], std: [Float])?
    /// Output batches as [B, C*H*W].
    public let flatten: Bool
    /// Build batches on background threads; false builds each on the
    /// calling thread when it is asked for (PyTorch's `num_workers=0`).
    public let prefetch: Bool
    /// Background threads building batches, each a whole batch, up to this
    /// many batches ahead of the consumer (ignored without `prefetch`).
    public let numWorkers: Int
    /// The epoch the next `for` loop (or `makeIterator()`) will run.
    public var epoch: Int = 0

    private let maker: BatchMaker

    /// `shuffle` and `sampler` exclude each other (as in PyTorch).
    public init(
        _ dataset: any DatasetProtocol, batchSize: Int, shuffle: Bool = false, sampler: (any Sampler)? = nil,
        seed: UInt64 = 0, dropLast: Bool = false, transform: (any Transform)? = nil,
        augmentation: Augmentation = .none, normalization: (mean: [Float], std: [Float])? = nil,
        flatten: Bool = false, numWorkers: Int = 1, prefetch: Bool = true
    ) {
        strataCheck(batchSize > 0, "DataLoader: batchSize must be positive, got \(batchSize)")
        strataCheck(
            numWorkers >= 1,
            "DataLoader: numWorkers must be >= 1, got \(numWorkers) (prefetch: false builds on the calling thread)")
        strataCheck(!(shuffle && sampler != nil), "DataLoader: sampler option is mutually exclusive with shuffle")
        strataCheck(augmentation.randomCropPadding >= 0, "DataLoader: randomCropPadding must be >= 0")
        if let memory = dataset as? Dataset, transform == nil {
            strataCheck(
                !augmentation.isEnabled || memory.images.rank == 4,
                "DataLoader: augmentation needs [N, C, H, W] images, got \(memory.images.shape)")
            let channels = memory.images.rank == 4 ? memory.images.shape[1] : 1
            if let norm = normalization {
                strataCheck(
                    norm.mean.count == 1 || norm.mean.count == channels,
                    "DataLoader: normalization needs 1 or \(channels) means and stds, got \(norm.mean.count)")
            }
        }
        if let norm = normalization {
            strataCheck(
                !norm.mean.isEmpty && norm.mean.count == norm.std.count,
                "DataLoader: normalization needs as many means as stds, got \(norm.mean.count) and \(norm.std.count)")
            strataCheck(norm.std.allSatisfy { $0 > 0 }, "DataLoader: normalization std must be positive, got \(norm.std)")
        }
        let order: any Sampler =
            sampler
            ?? (shuffle ? RandomSampler(datasetCount: dataset.count, seed: seed) : SequentialSampler(count: dataset.count))
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.sampler = order
        self.batchSampler = BatchSampler(order, batchSize: batchSize, dropLast: dropLast)
        self.transform = transform
        self.augmentation = augmentation
        self.normalization = normalization
        self.flatten = flatten
        self.numWorkers = numWorkers
        self.prefetch = prefetch
        maker = BatchMaker(
            dataset: dataset, seed: seed, transform: transform, augmentation: augmentation,
            mean: normalization?.mean, std: normalization?.std, flatten: flatten)
    }

    /// Batches per epoch.
    public var batchCount: Int { batchSampler.count }

    /// Samples per epoch (after dropping the last incomplete batch).
    public var samplesPerEpoch: Int { dropLast ? batchCount * batchSize : sampler.count }

    /// The sample order of epoch `epoch`.
    public func order(epoch: Int) -> [Int] { sampler.indices(epoch: epoch) }

    /// Batch `index` of epoch `epoch`, built now on the calling thread.
    public func batch(epoch: Int, index: Int) throws -> Batch {
        strataCheck(index >= 0 && index < batchCount, "DataLoader.batch: index \(index) outside 0..<\(batchCount)")
        return try maker.make(batches: batchSampler.batches(epoch: epoch), batchSize: batchSize, epoch: epoch, index: index)
    }

    /// Iterates epoch `epoch` from batch `startBatch` (to resume mid-epoch)
    /// without changing `self.epoch`.
    public func iterator(epoch: Int, startBatch: Int = 0) -> Iterator {
        Iterator(
            maker: maker, batches: batchSampler.batches(epoch: epoch), batchSize: batchSize, epoch: epoch,
            nextIndex: startBatch, workers: prefetch ? numWorkers : 0)
    }

    /// Runs epoch `epoch` and advances `epoch` by one.
    public func makeIterator() -> Iterator {
        defer { epoch += 1 }
        return iterator(epoch: epoch)
    }

    /// Walks one epoch's batches, up to `numWorkers` batches ahead on
    /// background threads.
    public struct Iterator: IteratorProtocol, Sequence {
        let maker: BatchMaker
        let batches: [[Int]]
        let batchSize: Int
        let epoch: Int
        var nextIndex: Int
        let workers: Int
        /// Slots for batches nextIndex, nextIndex + 1, ... in order.
        var pending: [PrefetchSlot] = []
        let queue: DispatchQueue?

        init(maker: BatchMaker, batches: [[Int]], batchSize: Int, epoch: Int, nextIndex: Int, workers: Int) {
            self.maker = maker
            self.batches = batches
            self.batchSize = batchSize
            self.epoch = epoch
            self.nextIndex = nextIndex
            self.workers = workers
            queue =
                workers > 0
                ? DispatchQueue(label: "strata.dataloader.workers", qos: .userInitiated, attributes: .concurrent) : nil
        }

        /// The next batch, or nil at the end of the epoch; throws what
        /// building it threw (a sample that cannot be read, mismatched shapes).
        public mutating func nextBatch() throws -> Batch? {
            guard nextIndex < batches.count else { return nil }
            let index = nextIndex
            nextIndex += 1
            guard let queue else {
                return try maker.make(batches: batches, batchSize: batchSize, epoch: epoch, index: index)
            }
            // Keep `workers` batches in flight, starting with this one.
            while pending.count < workers && index + pending.count < batches.count {
                let slot = PrefetchSlot(index: index + pending.count)
                let job = PrefetchJob(maker: maker, batches: batches, batchSize: batchSize, epoch: epoch, slot: slot)
                queue.async { job.run() }
                pending.append(slot)
            }
            let slot = pending.removeFirst()
            strataCheck(slot.index == index, "DataLoader: prefetched batch \(slot.index) where \(index) was due")
            return try slot.wait().get()
        }

        /// `nextBatch()` for `for` loops: an error stops the program with its message.
        public mutating func next() -> Batch? {
            do {
                return try nextBatch()
            } catch {
                strataFatal(
                    "DataLoader: batch \(nextIndex - 1) of epoch \(epoch): \(error)"
                        + " (iterate with nextBatch() to handle it)")
            }
        }
    }
}
