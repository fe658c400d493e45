import StrataCore

/// Mini-batch sampling helpers for the examples.
extension RandomGenerator {
    /// `count` indices drawn uniformly from 0..<n WITH replacement (the seed
    /// article's `np.random.choice(n, batch)`): a sample may appear twice in
    /// one batch.
    public func indicesWithReplacement(count: Int, from n: Int) -> [Int] {
        strataCheck(n > 0 && count >= 0, "indicesWithReplacement: need n > 0 and count >= 0, got n \(n), count \(count)")
        return (0..<count).map { _ in nextInt(below: n) }
    }
}
