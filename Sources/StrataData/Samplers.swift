import Foundation
import StrataCore

/// The order in which a `DataLoader` visits a dataset's indices, one list
/// per epoch (PyTorch's `torch.utils.data.Sampler`).
///
/// `indices(epoch:)` is a pure function of the epoch: it is PyTorch's
/// `set_epoch(e)` followed by `iter(sampler)`, so a resumed run or another
/// process asking for epoch `e` gets the same list. A distributed sampler
/// is one more conformance (each rank taking its share of this list).
public protocol Sampler: Sendable {
    /// Indices per epoch.
    var count: Int { get }
    /// The indices of epoch `epoch`, each in 0..<dataset count.
    func indices(epoch: Int) -> [Int]
}

/// 0, 1, ..., count - 1 every epoch (`SequentialSampler`).
public struct SequentialSampler: Sampler {
    public let count: Int
    public init(count: Int) {
        strataCheck(count >= 0, "SequentialSampler: count must be >= 0, got \(count)")
        self.count = count
    }
    public func indices(epoch: Int) -> [Int] { Array(0..<count) }
}

/// A fresh random order every epoch (`RandomSampler`), from a generator
/// seeded by (`seed`, epoch). Without replacement it is a permutation of
/// 0..<datasetCount (the order `DataLoader(shuffle: true)` has always
/// used); with replacement it draws `sampleCount` indices uniformly.
public struct RandomSampler: Sampler {
    public let datasetCount: Int
    public let seed: UInt64
    public let replacement: Bool
    public let count: Int

    /// `sampleCount` defaults to `datasetCount`; without replacement it
    /// must not exceed it (a prefix of the permutation is taken).
    public init(datasetCount: Int, seed: UInt64 = 0, replacement: Bool = false, sampleCount: Int? = nil) {
        let n = sampleCount ?? datasetCount
        strataCheck(datasetCount >= 0 && n >= 0, "RandomSampler: counts must be >= 0, got \(datasetCount) and \(n)")
        strataCheck(
            replacement || n <= datasetCount,
            "RandomSampler: \(n) samples without replacement from \(datasetCount)")
        strataCheck(!replacement || datasetCount > 0 || n == 0, "RandomSampler: cannot draw from an empty dataset")
        (self.datasetCount, self.seed, self.replacement, self.count) = (datasetCount, seed, replacement, n)
    }

    public func indices(epoch: Int) -> [Int] {
        let g = RandomGenerator(seed: mixSeed(seed, UInt64(bitPattern: Int64(epoch)), 0x5348_5546))
        if replacement { return (0..<count).map { _ in g.nextInt(below: datasetCount) } }
        let perm = g.permutation(datasetCount)
        return count == datasetCount ? perm : Array(perm[..<count])
    }
}

/// Index i drawn with probability weights[i] / sum (`WeightedRandomSampler`),
/// `count` draws per epoch, seeded by (`seed`, epoch). Without replacement
/// each draw removes its index (the same distribution as
/// `torch.multinomial(weights, n, replacement=False)`).
public struct WeightedRandomSampler: Sampler {
    public let weights: [Double]
    public let count: Int
    public let replacement: Bool
    public let seed: UInt64

    public init(weights: [Double], sampleCount: Int, replacement: Bool = true, seed: UInt64 = 0) {
        strataCheck(
            weights.allSatisfy { $0.isFinite && $0 >= 0 },
            "WeightedRandomSampler: weights must be finite and >= 0")
        let positive = weights.filter { $0 > 0 }.count
        strataCheck(sampleCount >= 0, "WeightedRandomSampler: sampleCount must be >= 0, got \(sampleCount)")
        strataCheck(sampleCount == 0 || positive > 0, "WeightedRandomSampler: every weight is zero")
        strataCheck(
            replacement || sampleCount <= positive,
            "WeightedRandomSampler: \(sampleCount) samples without replacement but only \(positive) weights are positive")
        (self.weights, self.count, self.replacement, self.seed) = (weights, sampleCount, replacement, seed)
    }

    public func indices(epoch: Int) -> [Int] {
        let g = RandomGenerator(seed: mixSeed(seed, UInt64(bitPattern: Int64(epoch)), 0x5747_5453))
        if replacement {
            // Inverse CDF: the first index whose running sum exceeds u * total.
            var cdf = [Double](repeating: 0, count: weights.count)
            var total = 0.0
            for (i, w) in weights.enumerated() { total += w; cdf[i] = total }
            return (0..<count).map { _ in
                let u = g.nextDouble() * total
                var lo = 0, hi = cdf.count - 1
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if cdf[mid] > u { hi = mid } else { lo = mid + 1 }
                }
                // Skip zero-weight slots a rounding edge could land on.
                while weights[lo] == 0 && lo > 0 { lo -= 1 }
                return lo
            }
        }
        // Efraimidis-Spirakis: keep the `count` largest keys u^(1/w).
        var keyed: [(Double, Int)] = []
        for (i, w) in weights.enumerated() where w > 0 {
            keyed.append((Foundation.log(max(g.nextDouble(), Double.leastNonzeroMagnitude)) / w, i))
        }
        keyed.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        return keyed.prefix(count).map(\.1)
    }
}

/// Groups another sampler's indices into batches of `batchSize`; the last,
/// smaller batch is kept unless `dropLast` (`BatchSampler`).
public struct BatchSampler: Sendable {
    public let sampler: any Sampler
    public let batchSize: Int
    public let dropLast: Bool

    public init(_ sampler: any Sampler, batchSize: Int, dropLast: Bool = false) {
        strataCheck(batchSize > 0, "BatchSampler: batchSize must be positive, got \(batchSize)")
        (self.sampler, self.batchSize, self.dropLast) = (sampler, batchSize, dropLast)
    }

    /// Batches per epoch.
    public var count: Int { dropLast ? sampler.count / batchSize : (sampler.count + batchSize - 1) / batchSize }

    /// The batches of epoch `epoch`.
    public func batches(epoch: Int) -> [[Int]] {
        let all = sampler.indices(epoch: epoch)
        return (0..<count).map { b in Array(all[(b * batchSize)..<min((b + 1) * batchSize, all.count)]) }
    }
}
