import StrataCore

/// A set of parameters with its own hyperparameters (one entry of
/// PyTorch's `optimizer.param_groups`). An option left nil takes the value
/// given to the optimiser's constructor, as PyTorch's `defaults` do; after
/// construction, `optimizer.paramGroups` holds every option the optimiser
/// uses filled in, and setting an option it does not use (betas on SGD) is
/// an error.
///
///     let opt = try SGD(
///         groups: [ParameterGroup(backbone.parameters(), learningRate: 0.01),
///                  ParameterGroup(head.parameters())],
///         learningRate: 0.1, momentum: 0.9)
public struct ParameterGroup {
    /// The tensors of this group; an optimiser's state index `i` counts
    /// parameters across groups in order, as PyTorch's `state_dict()` does.
    public var parameters: [Tensor]
    /// `lr`.
    public var learningRate: Float?
    /// `weight_decay`.
    public var weightDecay: Float?
    /// `momentum` (SGD, RMSprop).
    public var momentum: Float?
    /// `dampening` (SGD).
    public var dampening: Float?
    /// `betas` (Adam, AdamW).
    public var betas: (Float, Float)?
    /// `eps` (Adam, AdamW, RMSprop, Adagrad).
    public var epsilon: Float?
    /// `alpha`, the smoothing constant (RMSprop).
    public var alpha: Float?
    /// `lr_decay` (Adagrad).
    public var lrDecay: Float?
    /// The rate before any schedule changed it (PyTorch's `initial_lr`); the
    /// first scheduler built on the optimiser sets it, later ones scale it.
    public package(set) var initialLearningRate: Float?

    public init(
        _ parameters: [Tensor], learningRate: Float? = nil, weightDecay: Float? = nil, momentum: Float? = nil,
        dampening: Float? = nil, betas: (Float, Float)? = nil, epsilon: Float? = nil, alpha: Float? = nil,
        lrDecay: Float? = nil
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.dampening = dampening
        self.betas = betas
        self.epsilon = epsilon
        self.alpha = alpha
        self.lrDecay = lrDecay
    }

    /// The options that are set, under PyTorch's names (`betas` as `beta1`
    /// and `beta2`), in a fixed order. Used by checkpoints.
    package var options: [(String, Float)] {
        var o: [(String, Float)] = []
        if let learningRate { o.append(("lr", learningRate)) }
        if let initialLearningRate { o.append(("initial_lr", initialLearningRate)) }
        if let weightDecay { o.append(("weight_decay", weightDecay)) }
        if let momentum { o.append(("momentum", momentum)) }
        if let dampening { o.append(("dampening", dampening)) }
        if let betas { o += [("beta1", betas.0), ("beta2", betas.1)] }
        if let epsilon { o.append(("eps", epsilon)) }
        if let alpha { o.append(("alpha", alpha)) }
        if let lrDecay { o.append(("lr_decay", lrDecay)) }
        return o
    }

    /// Every name `options` can hold.
    package static let optionNames: Set<String> = [
        "lr", "initial_lr", "weight_decay", "momentum", "dampening", "beta1", "beta2", "eps", "alpha", "lr_decay",
    ]

    /// Sets the option `name` (one of `optionNames`); `beta1`/`beta2` set one
    /// half of `betas`.
    package mutating func setOption(_ name: String, _ value: Float) {
        switch name {
        case "lr": learningRate = value
        case "initial_lr": initialLearningRate = value
        case "weight_decay": weightDecay = value
        case "momentum": momentum = value
        case "dampening": dampening = value
        case "beta1": betas = (value, betas?.1 ?? 0)
        case "beta2": betas = (betas?.0 ?? 0, value)
        case "eps": epsilon = value
        case "alpha": alpha = value
        case "lr_decay": lrDecay = value
        default: strataFatal("ParameterGroup: unknown option \(name)")
        }
    }

    /// The first of the options `names` (PyTorch's names) that is set and
    /// negative or NaN, as a message; nil when all are >= 0.
    func negativeOption(_ names: [String]) -> String? {
        for (name, v) in options where names.contains(name) && !(v >= 0) { return "\(name) must be >= 0, got \(v)" }
        return nil
    }

    /// This group with every nil option that `defaults` sets taken from it.
    func filled(from defaults: ParameterGroup) -> ParameterGroup {
        var g = self
        g.learningRate = g.learningRate ?? defaults.learningRate
        g.weightDecay = g.weightDecay ?? defaults.weightDecay
        g.momentum = g.momentum ?? defaults.momentum
        g.dampening = g.dampening ?? defaults.dampening
        g.betas = g.betas ?? defaults.betas
        g.epsilon = g.epsilon ?? defaults.epsilon
        g.alpha = g.alpha ?? defaults.alpha
        g.lrDecay = g.lrDecay ?? defaults.lrDecay
        return g
    }
}

/// Fills `groups` from `defaults` and checks them: no option the optimiser
/// does not use (one `defaults` leaves nil), no parameter twice, each group
/// valid by `validate`. Errors are `StrataError.invalidArgument` naming the
/// optimiser and the group.
func resolveGroups(
    _ groups: [ParameterGroup], defaults: ParameterGroup, optimizer: String,
    validate: (ParameterGroup) -> String?
) throws -> [ParameterGroup] {
    guard !groups.isEmpty else { throw StrataError.invalidArgument("\(optimizer): got no parameter groups") }
    let used = Set(defaults.options.map(\.0))
    var owner: [ObjectIdentifier: (group: Int, index: Int)] = [:]
    var resolved: [ParameterGroup] = []
    for (gi, group) in groups.enumerated() {
        if let extra = group.options.map(\.0).first(where: { !used.contains($0) }) {
            throw StrataError.invalidArgument("\(optimizer): parameter group \(gi) sets \(extra), which \(optimizer) does not use")
        }
        for (pi, p) in group.parameters.enumerated() {
            if let first = owner.updateValue((gi, pi), forKey: ObjectIdentifier(p)) {
                throw StrataError.invalidArgument(
                    first.group == gi
                        ? "\(optimizer): parameter group \(gi) lists a parameter twice (at \(first.index) and \(pi))"
                        : "\(optimizer): some parameters appear in more than one parameter group "
                            + "(group \(first.group) at \(first.index) and group \(gi) at \(pi))")
            }
        }
        let g = group.filled(from: defaults)
        if let problem = validate(g) { throw StrataError.invalidArgument("\(optimizer): parameter group \(gi): \(problem)") }
        resolved.append(g)
    }
    return resolved
}

/// `resolveGroups` for the single-list constructors, where bad arguments
/// are programming errors.
func resolveOrStop(
    _ groups: [ParameterGroup], defaults: ParameterGroup, optimizer: String,
    validate: (ParameterGroup) -> String?
) -> [ParameterGroup] {
    strataTry { try resolveGroups(groups, defaults: defaults, optimizer: optimizer, validate: validate) }
}

/// Checks a replacement of `paramGroups`: the same parameters in the same
/// groups, the same options set, valid values.
func checkedReplacement(
    of old: [ParameterGroup], with new: [ParameterGroup], optimizer: String, validate: (ParameterGroup) -> String?
) -> [ParameterGroup] {
    strataCheck(new.count == old.count, "\(optimizer).paramGroups: has \(old.count) groups; cannot set \(new.count)")
    for (i, (a, b)) in zip(old, new).enumerated() {
        strataCheck(
            a.parameters.count == b.parameters.count && zip(a.parameters, b.parameters).allSatisfy { $0 === $1 },
            "\(optimizer).paramGroups: group \(i)'s parameters cannot change (build a new optimiser)")
        strataCheck(
            a.options.map(\.0).filter { $0 != "initial_lr" } == b.options.map(\.0).filter { $0 != "initial_lr" },
            "\(optimizer).paramGroups: group \(i) must keep the options \(a.options.map(\.0)); got \(b.options.map(\.0))")
        if let problem = validate(b) { strataFatal("\(optimizer).paramGroups: group \(i): \(problem)") }
    }
    return new
}

extension Module {
    /// Splits the parameters into two groups for the usual recipe "no weight
    /// decay on normalisation layers and biases": the first group keeps the
    /// optimiser's weight decay, the second (parameters for which `exclude`
    /// is true, given the parameter's own key such as `weight` or `bias`, its
    /// full key such as `0.bias`, and the module holding it) has weight
    /// decay 0. The default excludes every parameter of a `BatchNormBase`
    /// (BatchNorm1d/2d) and every key named `bias`.
    ///
    ///     let opt = try SGD(groups: model.weightDecayGroups(), learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
    ///
    /// Each parameter appears once (tied weights under their first key, as
    /// in `namedParameters()`); an empty group is left out.
    public func weightDecayGroups(
        noWeightDecayOn exclude: (_ name: String, _ key: String, _ module: any Module) -> Bool = { name, _, module in
            module is BatchNormBase || name == "bias"
        }
    ) -> [ParameterGroup] {
        var decay: [Tensor] = [], noDecay: [Tensor] = []
        var seen: Set<ObjectIdentifier> = []
        for (prefix, m) in namedModules() {
            for (name, p) in m.ownParameters where seen.insert(ObjectIdentifier(p)).inserted {
                let key = prefix.isEmpty ? name : "\(prefix).\(name)"
                if exclude(name, key, m) { noDecay.append(p) } else { decay.append(p) }
            }
        }
        var groups: [ParameterGroup] = []
        if !decay.isEmpty { groups.append(ParameterGroup(decay)) }
        if !noDecay.isEmpty { groups.append(ParameterGroup(noDecay, weightDecay: 0)) }
        return groups
    }
}
