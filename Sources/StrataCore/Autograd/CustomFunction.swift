/// User-defined differentiable ops (PyTorch's `torch.autograd.Function`).

/// What a custom op's backward can see: the inputs, the output, the
/// tensors the forward saved, and which inputs need a gradient.
///
/// Everything the context holds is a detached view (same storage, no
/// graph), so saving the output or an input creates no reference cycle.
/// The views share storage with the originals: do not modify an input in
/// place between forward and backward.
public final class AutogradContext {
    /// The op's inputs, detached, in the order given to `Tensor.custom`.
    public let inputs: [Tensor]
    /// For each input, whether it requires a gradient (PyTorch's
    /// `ctx.needs_input_grad`); backward may return nil for the others.
    public let needsInputGrad: [Bool]
    /// Tensors saved by the forward with `saveForBackward`, detached.
    public private(set) var savedTensors: [Tensor] = []
    private var savedOutput: Tensor?

    init(inputs: [Tensor]) {
        self.inputs = inputs.map { $0.detached() }
        self.needsInputGrad = inputs.map(\.requiresGrad)
    }

    /// Keeps `tensors` for the backward (call it from the forward).
    public func saveForBackward(_ tensors: Tensor...) {
        savedTensors += tensors.map { $0.detached() }
    }

    /// The forward's result, detached. Only available in the backward.
    public var output: Tensor {
        guard let o = savedOutput else {
            strataFatal("AutogradContext.output: the output exists only once the forward has returned (use it in the backward)")
        }
        return o
    }

    func setOutput(_ t: Tensor) { savedOutput = t.detached() }
}

extension Tensor {
    /// Runs a differentiable op defined by its own forward and backward
    /// (PyTorch's `autograd.Function`).
    ///
    /// `forward` computes the output from the inputs; it runs without
    /// recording a graph, so it may use any tensor op or raw loops over
    /// `data`. It may save tensors for the backward in the context.
    /// `backward` receives the context and d(loss)/d(output) (the output's
    /// shape) and returns one gradient per input, each of that input's
    /// shape, or nil where there is none (an input that does not require
    /// grad, or a non-differentiable argument). Backward also runs without
    /// recording (no double backward). `name` names the op in errors.
    ///
    /// A cube with its derivative 3x², checked against finite differences:
    ///
    ///     func cube(_ x: Tensor) -> Tensor {
    ///         Tensor.custom(name: "cube", inputs: [x]) { ctx, xs in
    ///             ctx.saveForBackward(xs[0])
    ///             return xs[0] * xs[0] * xs[0]
    ///         } backward: { ctx, grad in
    ///             let x = ctx.savedTensors[0]
    ///             return [grad * x * x * 3]
    ///         }
    ///     }
    ///     let x = Tensor.randn([4], requiresGrad: true)
    ///     print(gradCheck([x]) { cube($0[0]) })     // gradCheck passed ...
    ///
    /// The output is always a new tensor: if the forward returns one of its
    /// inputs (or a tensor that is already part of a graph), a detached view
    /// of it is used.
    public static func custom(
        name: String, inputs: [Tensor],
        forward: (AutogradContext, [Tensor]) -> Tensor,
        backward: @escaping (AutogradContext, Tensor) -> [Tensor?]
    ) -> Tensor {
        let ctx = AutogradContext(inputs: inputs)
        var out = withNoGrad { forward(ctx, ctx.inputs) }
        if out.gradNode != nil || inputs.contains(where: { $0 === out }) || out.requiresGrad { out = out.detached() }
        ctx.setOutput(out)
        let outShape = out.shape
        return out.recordOp(name, inputs: inputs) { g in
            let grads = backward(ctx, g)
            strataCheck(
                grads.count == inputs.count,
                "\(name) backward: returned \(grads.count) gradients for \(inputs.count) inputs (output shape \(outShape))")
            for (k, (x, dx)) in zip(inputs, grads).enumerated() {
                guard let dx, x.requiresGrad else { continue }
                strataCheck(
                    dx.shape == x.shape,
                    "\(name) backward: gradient \(k) has shape \(dx.shape), input \(k) has shape \(x.shape)")
                x.accumulateGrad(dx)
            }
        }
    }
}
