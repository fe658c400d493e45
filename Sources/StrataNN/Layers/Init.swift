import Foundation
import StrataCore

/// Weight initialisers, in place, with PyTorch's `nn.init` semantics.
/// Fans follow PyTorch: for a weight of shape [out, in, k...], fanIn = in *
/// prod(k) and fanOut = out * prod(k).
public enum Init {
    /// (fanIn, fanOut) of a weight shape.
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        strataCheck(shape.count >= 2, "Init.fans: need at least 2 dimensions, got \(shape)")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Recommended gain of `nn.init.calculate_gain`.
    public enum Nonlinearity: Sendable {
        case linear, sigmoid, tanh, relu, leakyRelu(Float)
        public var gain: Float {
            switch self {
            case .linear, .sigmoid: return 1
            case .tanh: return 5.0 / 3
            case .relu: return Float(2).squareRoot()
            case .leakyRelu(let s): return (2 / (1 + s * s)).squareRoot()
            }
        }
    }

    public static func zeros(_ t: Tensor) { t.fill(0) }
    public static func ones(_ t: Tensor) { t.fill(1) }
    public static func constant(_ t: Tensor, _ value: Float) { t.fill(value) }

    /// N(mean, std^2): the seed experiment's weight scale sweep uses this.
    public static func normal(_ t: Tensor, mean: Float = 0, std: Float = 1, generator: RandomGenerator = .global) {
        generator.fillNormal(t.data, count: t.count, mean: mean, std: std)
    }

    /// U[low, high).
    public static func uniform(_ t: Tensor, low: Float = 0, high: Float = 1, generator: RandomGenerator = .global) {
        generator.fillUniform(t.data, count: t.count, low: low, high: high)
    }

    /// He initialisation, uniform: bound = gain * sqrt(3 / fanIn).
    public static func kaimingUniform(
        _ t: Tensor, nonlinearity: Nonlinearity = .leakyRelu(0), fanOutMode: Bool = false, generator: RandomGenerator = .global
    ) {
        let (fi, fo) = fans(t.shape)
        let bound = nonlinearity.gain * (3 / Float(fanOutMode ? fo : fi)).squareRoot()
        uniform(t, low: -bound, high: bound, generator: generator)
    }

    /// He initialisation, normal: std = gain / sqrt(fanIn).
    public static func kaimingNormal(
        _ t: Tensor, nonlinearity: Nonlinearity = .leakyRelu(0), fanOutMode: Bool = false, generator: RandomGenerator = .global
    ) {
        let (fi, fo) = fans(t.shape)
        normal(t, std: nonlinearity.gain / Float(fanOutMode ? fo : fi).squareRoot(), generator: generator)
    }

    /// Glorot initialisation, uniform: bound = gain * sqrt(6 / (fanIn + fanOut)).
    public static func xavierUniform(_ t: Tensor, gain: Float = 1, generator: RandomGenerator = .global) {
        let (fi, fo) = fans(t.shape)
        let bound = gain * (6 / Float(fi + fo)).squareRoot()
        uniform(t, low: -bound, high: bound, generator: generator)
    }

    /// Glorot initialisation, normal: std = gain * sqrt(2 / (fanIn + fanOut)).
    public static func xavierNormal(_ t: Tensor, gain: Float = 1, generator: RandomGenerator = .global) {
        let (fi, fo) = fans(t.shape)
        normal(t, std: gain * (2 / Float(fi + fo)).squareRoot(), generator: generator)
    }

    /// A (semi-)orthogonal matrix scaled by `gain`, from the QR factorisation
    /// (LAPACKE sgeqrf + sorgqr) of a Gaussian matrix, with the signs of R's
    /// diagonal folded in so the result is uniformly distributed. The tensor
    /// is viewed as [shape[0], rest].
    public static func orthogonal(_ t: Tensor, gain: Float = 1, generator: RandomGenerator = .global) {
        strataCheck(t.rank >= 2, "Init.orthogonal: need at least 2 dimensions, got \(t.shape)")
        let rows = t.shape[0], cols = t.count / rows
        // Factor the tall matrix A [m, n] with m >= n, then transpose if needed.
        let (m, n) = (max(rows, cols), min(rows, cols))
        let a = Tensor.randn([m, n], generator: generator)
        let tau = Tensor(zeros: [n])
        let info = LAPACK.sgeqrf(m: m, n: n, a: a.data, lda: n, tau: tau.data)
        strataCheck(info == 0, "Init.orthogonal: sgeqrf failed with info \(info)")
        let signs = (0..<n).map { j -> Float in a.data[j * n + j] < 0 ? -1 : 1 }
        let info2 = LAPACK.sorgqr(m: m, n: n, k: n, a: a.data, lda: n, tau: tau.data)
        strataCheck(info2 == 0, "Init.orthogonal: sorgqr failed with info \(info2)")
        let p = t.data
        for i in 0..<m {
            for j in 0..<n {
                let v = gain * a.data[i * n + j] * signs[j]
                if rows >= cols { p[i * cols + j] = v } else { p[j * cols + i] = v }
            }
        }
    }
}
