/// Compares analytic gradients (from `backward`) with central finite
/// differences.
///
/// The function's output y is reduced to the scalar L = Σ w_i y_i with fixed
/// pseudo-random weights w, so every output element is checked. For each
/// input element x_j the numerical derivative is
///
///     (L(x_j + h) - L(x_j - h)) / (2h)
///
/// with L accumulated and differenced in Double. The forward pass itself runs
/// in Float32, so choose `h` around 1e-2..1e-3 and tolerances around 1e-2;
/// keep inputs away from kinks (ReLU at 0, max-pool ties).
public struct GradCheckResult: CustomStringConvertible, Sendable {
    /// Largest |analytic - numeric| over all checked elements.
    public var maxAbsoluteError: Double
    /// Worst element: (input index, flat element, analytic, numeric).
    public var worst: (input: Int, element: Int, analytic: Double, numeric: Double)
    /// Whether every element satisfied |a - n| <= atol + rtol * |n|.
    public var passed: Bool

    public var description: String {
        "gradCheck \(passed ? "passed" : "FAILED"): max |analytic - numeric| = \(maxAbsoluteError) at input \(worst.input) element \(worst.element) (analytic \(worst.analytic), numeric \(worst.numeric))"
    }
}

/// Checks `function`'s gradients with respect to `inputs` (which must have
/// `requiresGrad` set) against central differences.
public func gradCheck(
    _ inputs: [Tensor], step h: Float = 1e-2, rtol: Double = 1e-2, atol: Double = 1e-3,
    seed: UInt64 = 1234, _ function: ([Tensor]) -> Tensor
) -> GradCheckResult {
    for x in inputs { x.grad = nil }
    let y0 = function(inputs)
    let weights = Tensor.rand(y0.shape, low: -1, high: 1, generator: RandomGenerator(seed: seed))
    y0.backward(weights)
    let analytic = inputs.map { $0.grad?.scalars ?? [Float](repeating: 0, count: $0.count) }

    func loss() -> Double {
        withNoGrad {
            let y = function(inputs)
            var s: Double = 0
            for i in 0..<y.count { s += Double(weights.data[i]) * Double(y.data[i]) }
            return s
        }
    }

    var result = GradCheckResult(maxAbsoluteError: 0, worst: (0, 0, 0, 0), passed: true)
    var worstRatio = -1.0
    for (k, x) in inputs.enumerated() {
        for j in 0..<x.count {
            let original = x.data[j]
            x.data[j] = original + h
            let plus = loss()
            x.data[j] = original - h
            let minus = loss()
            x.data[j] = original
            // The step actually taken in Float32.
            let taken = Double(original + h) - Double(original - h)
            let numeric = (plus - minus) / taken
            let a = Double(analytic[k][j])
            let err = abs(a - numeric)
            let ratio = err / (atol + rtol * abs(numeric))
            if err > result.maxAbsoluteError { result.maxAbsoluteError = err }
            if ratio > worstRatio { worstRatio = ratio; result.worst = (k, j, a, numeric) }
            if ratio > 1 { result.passed = false }
        }
    }
    for x in inputs { x.grad = nil }
    return result
}
