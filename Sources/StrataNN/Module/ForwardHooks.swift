import Foundation
import StrataCore

/// Forward hooks on modules (PyTorch's `register_forward_pre_hook` and
/// `register_forward_hook`): feature extraction, Grad-CAM, debugging.
///
/// A hook runs on every `module(x)` call of the module it is registered on
/// (not on a direct `forward(x)` call), on the thread of that call:
/// - a pre-hook receives `(module, input)` before `forward` and may return
///   a replacement input (nil keeps it);
/// - a hook receives `(module, input, output)` after `forward` and may
///   return a replacement output (nil keeps it). The output is part of the
///   graph: keeping it (or `output.retainsGrad = true`) is how Grad-CAM
///   reads an activation and its gradient.
/// Hooks of one module run in registration order. They live until their
/// handle's `remove()` or until the module is freed; the registry holds the
/// module weakly, so a hook never outlives it or attaches to another module.
extension Module {
    /// Registers `hook(module, input, output)`; see `ForwardHooks`.
    @discardableResult
    public func registerForwardHook(_ hook: @escaping (any Module, Tensor, Tensor) -> Tensor?) -> ModuleHookHandle {
        ModuleHookRegistry.shared.add(to: self, .post(hook))
    }

    /// Registers `hook(module, input)`, run before `forward`; see `ForwardHooks`.
    @discardableResult
    public func registerForwardPreHook(_ hook: @escaping (any Module, Tensor) -> Tensor?) -> ModuleHookHandle {
        ModuleHookRegistry.shared.add(to: self, .pre(hook))
    }
}

/// Removes the hook it was returned for (idempotent).
public final class ModuleHookHandle: @unchecked Sendable {
    let module: ObjectIdentifier
    let id: Int
    init(module: ObjectIdentifier, id: Int) {
        self.module = module
        self.id = id
    }
    /// Unregisters the hook; later calls do nothing.
    public func remove() { ModuleHookRegistry.shared.remove(self) }
}

enum ModuleHook {
    case pre((any Module, Tensor) -> Tensor?)
    case post((any Module, Tensor, Tensor) -> Tensor?)
}

/// The hooks of every module, by identity, behind one lock. `count` lets a
/// call on a tree without hooks skip the lookup.
final class ModuleHookRegistry: @unchecked Sendable {
    static let shared = ModuleHookRegistry()

    private struct Entry {
        weak var module: AnyObject?
        var hooks: [(id: Int, hook: ModuleHook)]
    }
    private let lock = NSLock()
    private var entries: [ObjectIdentifier: Entry] = [:]
    private var nextID = 0
    /// Number of registered hooks (read without the lock as a hint only).
    private(set) var count = 0

    func add(to module: any Module, _ hook: ModuleHook) -> ModuleHookHandle {
        let key = ObjectIdentifier(module)
        lock.lock()
        defer { lock.unlock() }
        purgeFreed()
        nextID += 1
        var entry = entries[key].flatMap { $0.module === module ? $0 : nil } ?? Entry(module: module, hooks: [])
        entry.hooks.append((nextID, hook))
        entries[key] = entry
        count = entries.values.reduce(0) { $0 + $1.hooks.count }
        return ModuleHookHandle(module: key, id: nextID)
    }

    func remove(_ handle: ModuleHookHandle) {
        lock.lock()
        defer { lock.unlock() }
        entries[handle.module]?.hooks.removeAll { $0.id == handle.id }
        if entries[handle.module]?.hooks.isEmpty == true { entries[handle.module] = nil }
        count = entries.values.reduce(0) { $0 + $1.hooks.count }
    }

    /// The hooks of `module` in registration order (empty when it has none).
    func hooks(of module: any Module) -> [ModuleHook] {
        if count == 0 { return [] }
        lock.lock()
        defer { lock.unlock() }
        guard let entry = entries[ObjectIdentifier(module)], entry.module === module else { return [] }
        return entry.hooks.map(\.hook)
    }

    /// Drops the entries of freed modules (their identifiers may be reused).
    private func purgeFreed() {
        entries = entries.filter { $0.value.module != nil }
    }
}

extension Module {
    /// `forward(input)` with this module's pre-hooks and hooks around it.
    func forwardWithHooks(_ input: Tensor, _ forward: (Tensor) -> Tensor) -> Tensor {
        let hooks = ModuleHookRegistry.shared.hooks(of: self)
        if hooks.isEmpty { return forward(input) }
        var x = input
        for case .pre(let pre) in hooks { if let replaced = pre(self, x) { x = replaced } }
        var y = forward(x)
        for case .post(let post) in hooks { if let replaced = post(self, x, y) { y = replaced } }
        return y
    }
}
