import Foundation

/// How `conv2d` arranges its matrix products.
enum ConvStrategy: Sendable {
    /// One sgemm per sample (and group) on a per-sample column matrix that
    /// stays in cache; samples are split over `Threading.count` workers with
    /// `Threading.parallelFor`, so each sgemm runs single-threaded.
    case perSample
    /// One column matrix [C*kh*kw, N*OH*OW] for the whole batch (built in
    /// parallel over samples), one sgemm per group split over the workers
    /// (`BLAS.sgemmParallel`), then a reorder of the result to NCHW.
    case batched
}

/// Choice of `ConvStrategy`; see Docs/Convolution.md for the measurements.
enum ConvTuning {
    /// Forces a strategy (benchmarks and tests); nil chooses automatically.
    nonisolated(unsafe) static var forced: ConvStrategy?

    /// Batched only for output planes smaller than 7x7 (e.g. 4x4, 2x2),
    /// where per-sample gemms are too narrow, and only while the batch's
    /// column matrix stays under 64 MB; per-sample everywhere else. At 7x7
    /// the two tie; from 14x14 up per-sample is 15-50% faster.
    static func strategy(_ g: ConvGeometry, batch: Int, pointwise: Bool) -> ConvStrategy {
        if let f = forced { return f }
        if !pointwise && g.outPlane < 49 && g.columnRows * g.outPlane * batch <= 16 << 20 { return .batched }
        return .perSample
    }

    /// Forces Winograd on (where `Winograd.supports` the call) or off
    /// (benchmarks and tests); nil chooses.
    nonisolated(unsafe) static var forcedWinograd: Bool?

    /// Winograd for the calls it supports with at least 8 input and 8
    /// output channels, unless forced off or another strategy is forced.
    /// With fewer channels the transforms of the wide side outweigh the
    /// multiplies saved: Conv2d(1, 32) on 128 x 1 x 28 x 28 (the reference
    /// CNN's conv1) took 15.6-15.8 ms through Winograd against 3.6-3.7 ms
    /// through im2col (forward and backward, one thread).
    static func winograd(_ plan: ConvPlan) -> Bool {
        guard Winograd.supports(plan) else { return false }
        return forcedWinograd ?? (forced == nil && plan.geometry.channels >= 8 && plan.outChannels >= 8)
    }

    /// Forces the per-sample weight gradient's orientation (tests); nil chooses.
    nonisolated(unsafe) static var forcedTransposedWeightGradient: Bool?

    /// Whether the per-sample weight gradient is formed transposed, as
    /// dW^T (K x O/G) += col * G^T, and transposed once per worker at the
    /// end. OpenBLAS runs the direct product G * col^T with few output
    /// channels far below its speed (16 x 144 x 1024, ResNet-20's first
    /// stage: 26-32 GFLOP/s against 68-70 transposed, one thread); from 64
    /// channels the two are even.
    static func transposedWeightGradient(groupOut: Int) -> Bool {
        forcedTransposedWeightGradient ?? (groupOut <= 32)
    }
}

/// 2-D convolution (cross-correlation) of x [N, C, H, W] with weight
/// [O, C/groups, kh, kw] plus bias [O]: the op behind `Conv2d`
/// (PyTorch's `F.conv2d`). Output [N, O, OH, OW].
///
/// Forward: per sample, the input is unfolded by im2col into a column matrix
/// [C*kh*kw, OH*OW] (skipped for 1x1 kernels with stride 1 and no padding,
/// where the input already is that matrix), and for each group g
///
///     out[n][g] (O/G x OH*OW) = W[g] (O/G x K) * col[n][g] (K x OH*OW),  K = C/G*kh*kw
///
/// Backward, with G = d(loss)/d(out):
///
///     dW[g]     += G[n][g] * col[n][g]^T      (sgemm, beta = 1, into weight.grad)
///     dcol[n][g] = W[g]^T * G[n][g]          then col2im adds dcol into x.grad
///     db[o]     += sum over n, pixels of G[n][o]
///
/// Column matrices live in `Workspace` buffers borrowed per call (and per
/// worker), so concurrent calls never share scratch memory.
/// Sizes take an `Int`, a `Size2` or an `[Int]` (`Size2Convertible`).
public func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil,
    stride: some Size2Convertible = 1, padding: ConvPadding = 0, dilation: some Size2Convertible = 1, groups: Int = 1
) -> Tensor {
    let stride = stride.size2, dilation = dilation.size2
    strataCheck(
        weight.rank == 4 && groups > 0 && weight.shape[0] % groups == 0,
        "conv2d: weight must be [O, C/groups, kh, kw] with O divisible by groups = \(groups), got \(weight.shape)")
    strataCheck(
        bias == nil || bias?.shape == [weight.shape[0]],
        "conv2d: bias must be [\(weight.shape[0])], got \(bias?.shape ?? [])")
    strataCheck(
        stride.height > 0 && stride.width > 0 && dilation.height > 0 && dilation.width > 0,
        "conv2d: stride \(stride) and dilation \(dilation) must be positive")
    strataCheck(padding != .same || stride == 1, "conv2d: padding .same needs stride 1, got stride \(stride)")
    if case .explicit(let p) = padding {
        strataCheck(p.height >= 0 && p.width >= 0, "conv2d: padding \(p) must not be negative")
    }
    let g = strataTry {
        try convGeometry(
            op: "conv2d", inputShape: x.shape, weightShape: weight.shape,
            stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
    let plan = ConvPlan(geometry: g, batch: x.shape[0], outChannels: weight.shape[0], groups: groups)
    let out = Tensor(uninitialized: [plan.batch, plan.outChannels, g.outH, g.outW])
    let winograd = ConvTuning.winograd(plan)
    if winograd {
        plan.forwardWinograd(x: x.data, w: weight.data, bias: bias?.data, out: out.data)
    } else {
        switch ConvTuning.strategy(g, batch: plan.batch, pointwise: plan.pointwise) {
        case .perSample: plan.forwardPerSample(x: x.data, w: weight.data, bias: bias?.data, out: out.data)
        case .batched: plan.forwardBatched(x: x.data, w: weight.data, bias: bias?.data, out: out.data)
        }
    }
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return out.recordOp("conv2d", inputs: inputs) { gradOut in
        // A new input gradient is left uninitialised: each sample's slice is
        // zeroed by the worker that fills it, while it is in cache.
        let (gxBuffer, freshGX) = x.requiresGrad ? x.gradBufferForWriting() : (nil, false)
        let gx = gxBuffer?.data
        let gw = weight.requiresGrad ? weight.gradBuffer().data : nil
        if winograd {
            plan.backwardWinograd(x: x.data, w: weight.data, gradOut: gradOut.data, gx: gx, freshGX: freshGX, gw: gw)
        } else if gx != nil || gw != nil {
            switch ConvTuning.strategy(g, batch: plan.batch, pointwise: plan.pointwise) {
            case .perSample:
                plan.backwardPerSample(x: x.data, w: weight.data, gradOut: gradOut.data, gx: gx, freshGX: freshGX, gw: gw)
            case .batched:
                plan.backwardBatched(x: x.data, w: weight.data, gradOut: gradOut.data, gx: gx, freshGX: freshGX, gw: gw)
            }
        }
        if let b = bias, b.requiresGrad {
            plan.biasGradient(gradOut: gradOut.data, gb: b.gradBuffer().data)
        }
    }
}

/// Sizes of one conv2d call and its forward/backward kernels.
struct ConvPlan: Sendable {
    let geometry: ConvGeometry
    let batch: Int, outChannels: Int, groups: Int
    /// Output channels per group.
    let groupOut: Int
    /// Column rows per group: C/groups * kh * kw.
    let groupK: Int
    /// OH * OW.
    let plane: Int
    /// Elements of one input sample, one output sample.
    let inSample: Int, outSample: Int
    /// 1x1 kernel, stride 1, no padding: the input is its own column matrix.
    let pointwise: Bool

    init(geometry g: ConvGeometry, batch: Int, outChannels: Int, groups: Int) {
        geometry = g
        self.batch = batch
        self.outChannels = outChannels
        self.groups = groups
        groupOut = outChannels / groups
        groupK = g.columnRows / groups
        plane = g.outPlane
        inSample = g.channels * g.inPlane
        outSample = outChannels * g.outPlane
        pointwise =
            g.kernelH == 1 && g.kernelW == 1 && g.strideH == 1 && g.strideW == 1
            && g.padTop == 0 && g.padLeft == 0 && g.outH == g.height && g.outW == g.width
    }

    /// The column matrix [C*kh*kw, OH*OW] of one input sample: the sample
    /// itself when pointwise, else its im2col written into `scratch`.
    @inline(__always)
    func columnMatrix(of sample: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        if pointwise { return sample }
        Im2Col.im2col(sample, geometry, column: scratch, ldColumn: plane)
        return UnsafePointer(scratch)
    }

    // MARK: Forward

    /// out[n] = W * col(x[n]) (+ bias), samples split over workers.
    func forwardPerSample(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        Threading.parallelFor(batch) { range in
            Workspace.with(count: pointwise ? 0 : geometry.columnRows * plane) { col in
                for s in range {
                    let xs = x + s * inSample, os = out + s * outSample
                    let column = columnMatrix(of: xs, scratch: col)
                    if let b = bias { for o in 0..<outChannels { (os + o * plane).update(repeating: b[o], count: plane) } }
                    for gi in 0..<groups {
                        BLAS.sgemm(
                            transA: .none, transB: .none, m: groupOut, n: plane, k: groupK, alpha: 1,
                            a: w + gi * groupOut * groupK, lda: groupK,
                            b: column + gi * groupK * plane, ldb: plane,
                            beta: bias == nil ? 0 : 1, c: os + gi * groupOut * plane, ldc: plane)
                    }
                }
            }
        }
    }

    /// One column matrix for the batch, one sgemm per group, then reorder.
    func forwardBatched(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let ld = batch * plane
        Workspace.with(count: geometry.columnRows * ld) { col in
            Workspace.with(count: outChannels * ld) { tmp in
                Threading.parallelFor(batch) { range in
                    for s in range { Im2Col.im2col(x + s * inSample, geometry, column: col + s * plane, ldColumn: ld) }
                }
                for gi in 0..<groups {
                    BLAS.sgemmParallel(
                        transA: .none, transB: .none, m: groupOut, n: ld, k: groupK, alpha: 1,
                        a: w + gi * groupOut * groupK, lda: groupK,
                        b: col + gi * groupK * ld, ldb: ld,
                        beta: 0, c: tmp + gi * groupOut * ld, ldc: ld)
                }
                // tmp [O, N, OH*OW] -> out [N, O, OH*OW], adding the bias.
                Threading.parallelFor(batch) { range in
                    for s in range {
                        for o in 0..<outChannels {
                            let src = tmp + o * ld + s * plane, dst = out + s * outSample + o * plane
                            if let b = bias {
                                let bo = b[o]
                                for i in 0..<plane { dst[i] = src[i] + bo }
                            } else {
                                dst.update(from: src, count: plane)
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: Backward

    /// dW += G[n] col[n]^T and dx[n] += col2im(W^T G[n]), samples split over
    /// workers. With one worker and the direct orientation dW accumulates
    /// straight into weight.grad; otherwise each worker sums into a private
    /// partial (dW^T when `ConvTuning.transposedWeightGradient`) that is
    /// added to weight.grad under a lock at the end.
    func backwardPerSample(
        x: UnsafePointer<Float>, w: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        gx: UnsafeMutablePointer<Float>?, freshGX: Bool, gw: UnsafeMutablePointer<Float>?
    ) {
        let lock = NSLock()
        let weightCount = outChannels * groupK
        let transposed = ConvTuning.transposedWeightGradient(groupOut: groupOut)
        Threading.parallelFor(batch) { range in
            let direct = range.count == batch && !transposed
            Workspace.with(count: pointwise ? 0 : geometry.columnRows * plane) { col in
                Workspace.with(count: (gw == nil || direct) ? 0 : weightCount, zeroed: true) { partial in
                    let wAcc = direct ? gw : (gw == nil ? nil : partial)
                    for s in range {
                        let xs = x + s * inSample, gs = gradOut + s * outSample
                        if let dW = wAcc {
                            let column = columnMatrix(of: xs, scratch: col)
                            for gi in 0..<groups {
                                // dW[g] (O/G x K) += G[n][g] col[n][g]^T, or transposed
                                // dW[g]^T (K x O/G) += col[n][g] G[n][g]^T: the operands swap.
                                let g = gs + gi * groupOut * plane, c = column + gi * groupK * plane
                                let (a, b, m, n) = transposed ? (c, g, groupK, groupOut) : (g, c, groupOut, groupK)
                                BLAS.sgemm(
                                    transA: .none, transB: .transpose, m: m, n: n, k: plane, alpha: 1,
                                    a: a, lda: plane, b: b, ldb: plane, beta: 1, c: dW + gi * groupOut * groupK, ldc: n)
                            }
                        }
                        if let dx = gx {
                            let dxs = dx + s * inSample
                            // Pointwise: the column gradient is the input gradient itself.
                            let dcol = pointwise ? dxs : col
                            for gi in 0..<groups {
                                BLAS.sgemm(
                                    transA: .transpose, transB: .none, m: groupK, n: plane, k: groupOut, alpha: 1,
                                    a: w + gi * groupOut * groupK, lda: groupK,
                                    b: gs + gi * groupOut * plane, ldb: plane,
                                    beta: pointwise && !freshGX ? 1 : 0, c: dcol + gi * groupK * plane, ldc: plane)
                            }
                            if !pointwise {
                                if freshGX { dxs.update(repeating: 0, count: inSample) }
                                Im2Col.col2im(col, ldColumn: plane, geometry, inputGrad: dxs)
                            }
                        }
                    }
                    if !direct, let dW = gw {
                        lock.lock()
                        if transposed {
                            // partial holds each group's dW^T [K, O/G].
                            for gi in 0..<groups {
                                let src = partial + gi * groupOut * groupK, dst = dW + gi * groupOut * groupK
                                for o in 0..<groupOut {
                                    for k in 0..<groupK { dst[o * groupK + k] += src[k * groupOut + o] }
                                }
                            }
                        } else {
                            for i in 0..<weightCount { dW[i] += partial[i] }
                        }
                        lock.unlock()
                    }
                }
            }
        }
    }

    /// One column matrix and one reordered gradient [O, N*OH*OW] for the
    /// batch; dW and the column gradient are one sgemm each, split over the workers,
    /// per group; col2im runs in parallel over samples.
    func backwardBatched(
        x: UnsafePointer<Float>, w: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        gx: UnsafeMutablePointer<Float>?, freshGX: Bool, gw: UnsafeMutablePointer<Float>?
    ) {
        let ld = batch * plane
        Workspace.with(count: geometry.columnRows * ld) { col in
            Workspace.with(count: outChannels * ld) { gt in
                Threading.parallelFor(batch) { range in
                    for s in range {
                        if gw != nil { Im2Col.im2col(x + s * inSample, geometry, column: col + s * plane, ldColumn: ld) }
                        for o in 0..<outChannels {
                            (gt + o * ld + s * plane).update(from: gradOut + s * outSample + o * plane, count: plane)
                        }
                    }
                }
                if let dW = gw {
                    for gi in 0..<groups {
                        BLAS.sgemmParallel(
                            transA: .none, transB: .transpose, m: groupOut, n: groupK, k: ld, alpha: 1,
                            a: gt + gi * groupOut * ld, lda: ld, b: col + gi * groupK * ld, ldb: ld,
                            beta: 1, c: dW + gi * groupOut * groupK, ldc: groupK)
                    }
                }
                if let dx = gx {
                    for gi in 0..<groups {
                        BLAS.sgemmParallel(
                            transA: .transpose, transB: .none, m: groupK, n: ld, k: groupOut, alpha: 1,
                            a: w + gi * groupOut * groupK, lda: groupK, b: gt + gi * groupOut * ld, ldb: ld,
                            beta: 0, c: col + gi * groupK * ld, ldc: ld)
                    }
                    Threading.parallelFor(batch) { range in
                        for s in range {
                            if freshGX { (dx + s * inSample).update(repeating: 0, count: inSample) }
                            Im2Col.col2im(col + s * plane, ldColumn: ld, geometry, inputGrad: dx + s * inSample)
                        }
                    }
                }
            }
        }
    }

    /// db[o] += sum over samples and pixels of G[n, o]: per sample, an sgemv
    /// of G[n] [O, OH*OW] with a vector of ones. Output channels are split
    /// over workers (single-threaded BLAS inside), so no OpenBLAS threads
    /// are woken for these small products.
    func biasGradient(gradOut: UnsafePointer<Float>, gb: UnsafeMutablePointer<Float>) {
        Workspace.with(count: plane) { ones in
            ones.update(repeating: 1, count: plane)
            Threading.parallelFor(outChannels, minChunk: 8) { channels in
                BLAS.withThreads(1) {
                    for s in 0..<batch {
                        BLAS.sgemv(
                            trans: .none, m: channels.count, n: plane, alpha: 1,
                            a: gradOut + s * outSample + channels.lowerBound * plane, lda: plane,
                            x: ones, beta: 1, y: gb + channels.lowerBound)
                    }
                }
            }
        }
    }
}

/// `conv2d` with an explicit padding from a variable (`padding: k / 2`).
public func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil,
    stride: some Size2Convertible = 1, padding: some Size2Convertible, dilation: some Size2Convertible = 1, groups: Int = 1
) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: stride, padding: .explicit(padding.size2), dilation: dilation, groups: groups)
}
