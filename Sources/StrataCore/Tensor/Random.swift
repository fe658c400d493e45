import Foundation

/// A seedable pseudo-random generator (xoshiro256**, seeded through
/// SplitMix64) so that runs are reproducible.
///
/// A generator is a reference type guarded by a lock, so the shared
/// `RandomGenerator.global` can be used from any thread; bulk fills take the
/// lock once.
///
/// It is a `RandomNumberGenerator`, so the standard library's random APIs
/// draw from its stream: `array.shuffle(using: &generator)`,
/// `Int.random(in: 0..<10, using: &generator)`; `inout` needs a variable,
/// and `var g = RandomGenerator.global` is one (a second reference to the
/// same generator). Those use the standard library's algorithms over
/// `next()`; Strata's own `nextInt`, `permutation` and fills keep their own,
/// fixed sequences.
public final class RandomGenerator: RandomNumberGenerator, @unchecked Sendable {
    private var s0: UInt64 = 0, s1: UInt64 = 0, s2: UInt64 = 0, s3: UInt64 = 0
    private let lock = NSLock()

    /// The default generator, seeded with 0 until `manualSeed` is called.
    public static let global = RandomGenerator(seed: 0)

    /// A generator whose stream depends only on `seed`.
    public init(seed: UInt64) { reseed(seed) }

    /// Restarts the stream from `seed` (PyTorch's `manual_seed`).
    public func reseed(_ seed: UInt64) {
        lock.lock(); defer { lock.unlock() }
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// The generator's position in its stream (four 64-bit words), so a
    /// checkpoint can resume the exact sequence. Setting it restores a
    /// position read earlier; an all-zero state is rejected (xoshiro would
    /// stay at zero forever).
    public var state: [UInt64] {
        get {
            lock.lock(); defer { lock.unlock() }
            return [s0, s1, s2, s3]
        }
        set {
            strataCheck(
                newValue.count == 4 && newValue.contains { $0 != 0 },
                "RandomGenerator.state: needs four words, not all zero, got \(newValue)")
            lock.lock(); defer { lock.unlock() }
            s0 = newValue[0]; s1 = newValue[1]; s2 = newValue[2]; s3 = newValue[3]
        }
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inline(__always) private func nextUnlocked() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always) private func nextDoubleUnlocked() -> Double {
        Double(nextUnlocked() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// The same stream held in a local value for the bulk fills: the steps
    /// of `nextUnlocked` without an exclusivity check on the class's stored
    /// words per draw (which made initialising a large model take seconds
    /// per million weights in debug builds). Same numbers, same order.
    private struct Stream {
        var s0, s1, s2, s3: UInt64

        init(_ g: RandomGenerator) { (s0, s1, s2, s3) = (g.s0, g.s1, g.s2, g.s3) }

        func store(into g: RandomGenerator) { (g.s0, g.s1, g.s2, g.s3) = (s0, s1, s2, s3) }

        @inline(__always) mutating func next() -> UInt64 {
            let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
            let t = s1 << 17
            s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
            s3 = s3 << 45 | s3 >> 19
            return result
        }

        @inline(__always) mutating func nextDouble() -> Double {
            Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        }
    }

    /// The next 64 random bits (the `RandomNumberGenerator` requirement).
    public func next() -> UInt64 {
        lock.lock(); defer { lock.unlock() }
        return nextUnlocked()
    }

    /// Uniform in [0, 1).
    public func nextDouble() -> Double {
        lock.lock(); defer { lock.unlock() }
        return nextDoubleUnlocked()
    }

    /// Uniform integer in 0..<bound (bound > 0), without modulo bias.
    public func nextInt(below bound: Int) -> Int {
        strataCheck(bound > 0, "RandomGenerator.nextInt: bound must be positive, got \(bound)")
        lock.lock(); defer { lock.unlock() }
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        while true {
            let r = nextUnlocked()
            if r < limit { return Int(r % b) }
        }
    }

    /// Fills `count` floats with U[low, high).
    package func fillUniform(_ p: UnsafeMutablePointer<Float>, count: Int, low: Float, high: Float) {
        lock.lock(); defer { lock.unlock() }
        let lo = Double(low), span = Double(high) - Double(low)
        var stream = Stream(self)
        defer { stream.store(into: self) }
        for i in 0..<count { p[i] = Float(lo + span * stream.nextDouble()) }
    }

    /// Fills `count` floats with N(mean, std^2) (Box-Muller in Double).
    package func fillNormal(_ p: UnsafeMutablePointer<Float>, count: Int, mean: Float, std: Float) {
        lock.lock(); defer { lock.unlock() }
        var stream = Stream(self)
        defer { stream.store(into: self) }
        var i = 0
        while i < count {
            let u1 = 1.0 - stream.nextDouble()  // (0, 1]
            let u2 = stream.nextDouble()
            let r = (-2.0 * Foundation.log(u1)).squareRoot()
            let a = 2.0 * Double.pi * u2
            p[i] = mean + std * Float(r * Foundation.cos(a))
            if i + 1 < count { p[i + 1] = mean + std * Float(r * Foundation.sin(a)) }
            i += 2
        }
    }

    /// A random permutation of 0..<n (Fisher-Yates).
    public func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        if n < 2 { return a }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            a.swapAt(i, j)
        }
        return a
    }
}

/// Seeds the global generator (PyTorch's `torch.manual_seed`).
public func manualSeed(_ seed: UInt64) { RandomGenerator.global.reseed(seed) }
