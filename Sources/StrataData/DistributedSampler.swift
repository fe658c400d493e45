import StrataCore

/// The indices one rank of a data-parallel job reads in an epoch
/// (PyTorch's `DistributedSampler`): every rank takes a disjoint shard of
/// the same per-epoch permutation, rank r the positions r, r + W, r + 2W, ...
///
/// - Shuffled, the permutation of epoch e is exactly `DataLoader`'s order for
///   the same seed and epoch, so with worldSize 1 the sampler gives the
///   single-process order, and W ranks with per-rank batch B see, batch by
///   batch, the same samples as one process with batch W*B.
/// - The list is padded to `totalSize` = W * ceil(count / W) by repeating its
///   first indices (PyTorch's rule), so every rank has `samplesPerRank`
///   samples; with `dropLast` the tail is cut instead (W * floor(count / W)).
/// - Call `setEpoch(_:)` at the start of every epoch (or pass the epoch) so
///   that each epoch has a new permutation on every rank alike.
///
/// It needs only the rank and world size as integers (no MPI): a process
/// group's `rank` and `worldSize`.
public struct DistributedSampler: Sendable, Equatable {
    /// Dataset size.
    public let count: Int
    public let worldSize: Int
    public let rank: Int
    public let shuffle: Bool
    public let seed: UInt64
    public let dropLast: Bool
    /// The epoch `indices()` uses.
    public private(set) var epoch = 0

    public init(count: Int, worldSize: Int, rank: Int, shuffle: Bool = true, seed: UInt64 = 0, dropLast: Bool = false) {
        strataCheck(count >= 0, "DistributedSampler: count must be >= 0, got \(count)")
        strataCheck(worldSize >= 1, "DistributedSampler: worldSize must be >= 1, got \(worldSize)")
        strataCheck(rank >= 0 && rank < worldSize, "DistributedSampler: rank \(rank) outside 0..<\(worldSize)")
        self.count = count
        self.worldSize = worldSize
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
    }

    /// Sets the epoch of the next `indices()` (PyTorch's `set_epoch`).
    public mutating func setEpoch(_ epoch: Int) {
        strataCheck(epoch >= 0, "DistributedSampler.setEpoch: epoch must be >= 0, got \(epoch)")
        self.epoch = epoch
    }

    /// Samples each rank reads per epoch.
    public var samplesPerRank: Int {
        dropLast ? count / worldSize : (count + worldSize - 1) / worldSize
    }

    /// Samples all ranks read together per epoch (padded or cut).
    public var totalSize: Int { samplesPerRank * worldSize }

    /// This rank's indices for the current epoch.
    public func indices() -> [Int] { indices(epoch: epoch) }

    /// This rank's indices for epoch `epoch`.
    public func indices(epoch: Int) -> [Int] {
        guard count > 0 else { return [] }
        var order =
            shuffle
            ? RandomGenerator(seed: mixSeed(seed, UInt64(epoch), 0x5348_5546)).permutation(count)
            : Array(0..<count)
        let total = totalSize
        if total > order.count {
            // Pad by repeating the list from its start (as often as needed).
            let base = order
            while order.count < total { order += base.prefix(total - order.count) }
        } else {
            order.removeLast(order.count - total)
        }
        return Array(stride(from: rank, to: total, by: worldSize).map { order[$0] })
    }
}
