import StrataCore

/// Checking a whole model against an input shape before training on it.

/// A module that can check an input shape without running (the built-in
/// layers: Linear, the convolutions, normalisations, pools, Upsample,
/// PReLU, Dropout2d). A custom layer conforms by giving
/// `validate(inputShape:)`; the model-wide check then calls it before the
/// layer's forward.
public protocol ValidatesInput {
    /// Throws a message naming the layer when it would refuse an input of `shape`.
    func validate(inputShape shape: [Int]) throws
}

extension Linear: ValidatesInput {}
extension Conv1d: ValidatesInput {}
extension Conv2d: ValidatesInput {}
extension ConvTranspose2d: ValidatesInput {}
extension BatchNormBase: ValidatesInput {}
extension InstanceNorm1d: ValidatesInput {}
extension InstanceNorm2d: ValidatesInput {}
extension LayerNorm: ValidatesInput {}
extension GroupNorm: ValidatesInput {}
extension WindowPool2d: ValidatesInput {}
extension AdaptiveAvgPool2d: ValidatesInput {}
extension AdaptiveMaxPool2d: ValidatesInput {}
extension Upsample: ValidatesInput {}
extension PReLU: ValidatesInput {}
extension Dropout2d: ValidatesInput {}

extension Module {
    /// Checks that an input of `inputShape` goes through the whole model,
    /// and throws for the first module that refuses it, named by its dotted
    /// key (`"layer2.0.conv1" (Conv2d) refuses its input: ...`).
    ///
    /// Runs one forward on zeros without gradients and in eval mode, so no
    /// running statistics, spectral-norm vectors or dropout masks change
    /// (the modes are restored). Before each `module(x)` call, a module
    /// that `ValidatesInput` checks the shape it receives in the mode it
    /// was in (a BatchNorm in train mode refuses one value per channel).
    /// After a refusal the remaining modules pass their input through
    /// unchanged; arithmetic written in a custom forward (a residual sum)
    /// can then still stop on mismatched shapes, with the op's message.
    /// A built-in layer's own `validate(inputShape:)` checks that layer alone.
    public func validate(inputShape: [Int]) throws {
        let names = ModuleNames(self)
        let modes = names.modules.map(\.1.training)
        let validator = InputValidator(names: names)
        eval()
        defer { for ((_, m), t) in zip(names.modules, modes) { m.training = t } }
        _ = withNoGrad { withForwardObserver(validator) { self(Tensor(zeros: inputShape)) } }
        if let (module, error) = validator.failure {
            let type = String(describing: Swift.type(of: module))
            let who = names.name(of: module).map { $0.isEmpty ? "the model (\(type))" : "\"\($0)\" (\(type))" } ?? type
            throw StrataError.invalidArgument("validate(inputShape: \(inputShape)): \(who) refuses its input: \(error)")
        }
    }
}

/// Calls each module's own input check, in the mode it was in, before its forward.
private final class InputValidator: ForwardObserver, @unchecked Sendable {
    let modes: [ObjectIdentifier: Bool]
    var failure: (any Module, any Error)?

    init(names: ModuleNames) {
        var modes: [ObjectIdentifier: Bool] = [:]
        for (_, m) in names.modules { modes[ObjectIdentifier(m)] = m.training }
        self.modes = modes
    }

    func observe(_ module: any Module, _ input: Tensor, _ forward: (Tensor) -> Tensor) -> Tensor {
        if failure != nil { return input }
        if let checked = module as? any ValidatesInput {
            let evalMode = module.training
            module.training = modes[ObjectIdentifier(module)] ?? evalMode
            defer { module.training = evalMode }
            do { try checked.validate(inputShape: input.shape) } catch {
                failure = (module, error)
                return input
            }
        }
        return forward(input)
    }
}
