/// 2-D transposed convolution of x [N, Cin, H, W] with weight
/// [Cin, Cout/groups, kh, kw] plus bias [Cout]: the op behind
/// `ConvTranspose2d` (PyTorch's `F.conv_transpose2d`). Output
/// [N, Cout, OH, OW] with
///
///     OH = (H - 1) * stride.h - 2 * padding.h + dilation.h * (kh - 1) + outputPadding.h + 1
///
/// (likewise OW). It is the adjoint of `conv2d`: picture the convolution
/// that maps a [N, Cout, OH, OW] tensor to [N, Cin, H, W] with the same
/// weight ([O = Cin, C/groups = Cout/groups, kh, kw]), stride, padding and
/// dilation. Then, reusing that convolution's `ConvPlan` kernels:
///
/// - forward  = the convolution's input gradient: per sample and group
///   col = W[g]^T x[n][g] (sgemm), then col2im into the output;
/// - backward-data = the convolution's forward: dx[n] = W * im2col(G[n]);
/// - weight gradient = the convolution's weight gradient with x in the
///   place of the output gradient: dW[g] += x[n][g] * im2col(G[n])[g]^T.
///
/// `outputPadding` adds rows/columns at the bottom/right only (it resolves
/// the output size when stride > 1 makes it ambiguous); it must be smaller
/// than the stride or the dilation, as in PyTorch.
/// Sizes take an `Int`, a `Size2` or an `[Int]` (`Size2Convertible`).
public func convTranspose2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: some Size2Convertible = 1, padding: some Size2Convertible = 0,
    outputPadding: some Size2Convertible = 0, groups: Int = 1, dilation: some Size2Convertible = 1
) -> Tensor {
    let stride = stride.size2, padding = padding.size2, outputPadding = outputPadding.size2, dilation = dilation.size2
    let g = strataTry {
        try transposedConvGeometry(
            op: "convTranspose2d", inputShape: x.shape, weightShape: weight.shape, stride: stride,
            padding: padding, outputPadding: outputPadding, groups: groups, dilation: dilation)
    }
    let outChannels = g.channels
    strataCheck(
        bias == nil || bias?.shape == [outChannels],
        "convTranspose2d: bias must be [\(outChannels)], got \(bias?.shape ?? [])")
    // The adjoint convolution: "output" x [N, Cin, H, W], "input" y [N, Cout, OH, OW].
    let plan = ConvPlan(geometry: g, batch: x.shape[0], outChannels: weight.shape[0], groups: groups)
    let out = Tensor(uninitialized: [plan.batch, outChannels, g.height, g.width])
    let strategy = ConvTuning.strategy(g, batch: plan.batch, pointwise: plan.pointwise)
    // The adjoint's input gradient, written fresh into `out`; its input
    // pointer is not read when no weight gradient is asked for.
    switch strategy {
    case .perSample:
        plan.backwardPerSample(x: out.data, w: weight.data, gradOut: x.data, gx: out.data, freshGX: true, gw: nil)
    case .batched:
        plan.backwardBatched(x: out.data, w: weight.data, gradOut: x.data, gx: out.data, freshGX: true, gw: nil)
    }
    if let b = bias {
        let plane = g.inPlane, pb = b.data, po = out.data
        for s in 0..<plan.batch {
            for c in 0..<outChannels {
                let dst = po + (s * outChannels + c) * plane, v = pb[c]
                for i in 0..<plane { dst[i] += v }
            }
        }
    }
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return out.recordOp("convTranspose2d", inputs: inputs) { gradOut in
        if x.requiresGrad {
            let dx = Tensor(uninitialized: x.shape)
            switch strategy {
            case .perSample: plan.forwardPerSample(x: gradOut.data, w: weight.data, bias: nil, out: dx.data)
            case .batched: plan.forwardBatched(x: gradOut.data, w: weight.data, bias: nil, out: dx.data)
            }
            x.accumulateGrad(dx, owned: true)
        }
        if weight.requiresGrad {
            let gw = weight.gradBuffer().data
            switch strategy {
            case .perSample:
                plan.backwardPerSample(x: gradOut.data, w: weight.data, gradOut: x.data, gx: nil, freshGX: false, gw: gw)
            case .batched:
                plan.backwardBatched(x: gradOut.data, w: weight.data, gradOut: x.data, gx: nil, freshGX: false, gw: gw)
            }
        }
        if let b = bias, b.requiresGrad {
            let plane = g.inPlane, pg = gradOut.data
            var sums = [Double](repeating: 0, count: outChannels)
            for s in 0..<plan.batch {
                for c in 0..<outChannels {
                    let src = pg + (s * outChannels + c) * plane
                    var t: Float = 0
                    for i in 0..<plane { t += src[i] }
                    sums[c] += Double(t)
                }
            }
            b.accumulateGrad(Tensor(shape: [outChannels], sums.map { Float($0) }), owned: true)
        }
    }
}

/// The geometry of the convolution adjoint to a transposed convolution of
/// `inputShape` [N, Cin, H, W] with `weightShape` [Cin, Cout/groups, kh, kw]:
/// its input is the transposed output [Cout, OH, OW] and its output is
/// H x W. Throws a message naming `op`.
package func transposedConvGeometry(
    op: String, inputShape shape: [Int], weightShape w: [Int],
    stride: Size2, padding: Size2, outputPadding: Size2, groups: Int, dilation: Size2
) throws -> ConvGeometry {
    guard w.count == 4, groups > 0, w[0] % groups == 0 else {
        throw StrataError.invalidArgument(
            "\(op): weight must be [Cin, Cout/groups, kh, kw] with Cin divisible by groups = \(groups), got \(w)")
    }
    guard stride.height > 0, stride.width > 0, dilation.height > 0, dilation.width > 0 else {
        throw StrataError.invalidArgument("\(op): stride \(stride) and dilation \(dilation) must be positive")
    }
    guard padding.height >= 0, padding.width >= 0, outputPadding.height >= 0, outputPadding.width >= 0 else {
        throw StrataError.invalidArgument("\(op): padding \(padding) and outputPadding \(outputPadding) must not be negative")
    }
    guard outputPadding.height < max(stride.height, dilation.height), outputPadding.width < max(stride.width, dilation.width) else {
        throw StrataError.invalidArgument(
            "\(op): outputPadding \(outputPadding) must be smaller than the stride \(stride) or the dilation \(dilation)")
    }
    guard shape.count == 4, shape[1] == w[0] else {
        throw StrataError.shapeMismatch(op: op, expected: "[N, \(w[0]), H, W]", actual: shape)
    }
    let outH = (shape[2] - 1) * stride.height - 2 * padding.height + dilation.height * (w[2] - 1) + outputPadding.height + 1
    let outW = (shape[3] - 1) * stride.width - 2 * padding.width + dilation.width * (w[3] - 1) + outputPadding.width + 1
    guard outH > 0, outW > 0 else {
        throw StrataError.invalidArgument(
            "\(op): output size \(outH)x\(outW) for input \(shape) is not positive (padding \(padding) too large)")
    }
    return ConvGeometry(
        channels: w[1] * groups, height: outH, width: outW,
        kernelH: w[2], kernelW: w[3], strideH: stride.height, strideW: stride.width,
        padTop: padding.height, padLeft: padding.width,
        dilationH: dilation.height, dilationW: dilation.width,
        outH: shape[2], outW: shape[3])
}
