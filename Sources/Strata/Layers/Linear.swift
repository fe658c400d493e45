/// y = x W^T + b (PyTorch's `nn.Linear`).
///
/// - Input: [N, inFeatures]. Output: [N, outFeatures].
/// - `weight`: [outFeatures, inFeatures]; `bias`: [outFeatures].
/// - Initialisation as PyTorch: weight ~ U(-1/sqrt(in), 1/sqrt(in))
///   (kaiming_uniform with a = sqrt(5)), and the same bound for the bias.
///
/// Forward and backward are one sgemm each per product; the weight
/// gradient accumulates straight into `weight.grad` (beta = 1).
public final class Linear: Module {
    public var training = true
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: RandomGenerator = .global) {
        strataCheck(inFeatures > 0 && outFeatures > 0, "Linear: features must be positive, got \(inFeatures) -> \(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Tensor.rand([outFeatures, inFeatures], low: -bound, high: bound, generator: generator, requiresGrad: true)
        self.bias = bias ? Tensor.rand([outFeatures], low: -bound, high: bound, generator: generator, requiresGrad: true) : nil
    }

    public var ownParameters: [(String, Tensor)] {
        var p = [("weight", weight)]
        if let b = bias { p.append(("bias", b)) }
        return p
    }

    /// Throws when `shape` is not [N, inFeatures].
    public func validate(inputShape shape: [Int]) throws {
        guard shape.count == 2, shape[1] == inFeatures else {
            throw StrataError.shapeMismatch(op: "Linear(\(inFeatures), \(outFeatures))", expected: "[N, \(inFeatures)]", actual: shape)
        }
    }

    public func forward(_ x: Tensor) -> Tensor {
        strataTry { try validate(inputShape: x.shape) }
        return linear(x, weight: weight, bias: bias)
    }
}

/// The fused affine op behind `Linear`: x [N, in], weight [out, in], bias [out].
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let (n, inF, outF) = (x.shape[0], weight.shape[1], weight.shape[0])
    strataCheck(x.rank == 2 && x.shape[1] == inF, "linear: input \(x.shape) does not match weight \(weight.shape)")
    let out = Tensor(uninitialized: [n, outF])
    let beta: Float
    if let b = bias {
        for r in 0..<n { (out.data + r * outF).update(from: b.data, count: outF) }
        beta = 1
    } else { beta = 0 }
    BLAS.sgemmParallel(transA: .none, transB: .transpose, m: n, n: outF, k: inF, alpha: 1,
               a: x.data, lda: inF, b: weight.data, ldb: inF, beta: beta, c: out.data, ldc: outF)
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return out.recordOp("linear", inputs: inputs) { g in
        if x.requiresGrad {
            // dx [N, in] = g [N, out] · W [out, in]
            let gx = x.gradBuffer()
            BLAS.sgemmParallel(transA: .none, transB: .none, m: n, n: inF, k: outF, alpha: 1,
                       a: g.data, lda: outF, b: weight.data, ldb: inF, beta: 1, c: gx.data, ldc: inF)
        }
        if weight.requiresGrad {
            // dW [out, in] += g^T [out, N] · x [N, in]
            let gw = weight.gradBuffer()
            BLAS.sgemmParallel(transA: .transpose, transB: .none, m: outF, n: inF, k: n, alpha: 1,
                       a: g.data, lda: outF, b: x.data, ldb: inF, beta: 1, c: gw.data, ldc: inF)
        }
        if let b = bias, b.requiresGrad {
            let gb = b.gradBuffer()
            let pg = g.data, pb = gb.data
            for r in 0..<n { let row = pg + r * outF; for j in 0..<outF { pb[j] += row[j] } }
        }
    }
}
