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
///   `strata.epoch`, `strata.step`, `strata.learning_rate`,
///   `strata.scheduler.last_epoch`, `strata.rng.<name>` (four hex words per
///   generator), plus caller-provided `extra` entries.
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
    /// The scheduler's `lastEpoch` when saved.
    public var schedulerLastEpoch: Int?
    /// Random-generator positions by name (`RandomGenerator.state`).
    public var generators: [String: [UInt64]]
    /// Free-form metadata (keys must not start with `strata.`).
    public var extra: [String: String]

    /// Captures the current state. Tensors are copied, so later training
    /// does not change the snapshot.
    public init(
        model: any Module, optimizer: (any Optimizer)? = nil, scheduler: (any LRScheduler)? = nil,
        epoch: Int, step: Int, generators: [String: RandomGenerator] = ["global": .global],
        extra: [String: String] = [:]
    ) {
        self.model = model.stateDict().map { ($0.0, $0.1.copy()) }
        self.optimizer = optimizer?.stateDict().map { ($0.0, $0.1.copy()) } ?? []
        self.epoch = epoch
        self.step = step
        learningRate = optimizer?.learningRate
        schedulerLastEpoch = scheduler?.lastEpoch
        self.generators = generators.mapValues(\.state)
        self.extra = extra
    }

    init(model: [(String, Tensor)], optimizer: [(String, Tensor)], epoch: Int, step: Int, learningRate: Float?,
         schedulerLastEpoch: Int?, generators: [String: [UInt64]], extra: [String: String]) {
        self.model = model
        self.optimizer = optimizer
        self.epoch = epoch
        self.step = step
        self.learningRate = learningRate
        self.schedulerLastEpoch = schedulerLastEpoch
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
        if let schedulerLastEpoch { m["strata.scheduler.last_epoch"] = String(schedulerLastEpoch) }
        for (name, s) in generators { m["strata.rng.\(name)"] = s.map { String($0, radix: 16) }.joined(separator: ",") }
        return m
    }

    /// Writes the checkpoint to `path` atomically.
    public func save(to path: String) throws { try save(to: path, beforeRename: nil) }

    func save(to path: String, beforeRename: (() throws -> Void)?) throws {
        let tensors = model.map { ("model.\($0.0)", $0.1) } + optimizer.map { ("optimizer.\($0.0)", $0.1) }
        try AtomicFile.write(SafeTensors.encode(tensors, metadata: metadata), to: path, beforeRename: beforeRename)
    }

    /// Reads and validates a checkpoint file (format, metadata, prefixes).
    public static func load(from path: String) throws -> Checkpoint {
        let file = try SafeTensors.read(path)
        func fail(_ reason: String) -> StrataError { .io(path: path, reason: reason) }
        let meta = file.metadata
        guard meta["strata.checkpoint"] == "1" else {
            throw fail("not a Strata checkpoint (metadata strata.checkpoint = \(meta["strata.checkpoint"] ?? "absent"), expected 1)")
        }
        func int(_ key: String) throws -> Int? {
            guard let s = meta[key] else { return nil }
            guard let v = Int(s) else { throw fail("metadata \(key) = \"\(s)\" is not an integer") }
            return v
        }
        guard let epoch = try int("strata.epoch"), let step = try int("strata.step") else {
            throw fail("metadata strata.epoch or strata.step is missing")
        }
        var lr: Float?
        if let s = meta["strata.learning_rate"] {
            guard let v = Float(s) else { throw fail("metadata strata.learning_rate = \"\(s)\" is not a number") }
            lr = v
        }
        var generators: [String: [UInt64]] = [:]
        var extra: [String: String] = [:]
        for (k, v) in meta {
            if k.hasPrefix("strata.rng.") {
                let words = v.split(separator: ",").compactMap { UInt64($0, radix: 16) }
                guard words.count == 4, words.contains(where: { $0 != 0 }) else {
                    throw fail("metadata \(k) = \"\(v)\" is not four non-zero hex words")
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
        return Checkpoint(model: model, optimizer: optimizer, epoch: epoch, step: step, learningRate: lr,
                          schedulerLastEpoch: try int("strata.scheduler.last_epoch"),
                          generators: generators, extra: extra)
    }

    /// Restores the snapshot into live objects. Everything is validated
    /// first (model keys and shapes, optimiser state, generator names); if
    /// anything throws, nothing has changed.
    public func restore(
        model target: any Module, optimizer opt: (any Optimizer)? = nil, scheduler: (any LRScheduler)? = nil,
        generators targets: [String: RandomGenerator] = ["global": .global], strict: Bool = true
    ) throws {
        let plan = try target.planStateDictLoad(model, strict: strict, source: "checkpoint model")
        for name in targets.keys where generators[name] == nil {
            throw StrataError.checkpoint("checkpoint has no state for random generator \"\(name)\"")
        }
        if scheduler != nil && schedulerLastEpoch == nil {
            throw StrataError.checkpoint("checkpoint has no scheduler position (strata.scheduler.last_epoch)")
        }
        if let opt {
            // Atomic on its own: throws before changing anything.
            try opt.loadStateDict(Dictionary(optimizer, uniquingKeysWith: { a, _ in a }))
            if let learningRate { opt.learningRate = learningRate }
        }
        for (dst, src) in plan.copies { dst.assign(src) }
        for (name, g) in targets { if let s = generators[name] { g.state = s } }
        if let scheduler, let last = schedulerLastEpoch { scheduler.lastEpoch = last }
    }
}
