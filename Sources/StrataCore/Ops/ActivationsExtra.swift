import Foundation

/// More pointwise nonlinearities (PyTorch's `F.silu`, `F.elu`, `F.relu6`,
/// `F.hardtanh`, `F.hardswish`, `F.hardsigmoid`, `F.mish`, `F.softplus`,
/// `F.prelu`). Each is one fused forward loop and one fused backward loop
/// (`pointwise` in Activations.swift); derivatives at the kinks follow
/// PyTorch's CPU kernels, noted per op.
extension Tensor {
    /// x * sigmoid(x) (also called swish). dy/dx = s * (1 + x * (1 - s)).
    public func silu() -> Tensor {
        pointwise(
            "silu", { x in x * stableSigmoid(x) },
            derivative: { x, _ in
                let s = stableSigmoid(x)
                return s * (1 + x * (1 - s))
            })
    }

    /// x for x > 0, alpha * (e^x - 1) otherwise (PyTorch default alpha 1).
    /// dy/dx = 1 for x > 0, else y + alpha.
    public func elu(alpha: Float = 1) -> Tensor {
        pointwise("elu", { x in x > 0 ? x : alpha * Foundation.expm1(x) }, derivative: { x, y in x > 0 ? 1 : y + alpha })
    }

    /// min(max(x, minValue), maxValue) (PyTorch's `hardtanh`, defaults -1
    /// and 1). The derivative is 1 strictly inside (minValue, maxValue) and
    /// 0 at and beyond the ends, as PyTorch.
    public func hardtanh(minValue: Float = -1, maxValue: Float = 1) -> Tensor {
        strataCheck(minValue <= maxValue, "hardtanh: minValue \(minValue) must not exceed maxValue \(maxValue)")
        return pointwise(
            "hardtanh", { x in x < minValue ? minValue : (x > maxValue ? maxValue : x) },
            derivative: { x, _ in x > minValue && x < maxValue ? 1 : 0 })
    }

    /// min(max(x, 0), 6): `hardtanh(minValue: 0, maxValue: 6)`.
    public func relu6() -> Tensor { hardtanh(minValue: 0, maxValue: 6) }

    /// x * relu6(x + 3) / 6 (Howard et al. 2019, MobileNetV3). dy/dx is 0
    /// below -3, x/3 + 1/2 on [-3, 3], 1 above 3, as PyTorch.
    public func hardswish() -> Tensor {
        pointwise(
            "hardswish", { x in x * min(max(x + 3, 0), 6) / 6 },
            derivative: { x, _ in
                x < -3 ? 0 : (x <= 3 ? x / 3 + 0.5 : 1)
            })
    }

    /// relu6(x + 3) / 6. dy/dx = 1/6 strictly inside (-3, 3), else 0.
    public func hardsigmoid() -> Tensor {
        pointwise(
            "hardsigmoid", { x in min(max(x + 3, 0), 6) / 6 },
            derivative: { x, _ in
                x > -3 && x < 3 ? 1 / 6 : 0
            })
    }

    /// x * tanh(softplus(x)) (Misra 2019). dy/dx = t + x * sigmoid(x) * (1 - t^2)
    /// with t = tanh(softplus(x)).
    public func mish() -> Tensor {
        pointwise(
            "mish", { x in x * Foundation.tanh(stableSoftplus(x)) },
            derivative: { x, _ in
                let t = Foundation.tanh(stableSoftplus(x))
                return t + x * stableSigmoid(x) * (1 - t * t)
            })
    }

    /// log(1 + e^(beta*x)) / beta, and x itself where beta*x > threshold
    /// (PyTorch defaults beta 1, threshold 20). dy/dx = sigmoid(beta*x), or 1
    /// above the threshold.
    public func softplus(beta: Float = 1, threshold: Float = 20) -> Tensor {
        strataCheck(beta != 0, "softplus: beta must not be 0")
        return pointwise(
            "softplus", { x in x * beta > threshold ? x : Foundation.log1p(Foundation.exp(x * beta)) / beta },
            derivative: { x, _ in x * beta > threshold ? 1 : stableSigmoid(x * beta) })
    }

    /// max(0, x) + a * min(0, x), with one slope `a`
    /// per channel (dimension 1) or one shared slope (PyTorch's `F.prelu`).
    ///
    /// - `weight`: [1] (shared) or [C] where C = shape[1].
    /// - dL/dx = g where x > 0, g * a elsewhere; dL/da = sum of g * x over
    ///   the elements with x <= 0 of that channel (x = 0 contributes 0).
    public func prelu(weight: Tensor) -> Tensor {
        let channels = rank >= 2 ? shape[1] : 1
        strataCheck(
            weight.rank == 1 && (weight.count == 1 || weight.count == channels),
            "prelu: weight must be [1] or [\(channels)] (the channels of input \(shape)), got \(weight.shape)")
        let x = self
        let shared = weight.count == 1
        // Elements of one channel plane, and the number of such planes per sample.
        let inner = rank >= 2 ? shape[2...].reduce(1, *) : count
        let out = Tensor(uninitialized: shape)
        let px = data, pw = weight.data, py = out.data
        for i in 0..<count {
            let a = pw[shared ? 0 : (i / inner) % channels]
            py[i] = px[i] > 0 ? px[i] : a * px[i]
        }
        return out.recordOp("prelu", inputs: [x, weight]) { g in
            let pg = g.data
            if x.requiresGrad {
                let d = Tensor(uninitialized: x.shape)
                let pd = d.data
                for i in 0..<x.count {
                    let a = pw[shared ? 0 : (i / inner) % channels]
                    pd[i] = px[i] > 0 ? pg[i] : a * pg[i]
                }
                x.accumulateGrad(d, owned: true)
            }
            if weight.requiresGrad {
                var sums = [Double](repeating: 0, count: weight.count)
                for i in 0..<x.count where px[i] <= 0 {
                    sums[shared ? 0 : (i / inner) % channels] += Double(pg[i]) * Double(px[i])
                }
                weight.accumulateGrad(Tensor(shape: weight.shape, sums.map { Float($0) }), owned: true)
            }
        }
    }
}

// stableSigmoid: Losses/BinaryLosses.swift.

/// log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|).
@inline(__always)
private func stableSoftplus(_ x: Float) -> Float {
    max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x)))
}
