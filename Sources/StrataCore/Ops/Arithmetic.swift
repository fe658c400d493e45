/// Elementwise arithmetic with broadcasting, each op with its backward
/// closure beside its forward.

import Foundation

/// Applies `f` elementwise over the broadcast of `a` and `b`.
@inline(__always)
func broadcastBinary(
    _ a: Tensor, _ b: Tensor, op: String, _ f: (Float, Float) -> Float
) -> Tensor {
    if a.shape == b.shape {
        let out = Tensor(uninitialized: a.shape)
        let pa = a.data, pb = b.data, po = out.data
        for i in 0..<a.count { po[i] = f(pa[i], pb[i]) }
        return out
    }
    guard let shape = Broadcast.shape(a.shape, b.shape) else {
        strataFatal("\(op): shapes \(a.shape) and \(b.shape) cannot be broadcast together")
    }
    let out = Tensor(uninitialized: shape)
    let sa = Broadcast.strides(of: a.shape, in: shape), sb = Broadcast.strides(of: b.shape, in: shape)
    let pa = a.data, pb = b.data, po = out.data
    Broadcast.forEachRow(outShape: shape, aStrides: sa, bStrides: sb) { oo, ao, bo, n, das, dbs in
        for j in 0..<n { po[oo + j] = f(pa[ao + j * das], pb[bo + j * dbs]) }
    }
    return out
}

/// Applies `f` to every element.
@inline(__always)
func unaryMap(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let px = x.data, po = out.data
    for i in 0..<x.count { po[i] = f(px[i]) }
    return out
}

extension Tensor {
    /// Elementwise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastBinary(a, b, op: "add") { $0 + $1 }
        return out.recordOp("add", inputs: [a, b]) { g in
            if a.requiresGrad { a.accumulateGrad(Broadcast.sum(g, to: a.shape)) }
            if b.requiresGrad { b.accumulateGrad(Broadcast.sum(g, to: b.shape)) }
        }
    }

    /// Elementwise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastBinary(a, b, op: "sub") { $0 - $1 }
        return out.recordOp("sub", inputs: [a, b]) { g in
            if a.requiresGrad { a.accumulateGrad(Broadcast.sum(g, to: a.shape)) }
            if b.requiresGrad { b.accumulateGrad(Broadcast.sum(unaryMap(g) { -$0 }, to: b.shape), owned: true) }
        }
    }

    /// Elementwise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastBinary(a, b, op: "mul") { $0 * $1 }
        return out.recordOp("mul", inputs: [a, b]) { g in
            if a.requiresGrad { a.accumulateGrad(Broadcast.sum(broadcastBinary(g, b, op: "mul") { $0 * $1 }, to: a.shape), owned: true) }
            if b.requiresGrad { b.accumulateGrad(Broadcast.sum(broadcastBinary(g, a, op: "mul") { $0 * $1 }, to: b.shape), owned: true) }
        }
    }

    /// Elementwise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastBinary(a, b, op: "div") { $0 / $1 }
        let saved = out.detached()
        return out.recordOp("div", inputs: [a, b]) { g in
            if a.requiresGrad { a.accumulateGrad(Broadcast.sum(broadcastBinary(g, b, op: "div") { $0 / $1 }, to: a.shape), owned: true) }
            if b.requiresGrad {
                // d(a/b)/db = -a / b^2 = -out / b
                let q = broadcastBinary(saved, b, op: "div") { -$0 / $1 }
                b.accumulateGrad(Broadcast.sum(broadcastBinary(g, q, op: "mul") { $0 * $1 }, to: b.shape), owned: true)
            }
        }
    }

    /// Negation.
    public static prefix func - (x: Tensor) -> Tensor { x * -1 }

    public static func + (a: Tensor, s: Float) -> Tensor {
        let out = unaryMap(a) { $0 + s }
        return out.recordOp("add_scalar", inputs: [a]) { g in a.accumulateGrad(g) }
    }
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
    public static func - (s: Float, a: Tensor) -> Tensor { (a * -1) + s }

    public static func * (a: Tensor, s: Float) -> Tensor {
        let out = unaryMap(a) { $0 * s }
        return out.recordOp("mul_scalar", inputs: [a]) { g in a.accumulateGrad(unaryMap(g) { $0 * s }, owned: true) }
    }
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }

    /// Elementwise power with a constant exponent.
    public func pow(_ p: Float) -> Tensor {
        let x = self
        let out = unaryMap(x) { Foundation.pow($0, p) }
        return out.recordOp("pow", inputs: [x]) { g in
            let d = Tensor(uninitialized: x.shape)
            for i in 0..<x.count { d.data[i] = g.data[i] * p * Foundation.pow(x.data[i], p - 1) }
            x.accumulateGrad(d, owned: true)
        }
    }

    /// Elementwise square root.
    public func sqrt() -> Tensor {
        let x = self
        let out = unaryMap(x) { $0.squareRoot() }
        let saved = out.detached()
        return out.recordOp("sqrt", inputs: [x]) { g in
            let d = Tensor(uninitialized: x.shape)
            for i in 0..<x.count { d.data[i] = g.data[i] * 0.5 / saved.data[i] }
            x.accumulateGrad(d, owned: true)
        }
    }

    /// Elementwise exponential.
    public func exp() -> Tensor {
        let x = self
        let out = unaryMap(x) { Foundation.exp($0) }
        let saved = out.detached()
        return out.recordOp("exp", inputs: [x]) { g in
            let d = Tensor(uninitialized: x.shape)
            for i in 0..<x.count { d.data[i] = g.data[i] * saved.data[i] }
            x.accumulateGrad(d, owned: true)
        }
    }

    /// Elementwise natural logarithm.
    public func log() -> Tensor {
        let x = self
        let out = unaryMap(x) { Foundation.log($0) }
        return out.recordOp("log", inputs: [x]) { g in
            let d = Tensor(uninitialized: x.shape)
            for i in 0..<x.count { d.data[i] = g.data[i] / x.data[i] }
            x.accumulateGrad(d, owned: true)
        }
    }
}
