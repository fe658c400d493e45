import StrataCore

/// A layer or a network of layers (PyTorch's `nn.Module`).
///
/// A module owns three kinds of things, each with PyTorch's local names so
/// that dotted keys (`fc1.weight`, `layer1.0.bn1.running_mean`) match
/// PyTorch's `state_dict()`:
/// - `ownParameters`: trainable tensors, the only ones optimisers see.
/// - `ownBuffers`: state that is saved and loaded but never optimised
///   (BatchNorm's running statistics).
/// - `children`: sub-modules.
///
/// **Found by reflection unless listed.** A module that does not implement
/// these lists gets them from its stored properties (`Mirror`, superclass
/// properties first, then declaration order), as PyTorch registers
/// attributes:
/// - a stored `Module` is a child named by the property;
/// - a stored `Tensor` is a parameter, whatever its `requiresGrad` (so
///   freezing a parameter does not change the keys);
/// - a tensor marked `@Buffer` is a buffer, and a tensor listed in an
///   explicit `ownBuffers` is not also a parameter;
/// - an array of modules (`[BasicBlock]`, `[any Module]`) is a child
///   `ModuleList` (keys `name.0`, `name.1`, ...), an array of tensors a
///   `ParameterList`; optionals are unwrapped and `nil` is skipped;
/// - `@Transient` hides a property from reflection (caches, helpers);
///   plain values (numbers, sizes, flags) and other class references are
///   ignored.
/// Keys are the property names in snake case, as a PyTorch user writes
/// them: `runningScale` -> `running_scale`, `layer1` -> `layer1`.
/// Anything reflection cannot name without guessing stops with a message
/// naming the property instead of silently losing a parameter: a module or
/// tensor inside a dictionary, tuple, struct or optional array element, a
/// `lazy` module or tensor, two properties with the same key, a module that
/// contains itself. Then list that module's state explicitly.
///
/// **Explicit lists override.** Implement `ownParameters`, `ownBuffers` or
/// `children` to name things yourself (each list separately; the others
/// stay reflected). Implement them in the class that declares the
/// conformance: Swift dispatches protocol defaults statically, so a list
/// added only in a subclass of a reflected class is not seen. The built-in
/// layers list theirs explicitly (fast, and their keys are fixed).
/// `reflectedParameters`/`reflectedBuffers`/`reflectedChildren` give the
/// reflected lists, to extend rather than replace them.
///
/// **Printing.** `description` (so `print(model)`) is PyTorch's
/// `repr(model)`: one line per module, `Type(extraRepresentation)`, children
/// indented as `(name): ...`. Override `extraRepresentation` (PyTorch's
/// `extra_repr`) to show a layer's configuration. `summary(inputShape:)` is
/// a torchinfo-style table with output shapes and parameter counts.
///
/// `training` is this module's own flag; `train()`/`eval()` set it
/// recursively. There is no global mode.
public protocol Module: AnyObject, CustomStringConvertible {
    /// Computes the output for `input`. Shapes are documented per layer.
    /// Call a module as `module(x)`: that form is seen by tools that watch
    /// a forward pass (`NaNGuard`, `summary`), `forward(x)` is not.
    func forward(_ input: Tensor) -> Tensor
    /// Train mode (true) or eval mode (false) of this module alone.
    var training: Bool { get set }
    /// This module's own trainable tensors, by local name.
    var ownParameters: [(String, Tensor)] { get }
    /// This module's own non-trainable state, by local name.
    var ownBuffers: [(String, Tensor)] { get }
    /// Sub-modules, by local name.
    var children: [(String, any Module)] { get }
    /// The configuration shown in this module's printed line, in PyTorch's
    /// wording (`in_features=4, out_features=2, bias=True`); empty by default.
    var extraRepresentation: String { get }
}

extension Module {
    public var ownParameters: [(String, Tensor)] {
        if self is any ListsOwnState { return [] }
        let buffers = ownBuffers
        return reflectedParameters.filter { p in !buffers.contains { $0.1 === p.1 } }
    }
    public var ownBuffers: [(String, Tensor)] { self is any ListsOwnState ? [] : reflectedBuffers }
    public var children: [(String, any Module)] { self is any ListsOwnState ? [] : reflectedChildren }
    public var extraRepresentation: String { "" }

    /// `forward(input)`, with the module's forward hooks
    /// (`registerForwardHook`) and seen by an active forward observer.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        forwardWithHooks(input) { x in
            guard let observer = ForwardObservation.current else { return forward(x) }
            return observer.observe(self, x) { self.forward($0) }
        }
    }

    /// Every module of the tree in depth-first pre-order with its dotted name
    /// (the root has the empty name). A module reachable by several paths
    /// (a shared block, weight tying) appears once, under its first name, as
    /// in PyTorch's `named_modules()`. Stops with a message if a module
    /// contains itself (a stored reference to an enclosing module).
    public func namedModules() -> [(String, any Module)] {
        withReflectionMemo { namedModulesWalk(removeDuplicates: true) }
    }

    /// The pre-order walk; with `removeDuplicates: false` a shared module
    /// appears under every path (what `stateDict()` needs).
    private func namedModulesWalk(removeDuplicates: Bool) -> [(String, any Module)] {
        var result: [(String, any Module)] = []
        var path: [ObjectIdentifier] = []
        var seen: Set<ObjectIdentifier> = []
        func visit(_ name: String, _ m: any Module) {
            let id = ObjectIdentifier(m)
            strataCheck(
                !path.contains(id),
                "Module tree: \"\(name)\" (\(type(of: m))) is one of its own enclosing modules; a stored "
                    + "reference to a parent makes the tree a cycle: mark it @Transient or list children explicitly")
            if removeDuplicates && !seen.insert(id).inserted { return }
            result.append((name, m))
            path.append(id)
            for (child, sub) in m.children { visit(name.isEmpty ? child : "\(name).\(child)", sub) }
            path.removeLast()
        }
        visit("", self)
        return result
    }

    /// Every parameter of the tree with its PyTorch key (`0.weight`). A
    /// tensor reachable under several keys (tied weights, a shared module)
    /// appears once, under its first key, as in PyTorch's
    /// `named_parameters()`: an optimiser steps it once and
    /// `parameterCount` counts it once.
    public func namedParameters() -> [(String, Tensor)] {
        withReflectionMemo { uniqueTensors(namedModules().flatMap { prefix, m in prefixed(prefix, m.ownParameters) }) }
    }

    /// Every buffer of the tree with its PyTorch key (`1.running_mean`),
    /// each tensor once (as `namedParameters()`).
    public func namedBuffers() -> [(String, Tensor)] {
        withReflectionMemo { uniqueTensors(namedModules().flatMap { prefix, m in prefixed(prefix, m.ownBuffers) }) }
    }

    /// Every parameter of the tree once (by identity), in `namedParameters()`
    /// order, for an optimiser. Builds no key strings: `zeroGrad()` and
    /// optimisers call it every step.
    public func parameters() -> [Tensor] {
        withReflectionMemo {
            var seen: Set<ObjectIdentifier> = []
            var result: [Tensor] = []
            for m in uniqueModules() {
                for (_, p) in m.ownParameters where seen.insert(ObjectIdentifier(p)).inserted { result.append(p) }
            }
            return result
        }
    }

    /// The modules of `namedModules()`, in the same order, without their names.
    private func uniqueModules() -> [any Module] {
        var result: [any Module] = []
        var seen: Set<ObjectIdentifier> = []
        var path: [ObjectIdentifier] = []
        var cycle = false
        func visit(_ m: any Module) {
            let id = ObjectIdentifier(m)
            if path.contains(id) { cycle = true; return }
            if !seen.insert(id).inserted { return }
            result.append(m)
            path.append(id)
            for (_, sub) in m.children where !cycle { visit(sub) }
            path.removeLast()
        }
        visit(self)
        // The named walk stops with the message that names the cycle.
        if cycle { _ = namedModulesWalk(removeDuplicates: true) }
        return result
    }

    /// Parameters and buffers by key, in PyTorch's `state_dict()` order
    /// (per module: parameters, then buffers). Unlike `namedParameters()`,
    /// a shared module or tied tensor is listed under every key it has, as
    /// PyTorch's `state_dict()` does, so checkpoints move both ways.
    public func stateDict() -> [(String, Tensor)] {
        withReflectionMemo {
            namedModulesWalk(removeDuplicates: false).flatMap { prefix, m in prefixed(prefix, m.ownParameters + m.ownBuffers) }
        }
    }

    /// Sets train mode (`true`) or eval mode on this module and all below it.
    public func train(_ mode: Bool = true) {
        withReflectionMemo { for m in uniqueModules() { m.training = mode } }
    }

    /// Sets eval mode on this module and all below it.
    public func eval() { train(false) }

    /// Clears the gradients of every parameter.
    public func zeroGrad() {
        withReflectionMemo {
            for m in uniqueModules() { for (_, p) in m.ownParameters { p.grad = nil } }
        }
    }

    /// Number of trainable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }
}

/// A built-in layer that lists all its state itself: the lists it does not
/// implement are empty, without reflection (so walking a tree of built-in
/// layers costs no `Mirror`). A test checks that reflection would find the
/// same tensors and children for every built-in layer.
protocol ListsOwnState {}

/// `items` with their local names under `prefix` (`prefix.name`).
private func prefixed(_ prefix: String, _ items: [(String, Tensor)]) -> [(String, Tensor)] {
    items.map { (prefix.isEmpty ? $0.0 : "\(prefix).\($0.0)", $0.1) }
}

/// `items` with every tensor after its first occurrence (by identity) removed.
private func uniqueTensors(_ items: [(String, Tensor)]) -> [(String, Tensor)] {
    var seen: Set<ObjectIdentifier> = []
    return items.filter { seen.insert(ObjectIdentifier($0.1)).inserted }
}
