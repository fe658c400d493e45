import StrataCore
import StrataNN

/// Everything needed to resume training exactly: model parameters and
/// buffers, optimiser state, learning rate and scheduler position,
/// epoch/step counters and random-generator positions.
///
/// File layout (one safetensors file, written atomically):
/// - `model.<key>`: the module's `stateDict()` under PyTorch keys, so
///   `{k[6:]: v for k, v in load_file(p).items() if k.startswith("model.")}`
///   loads into the equivalent PyTorch model;
/// - `optimizer.<key>`: the optimiser's `stateDict()` (`0.momentum_buffer`,
///   `0.exp_avg`, ...);
/// - `__metadata__`: `format = pt`, `strata.checkpoint = 1`,
///   `strata.epoch`, `strata.step`; with an optimiser `strata.optimizer`
///   (its type name), `strata.learning_rate` (the first group's),
///   `strata.optimizer.groups` (the number of parameter groups) and per
///   group `strata.optimizer.group.<i>.params` (its parameter count) and
///   `strata.optimizer.group.<i>.<option>` under PyTorch's names (`lr`,
///   `initial_lr`, `weight_decay`, `momentum`, `beta1`, ...); with a
///   scheduler `strata.scheduler` (its type name) and
///   `strata.scheduler.<key>` for its state (`last_epoch`, `best`,
///   `children.0.last_epoch`, ...); `strata.rng.<name>` (four hex words per
///   generator), plus caller-provided `extra` entries.
///
/// Loading is strict: every field a save writes must be present and in
/// range (counters whole numbers >= 0, the rate finite and >= 0, generator
/// states exactly four hex words), and an unknown `strata.` key is an error.
///
/// `Module.saveSafetensors` writes a model-only file with bare PyTorch keys
/// for interchange; use `Checkpoint` for resuming.
public struct Checkpoint {
    /// Model tensors by PyTorch key (without the `model.` prefix).
    public var model: [(String, Tensor)]
    /// Optimiser state by key (without the `optimizer.` prefix).
    public var optimizer: [(String, Tensor)]
    /// Epochs completed (or the epoch to resume at; the caller's convention).
    public var epoch: Int
    /// Optimiser steps taken.
    public var step: Int
    /// The optimiser's learning rate when saved.
    public var learningRate: Float?
    /// The optimiser's type name when saved (`SGD`, `Adam`, `AdamW`).
    public var optimizerType: String?
    /// Each parameter group's size and options when saved (empty for a
    /// checkpoint without an optimiser, or from before parameter groups).
    public var optimizerGroups: [SavedParameterGroup]
    /// The scheduler's type name when saved (nil in files from before it was written).
    public var schedulerType: String?
    /// The scheduler's `schedulerState()` when saved (empty without one).
    public var schedulerState: [String: Double]
    /// The scheduler's `last_epoch` when saved.
    public var schedulerLastEpoch: Int? {
        get { schedulerState["last_epoch"].map { Int($0) } }
        set { schedulerState["last_epoch"] = newValue.map(Double.init) }
    }
    /// Random-generator positions by name (`RandomGenerator.state`).
    public var generators: [String: [UInt64]]
    /// Free-form metadata (keys must not start with `strata.`).
    public var extra: [String: String]

    /// Captures the current state. Tensors are copied, so later training
    /// does not change the snapshot.
    public init(
        model: any Module, optimizer: (any Optimizer)? = nil, scheduler: (any CheckpointableScheduler)? = nil,
        epoch: Int, step: Int, generators: [String: RandomGenerator] = ["global": .global],
        extra: [String: String] = [:]
    ) {
        self.model = model.stateDict().map { ($0.0, $0.1.copy()) }
        self.optimizer = optimizer?.stateDict().map { ($0.0, $0.1.copy()) } ?? []
        self.epoch = epoch
        self.step = step
        learningRate = optimizer?.learningRate
        optimizerType = optimizer.map { String(describing: type(of: $0)) }
        optimizerGroups =
            optimizer?.paramGroups.map {
                SavedParameterGroup(parameterCount: $0.parameters.count, options: Dictionary(uniqueKeysWithValues: $0.options))
            } ?? []
        schedulerType = scheduler.map { String(describing: type(of: $0)) }
        schedulerState = Dictionary(uniqueKeysWithValues: scheduler?.schedulerState() ?? [])
        self.generators = generators.mapValues(\.state)
        self.extra = extra
    }

    init(
        model: [(String, Tensor)], optimizer: [(String, Tensor)], epoch: Int, step: Int, learningRate: Float?,
        optimizerType: String?, optimizerGroups: [SavedParameterGroup], schedulerType: String?,
        schedulerState: [String: Double], generators: [String: [UInt64]], extra: [String: String]
    ) {
        self.model = model
        self.optimizer = optimizer
        self.epoch = epoch
        self.step = step
        self.learningRate = learningRate
        self.optimizerType = optimizerType
        self.optimizerGroups = optimizerGroups
        self.schedulerType = schedulerType
        self.schedulerState = schedulerState
        self.generators = generators
        self.extra = extra
    }

    /// The metadata map written to the file.
    var metadata: [String: String] {
        var m = extra.filter { !$0.key.hasPrefix("strata.") }
        m["format"] = "pt"
        m["strata.checkpoint"] = "1"
        m["strata.epoch"] = String(epoch)
        m["strata.step"] = String(step)
        if let learningRate { m["strata.learning_rate"] = "\(learningRate)" }
        if let optimizerType { m["strata.optimizer"] = optimizerType }
        if !optimizerGroups.isEmpty { m["strata.optimizer.groups"] = String(optimizerGroups.count) }
        for (i, g) in optimizerGroups.enumerated() {
            m["strata.optimizer.group.\(i).params"] = String(g.parameterCount)
            for (name, v) in g.options { m["strata.optimizer.group.\(i).\(name)"] = "\(v)" }
        }
        if let schedulerType { m["strata.scheduler"] = schedulerType }
        for (k, v) in schedulerState {
            m["strata.scheduler.\(k)"] = isSchedulerCounter(k) && v >= 0 && v == v.rounded() && v < 1e15 ? String(Int(v)) : "\(v)"
        }
        for (name, s) in generators { m["strata.rng.\(name)"] = s.map { String($0, radix: 16) }.joined(separator: ",") }
        return m
    }

    /// Writes the checkpoint to `path` atomically.
    public func save(to path: String) throws { try save(to: path, beforeRename: nil) }

    func save(to path: String, beforeRename: (() throws -> Void)?) throws {
        // What `load` would reject is refused here, so every file written loads.
        guard epoch >= 0, step >= 0, schedulerState.allSatisfy({ !isSchedulerCounter($0.key) || $0.value >= 0 }) else {
            throw StrataError.invalidArgument(
                "Checkpoint.save: epoch \(epoch), step \(step) and scheduler position \(schedulerLastEpoch ?? 0) must be >= 0")
        }
        if let learningRate, !(learningRate.isFinite && learningRate >= 0) {
            throw StrataError.invalidArgument("Checkpoint.save: learning rate \(learningRate) is not finite and >= 0")
        }
        if let bad = optimizerGroups.flatMap(\.options).first(where: { !$0.value.isFinite }) {
            throw StrataError.invalidArgument("Checkpoint.save: optimizer option \(bad.key) = \(bad.value) is not finite")
        }
        let tensors = model.map { ("model.\($0.0)", $0.1) } + optimizer.map { ("optimizer.\($0.0)", $0.1) }
        try AtomicFile.write(SafeTensors.encode(tensors, metadata: metadata), to: path, beforeRename: beforeRename)
    }

    /// The `strata.` metadata keys a checkpoint may hold besides `strata.rng.<name>`.
    static let knownKeys: Set<String> = [
        "strata.checkpoint", "strata.epoch", "strata.step", "strata.learning_rate", "strata.optimizer",
        "strata.optimizer.groups", "strata.scheduler",
    ]

    /// Reads and validates a checkpoint file (format, metadata, prefixes).
    /// Throws `StrataError.io` naming the field for a missing, malformed or
    /// out-of-range metadata entry or an unknown `strata.` key.
    public static func load(from path: String) throws -> Checkpoint {
        let file = try SafeTensors.read(path)
        func fail(_ reason: String) -> StrataError { .io(path: path, reason: reason) }
        let meta = file.metadata
        guard meta["strata.checkpoint"] == "1" else {
            throw fail("not a Strata checkpoint (metadata strata.checkpoint = \(meta["strata.checkpoint"] ?? "absent"), expected 1)")
        }
        guard meta["format"] == "pt" else { throw fail("metadata format = \(meta["format"] ?? "absent"), expected pt") }
        let prefixes = ["strata.rng.", "strata.optimizer.group.", "strata.scheduler."]
        if let k = meta.keys.sorted().first(where: { k in
            k.hasPrefix("strata.") && !knownKeys.contains(k) && !prefixes.contains { k.hasPrefix($0) }
        }) {
            throw fail("unknown metadata key \(k)")
        }
        /// A whole number >= 0 written in decimal digits.
        func count(_ key: String) throws -> Int? {
            guard let s = meta[key] else { return nil }
            guard !s.isEmpty, s.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let v = Int(s) else {
                throw fail("metadata \(key) = \"\(s.prefix(40))\" is not a whole number >= 0")
            }
            return v
        }
        guard let epoch = try count("strata.epoch") else { throw fail("metadata strata.epoch is missing") }
        guard let step = try count("strata.step") else { throw fail("metadata strata.step is missing") }
        var lr: Float?
        if let s = meta["strata.learning_rate"] {
            guard let v = Float(s), v.isFinite, v >= 0 else {
                throw fail("metadata strata.learning_rate = \"\(s.prefix(40))\" is not a finite number >= 0")
            }
            lr = v
        }
        let optimizerType = meta["strata.optimizer"]
        guard (lr == nil) == (optimizerType == nil) else {
            throw fail(
                "metadata has \(lr == nil ? "strata.optimizer without strata.learning_rate" : "strata.learning_rate without strata.optimizer")"
            )
        }
        var generators: [String: [UInt64]] = [:]
        var extra: [String: String] = [:]
        for (k, v) in meta {
            if k.hasPrefix("strata.rng.") {
                guard let words = parseGeneratorState(v) else {
                    throw fail("metadata \(k) = \"\(v.prefix(80))\" is not four hex words, not all zero")
                }
                generators[String(k.dropFirst("strata.rng.".count))] = words
            } else if !k.hasPrefix("strata.") && k != "format" {
                extra[k] = v
            }
        }
        var model: [(String, Tensor)] = [], optimizer: [(String, Tensor)] = []
        for (name, t) in file.tensors() {
            if name.hasPrefix("model.") {
                model.append((String(name.dropFirst(6)), t))
            } else if name.hasPrefix("optimizer.") {
                optimizer.append((String(name.dropFirst(10)), t))
            } else {
                throw fail("unexpected key \"\(name)\" (checkpoint keys start with model. or optimizer.)")
            }
        }
        let groups = try parseGroups(meta, fail: fail)
        if !groups.isEmpty && optimizerType == nil { throw fail("metadata has strata.optimizer.groups without strata.optimizer") }
        var schedulerState: [String: Double] = [:]
        for (k, v) in meta where k.hasPrefix("strata.scheduler.") {
            let key = String(k.dropFirst("strata.scheduler.".count))
            if isSchedulerCounter(key) {
                schedulerState[key] = try count(k).map(Double.init)
            } else {
                guard let d = Double(v), !d.isNaN else { throw fail("metadata \(k) = \"\(v.prefix(40))\" is not a number") }
                schedulerState[key] = d
            }
        }
        if meta["strata.scheduler"] != nil && schedulerState["last_epoch"] == nil {
            throw fail("metadata strata.scheduler.last_epoch is missing")
        }
        if meta["strata.scheduler"] == nil, let k = schedulerState.keys.sorted().first(where: { $0 != "last_epoch" }) {
            throw fail("metadata strata.scheduler.\(k) without strata.scheduler (the scheduler type)")
        }
        return Checkpoint(
            model: model, optimizer: optimizer, epoch: epoch, step: step, learningRate: lr,
            optimizerType: optimizerType, optimizerGroups: groups, schedulerType: meta["strata.scheduler"],
            schedulerState: schedulerState, generators: generators, extra: extra)
    }

    /// The `strata.optimizer.group.<i>.` entries: `strata.optimizer.groups`
    /// of them, each with `params` and options of known names, all finite.
    static func parseGroups(_ meta: [String: String], fail: (String) -> StrataError) throws -> [SavedParameterGroup] {
        let prefix = "strata.optimizer.group."
        let keys = meta.keys.filter { $0.hasPrefix(prefix) }
        guard let text = meta["strata.optimizer.groups"] else {
            if let k = keys.sorted().first { throw fail("metadata \(k) without strata.optimizer.groups") }
            return []
        }
        guard let n = Int(text), n >= 1, n <= 10_000, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw fail("metadata strata.optimizer.groups = \"\(text.prefix(40))\" is not a whole number in 1...10000")
        }
        var counts = [Int?](repeating: nil, count: n)
        var options = [[String: Float]](repeating: [:], count: n)
        for k in keys.sorted() {
            let rest = k.dropFirst(prefix.count).split(separator: ".", maxSplits: 1).map(String.init)
            guard rest.count == 2, let i = Int(rest[0]), String(i) == rest[0], (0..<n).contains(i), let v = meta[k] else {
                throw fail("metadata \(k) does not name one of the \(n) parameter groups")
            }
            if rest[1] == "params" {
                guard let c = Int(v), c >= 0, String(c) == v else {
                    throw fail("metadata \(k) = \"\(v.prefix(40))\" is not a whole number >= 0")
                }
                counts[i] = c
            } else {
                guard ParameterGroup.optionNames.contains(rest[1]) else { throw fail("metadata \(k): unknown optimizer option \(rest[1])") }
                guard let f = Float(v), f.isFinite else { throw fail("metadata \(k) = \"\(v.prefix(40))\" is not a finite number") }
                options[i][rest[1]] = f
            }
        }
        return try (0..<n).map { i in
            guard let c = counts[i] else { throw fail("metadata \(prefix)\(i).params is missing") }
            return SavedParameterGroup(parameterCount: c, options: options[i])
        }
    }

    /// Four comma-separated words of 1 to 16 hex digits, not all zero; nil otherwise.
    static func parseGeneratorState(_ text: String) -> [UInt64]? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var words: [UInt64] = []
        for p in parts {
            guard (1...16).contains(p.utf8.count), p.allSatisfy(\.isHexDigit), let w = UInt64(p, radix: 16) else { return nil }
            words.append(w)
        }
        return words.contains(where: { $0 != 0 }) ? words : nil
    }

    /// Restores the snapshot into live objects. Everything is validated
    /// first (model keys and shapes, optimiser type and state, generator
    /// names); if anything throws, nothing has changed.
    ///
    /// `strict` applies to the model and the optimiser: missing, unknown or
    /// misshapen keys are errors. With `strict: false` missing and unknown
    /// keys are skipped and listed in the returned report. Restoring an
    /// optimiser needs a checkpoint saved with one of the same type.
    @discardableResult
    public func restore(
        model target: any Module, optimizer opt: (any Optimizer)? = nil, scheduler: (any CheckpointableScheduler)? = nil,
        generators targets: [String: RandomGenerator] = ["global": .global], strict: Bool = true
    ) throws -> CheckpointRestoreReport {
        let plan = try target.planStateDictLoad(model, strict: strict, source: "checkpoint model")
        for name in targets.keys where generators[name] == nil {
            throw StrataError.checkpoint("checkpoint has no state for random generator \"\(name)\"")
        }
        if let scheduler {
            if schedulerLastEpoch == nil {
                throw StrataError.checkpoint("checkpoint has no scheduler position (strata.scheduler.last_epoch)")
            }
            let live = String(describing: type(of: scheduler))
            if let schedulerType, schedulerType != live {
                throw StrataError.checkpoint("checkpoint holds \(schedulerType) state; cannot restore it into \(live)")
            }
            if schedulerType != nil { try validateSchedulerState(schedulerState, for: scheduler) }
        }
        var optimizerReport: OptimizerStateReport?
        if let opt {
            let live = String(describing: type(of: opt))
            guard let saved = optimizerType, let learningRate else {
                throw StrataError.checkpoint("checkpoint was saved without an optimizer; cannot restore \(live) state")
            }
            guard saved == live else {
                throw StrataError.checkpoint("checkpoint holds \(saved) state; cannot restore it into \(live)")
            }
            var state: [String: Tensor] = [:]
            for (k, t) in optimizer {
                guard state.updateValue(t, forKey: k) == nil else {
                    throw StrataError.checkpoint("optimizer state has duplicate key \"\(k)\"")
                }
            }
            let groups = try restoredGroups(for: opt)
            // Atomic on its own: throws before changing anything.
            optimizerReport = try opt.loadStateDict(state, strict: strict)
            if let groups { opt.paramGroups = groups } else { opt.learningRate = learningRate }
        }
        for (dst, src) in plan.copies { dst.assign(src) }
        for (name, g) in targets { if let s = generators[name] { g.state = s } }
        if let scheduler {
            if schedulerType != nil {
                try scheduler.loadSchedulerState(schedulerState)  // validated above: does not throw
            } else if let last = schedulerLastEpoch, let closedForm = scheduler as? any LRScheduler {
                closedForm.lastEpoch = last  // a file from before strata.scheduler was written
            }
        }
        return CheckpointRestoreReport(model: plan.report, optimizer: optimizerReport)
    }
}

extension Checkpoint {
    /// `opt`'s groups with the saved options, checked against it: the same
    /// number of groups and parameters per group, the same option names,
    /// valid values. Nil for a file without group metadata.
    func restoredGroups(for opt: any Optimizer) throws -> [ParameterGroup]? {
        if optimizerGroups.isEmpty { return nil }
        var live = opt.paramGroups
        guard live.count == optimizerGroups.count else {
            throw StrataError.checkpoint(
                "checkpoint optimizer has \(optimizerGroups.count) parameter groups; the optimizer has \(live.count)")
        }
        for (i, saved) in optimizerGroups.enumerated() {
            guard saved.parameterCount == live[i].parameters.count else {
                throw StrataError.checkpoint(
                    "checkpoint parameter group \(i) has \(saved.parameterCount) parameters; the optimizer's has \(live[i].parameters.count)"
                )
            }
            let want = Set(live[i].options.map(\.0)).subtracting(["initial_lr"])
            let have = Set(saved.options.keys).subtracting(["initial_lr"])
            guard want == have else {
                throw StrataError.checkpoint(
                    "checkpoint parameter group \(i) has options \(have.sorted()); \(type(of: opt)) uses \(want.sorted())")
            }
            for (name, v) in saved.options { live[i].setOption(name, v) }
            if let problem = opt.problem(with: live[i]) {
                throw StrataError.checkpoint("checkpoint parameter group \(i): \(problem)")
            }
        }
        return live
    }
}

/// One parameter group as a checkpoint records it.
public struct SavedParameterGroup: Equatable, Sendable {
    /// Number of parameters in the group.
    public var parameterCount: Int
    /// Options under PyTorch's names (`lr`, `weight_decay`, `beta1`, ...).
    public var options: [String: Float]

    public init(parameterCount: Int, options: [String: Float]) {
        self.parameterCount = parameterCount
        self.options = options
    }
}

/// What a non-strict `Checkpoint.restore` skipped (empty lists when strict).
public struct CheckpointRestoreReport: Equatable, Sendable {
    /// Model keys missing from or unexpected in the checkpoint.
    public let model: StateDictReport
    /// Optimiser keys skipped, when an optimiser was restored.
    public let optimizer: OptimizerStateReport?
}
