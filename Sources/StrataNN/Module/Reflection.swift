import Foundation
import StrataCore

/// Module reflection: a module's parameters, buffers and children found
/// from its stored properties (the rules are in `Module`'s doc comment).

/// Marks a stored tensor as a buffer: saved and loaded with the state dict,
/// never optimised (PyTorch's `register_buffer`).
///
///     @Buffer var runningScale = Tensor.ones([4])    // key "running_scale"
@propertyWrapper
public struct Buffer {
    public var wrappedValue: Tensor
    public init(wrappedValue: Tensor) { self.wrappedValue = wrappedValue }
}

/// Hides a stored property from module reflection: caches, helpers, a
/// reference to a parent. Not saved, not optimised, not a child.
@propertyWrapper
public struct Transient<Value> {
    public var wrappedValue: Value
    public init(wrappedValue: Value) { self.wrappedValue = wrappedValue }
}

/// Type-level probes: what an optional or an array holds, also when empty or nil.
private protocol OptionalProbe { static var wrappedType: Any.Type { get } }
extension Optional: OptionalProbe { fileprivate static var wrappedType: Any.Type { Wrapped.self } }
private protocol ArrayProbe { static var elementType: Any.Type { get } }
extension Array: ArrayProbe { fileprivate static var elementType: Any.Type { Element.self } }
private protocol TransientProbe {}
extension Transient: TransientProbe {}

/// What reflection found in one module's stored properties.
struct ReflectedState {
    var parameters: [(String, Tensor)] = []
    var buffers: [(String, Tensor)] = []
    var children: [(String, any Module)] = []
}

/// The reflected states of one tree walk (`namedModules()`, `stateDict()`,
/// ...), so each module is reflected once per walk rather than once per
/// list. Lives only while the walk runs, so module identities are stable.
final class ReflectionMemo: @unchecked Sendable {
    @TaskLocal static var current: ReflectionMemo?
    var states: [ObjectIdentifier: ReflectedState] = [:]
}

/// Runs one tree walk with a reflection memo (reusing an enclosing one).
func withReflectionMemo<R>(_ body: () -> R) -> R {
    if ReflectionMemo.current != nil { return body() }
    return ReflectionMemo.$current.withValue(ReflectionMemo()) { body() }
}

/// `reflectState(of:)`, memoised for the current walk; traps on a state
/// that cannot be named.
private func memoisedState(of module: any Module) -> ReflectedState {
    guard let memo = ReflectionMemo.current else { return strataTry { try reflectState(of: module) } }
    if let s = memo.states[ObjectIdentifier(module)] { return s }
    let s = strataTry { try reflectState(of: module) }
    memo.states[ObjectIdentifier(module)] = s
    return s
}

extension Module {
    /// Parameters found by reflection (stored tensors, `[Tensor]` excluded:
    /// those are `ParameterList` children). `ownParameters`' default also
    /// drops any tensor listed in `ownBuffers`.
    public var reflectedParameters: [(String, Tensor)] { memoisedState(of: self).parameters }
    /// Buffers found by reflection (`@Buffer` properties).
    public var reflectedBuffers: [(String, Tensor)] { memoisedState(of: self).buffers }
    /// Children found by reflection (stored modules, arrays of modules).
    public var reflectedChildren: [(String, any Module)] { memoisedState(of: self).children }
}

/// Walks `module`'s stored properties (superclasses first); throws a message
/// naming the property when its state cannot be named without guessing.
func reflectState(of module: any Module) throws -> ReflectedState {
    var mirrors: [Mirror] = []
    var mirror: Mirror? = Mirror(reflecting: module)
    while let m = mirror {
        mirrors.append(m)
        mirror = m.superclassMirror
    }
    let fields = mirrors.reversed().flatMap { $0.children.map { ($0.label ?? "", $0.value) } }
    let keys = KeyPlans.shared.keys(for: type(of: module), fields)
    let owner = String(describing: type(of: module))
    var state = ReflectedState()
    for ((label, value), key) in zip(fields, keys) {
        try reflect(label: label, key: key, value: value, owner: owner, into: &state)
    }
    let all = state.parameters.map(\.0) + state.buffers.map(\.0) + state.children.map(\.0)
    if Set(all).count != all.count, let key = all.first(where: { k in all.filter { $0 == k }.count > 1 }) {
        throw StrataError.invalidArgument(
            "\(owner): two stored properties have the key \"\(key)\"; rename one or list the state explicitly")
    }
    return state
}

/// The PyTorch key of each stored property of a module class, in walk
/// order, computed once per class (a class's property labels never change).
private final class KeyPlans: @unchecked Sendable {
    static let shared = KeyPlans()
    private let lock = NSLock()
    private var plans: [ObjectIdentifier: [String]] = [:]

    func keys(for type: Any.Type, _ fields: [(String, Any)]) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        if let keys = plans[ObjectIdentifier(type)], keys.count == fields.count { return keys }
        // A property wrapper's storage is `_name`: a buffer's key is the name's.
        let keys = fields.map { label, value in
            pytorchKey(value is Buffer && label.hasPrefix("_") ? String(label.dropFirst()) : label)
        }
        plans[ObjectIdentifier(type)] = keys
        return keys
    }
}

/// Property types that never hold state, skipped before any cast.
private let plainTypes: Set<ObjectIdentifier> = Set(
    [
        Bool.self, Int.self, Int32.self, Int64.self, UInt.self, UInt64.self, Float.self, Double.self, String.self,
        Size2.self, ConvPadding.self, Float?.self, Int?.self, Double?.self, Bool?.self, String?.self,
        [Int].self, [Float].self, [Double].self,
    ].map { ObjectIdentifier($0) })

private let lazyPrefix = "$__lazy_storage_$_"

private func reflect(label: String, key: String, value: Any, owner: String, into state: inout ReflectedState) throws {
    let type = Swift.type(of: value)
    if plainTypes.contains(ObjectIdentifier(type)) { return }
    if label.hasPrefix(lazyPrefix) {
        if isStateType(type) || holdsState(value, depth: 3) {
            throw StrataError.invalidArgument(
                "\(owner).\(label.dropFirst(lazyPrefix.count)): a lazy module or tensor is invisible until first use; "
                    + "make it a `let`, or list it explicitly")
        }
        return
    }
    // Casts also unwrap a non-nil optional (`Linear?`, `Tensor?`).
    if let t = value as? Tensor { return state.parameters.append((key, t)) }
    if let m = value as? any Module { return state.children.append((key, m)) }
    if let b = value as? Buffer { return state.buffers.append((key, b.wrappedValue)) }
    if value is any TransientProbe || type is AnyObject.Type { return }
    switch try reflectedPart(value, path: "\(owner).\(label)") {
    case .module(let m): state.children.append((key, m))
    case .tensor(let t): state.parameters.append((key, t))
    case nil: break
    }
}

private enum Part { case module(any Module), tensor(Tensor) }

/// A property value as a child module or a parameter; nil when it holds
/// neither (plain values, other objects, nil optionals).
private func reflectedPart(_ value: Any, path: String) throws -> Part? {
    if let m = value as? any Module { return .module(m) }
    if let t = value as? Tensor { return .tensor(t) }
    let mirror = Mirror(reflecting: value)
    switch mirror.displayStyle {
    case .optional:
        guard let wrapped = mirror.children.first?.value else { return nil }
        return try reflectedPart(wrapped, path: path)
    case .collection:
        guard let element = (type(of: value) as? any ArrayProbe.Type)?.elementType else { break }
        if isStateType(element) {
            let items = try mirror.children.enumerated().map { i, c -> Part in
                guard let part = try reflectedPart(c.value, path: "\(path)[\(i)]"), !(c.value is any OptionalProbe) else {
                    throw StrataError.invalidArgument(
                        "\(path)[\(i)]: an array element that is nil or optional has no key; "
                            + "store a non-optional array or list the state explicitly")
                }
                return part
            }
            var modules: [any Module] = [], tensors: [Tensor] = []
            for item in items {
                switch item {
                case .module(let m): modules.append(m)
                case .tensor(let t): tensors.append(t)
                }
            }
            if tensors.isEmpty, isModuleType(element) || !modules.isEmpty { return .module(ModuleList(modules)) }
            if modules.isEmpty { return .module(ParameterList(tensors)) }
            throw StrataError.invalidArgument("\(path): an array mixing modules and tensors has no PyTorch form; list it explicitly")
        }
        if isPlainType(element) { return nil }
    case .class:
        return nil
    default:
        break
    }
    if holdsState(value, depth: 3) {
        throw StrataError.invalidArgument(
            "\(path): a module or tensor inside a \(mirror.displayStyle.map { "\($0)" } ?? "value") is not found by "
                + "reflection; store it as a property (or an array of them), mark it @Transient, or list it explicitly")
    }
    return nil
}

/// Whether values of `t` are modules or tensors (also optional, in arrays).
private func isStateType(_ t: Any.Type) -> Bool {
    if isModuleType(t) || t == Tensor.self { return true }
    if let o = t as? any OptionalProbe.Type { return isStateType(o.wrappedType) }
    if let a = t as? any ArrayProbe.Type { return isStateType(a.elementType) }
    return false
}

private func isModuleType(_ t: Any.Type) -> Bool {
    if t is any Module.Type || ObjectIdentifier(t) == ObjectIdentifier((any Module).self) { return true }
    if let a = t as? any ArrayProbe.Type { return isModuleType(a.elementType) }
    return false
}

/// Element types whose arrays are skipped without looking at the elements.
private func isPlainType(_ t: Any.Type) -> Bool {
    t is any Numeric.Type || t == Bool.self || t == String.self || t == Size2.self
}

/// Whether a value (not an object) holds a module or tensor within `depth`
/// levels of structs, tuples, enums and collections (first 16 elements).
private func holdsState(_ value: Any, depth: Int) -> Bool {
    if value is any Module || value is Tensor || value is Buffer { return true }
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .class || depth == 0 { return false }
    return mirror.children.prefix(16).contains { holdsState($0.value, depth: depth - 1) }
}

/// A Swift property name as a PyTorch user names the attribute: snake case
/// (`runningScale` -> `running_scale`, `downsampleBN` -> `downsample_bn`);
/// names without capitals are kept (`fc1`, `layer1`, `conv_1`).
func pytorchKey(_ name: String) -> String {
    let chars = Array(name)
    var out = ""
    for (i, c) in chars.enumerated() {
        if c.isUppercase {
            let prev: Character? = i > 0 ? chars[i - 1] : nil
            let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
            let boundary = prev.map { $0.isLowercase || $0.isNumber || ($0.isUppercase && (next?.isLowercase ?? false)) } ?? false
            if boundary { out.append("_") }
            out += c.lowercased()
        } else {
            out.append(c)
        }
    }
    return out
}
