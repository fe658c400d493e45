import StrataCore
/// Module reflection: a module's parameters, buffers and children found
/// from its stored properties (the rules are in `Module`'s doc comment).

/// Marks a stored tensor as a buffer: saved and loaded with the state dict,
/// never optimised (PyTorch's `register_buffer`).
///
///     @Buffer var runningScale = Tensor.ones([4])    // key "running_scale"
@propertyWrapper
public struct Buffer<Value: BufferValue> {
    public var wrappedValue: Value
    public init(wrappedValue: Value) { self.wrappedValue = wrappedValue }
}

/// What `@Buffer` can hold: a `Tensor` or an optional one (nil is skipped).
public protocol BufferValue { var bufferTensor: Tensor? { get } }
extension Tensor: BufferValue { public var bufferTensor: Tensor? { self } }
extension Optional: BufferValue where Wrapped == Tensor { public var bufferTensor: Tensor? { self } }

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
private protocol BufferProbe { var tensor: Tensor? { get } }
extension Buffer: BufferProbe { fileprivate var tensor: Tensor? { wrappedValue.bufferTensor } }
private protocol TransientProbe {}
extension Transient: TransientProbe {}

/// What reflection found in one module's stored properties.
struct ReflectedState {
    var parameters: [(String, Tensor)] = []
    var buffers: [(String, Tensor)] = []
    var children: [(String, any Module)] = []
}

extension Module {
    /// Parameters found by reflection (stored tensors, `[Tensor]` excluded:
    /// those are `ParameterList` children). `ownParameters`' default also
    /// drops any tensor listed in `ownBuffers`.
    public var reflectedParameters: [(String, Tensor)] { strataTry { try reflectState(of: self) }.parameters }
    /// Buffers found by reflection (`@Buffer` properties).
    public var reflectedBuffers: [(String, Tensor)] { strataTry { try reflectState(of: self) }.buffers }
    /// Children found by reflection (stored modules, arrays of modules).
    public var reflectedChildren: [(String, any Module)] { strataTry { try reflectState(of: self) }.children }
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
    let owner = String(describing: type(of: module))
    var state = ReflectedState()
    var keys = Set<String>()
    for m in mirrors.reversed() {
        for child in m.children {
            guard let label = child.label else { continue }
            let before = (state.parameters.count, state.buffers.count, state.children.count)
            try reflect(label: label, value: child.value, owner: owner, into: &state)
            let added = state.parameters[before.0...].map(\.0) + state.buffers[before.1...].map(\.0)
                + state.children[before.2...].map(\.0)
            for key in added where !keys.insert(key).inserted {
                throw StrataError.invalidArgument(
                    "\(owner): two stored properties have the key \"\(key)\"; rename one or list the state explicitly")
            }
        }
    }
    return state
}

private func reflect(label: String, value: Any, owner: String, into state: inout ReflectedState) throws {
    if value is any TransientProbe { return }
    let lazyPrefix = "$__lazy_storage_$_"
    if label.hasPrefix(lazyPrefix) {
        if isStateType(type(of: value)) || holdsState(value, depth: 3) {
            throw StrataError.invalidArgument(
                "\(owner).\(label.dropFirst(lazyPrefix.count)): a lazy module or tensor is invisible until first use; "
                    + "make it a `let`, or list it explicitly")
        }
        return
    }
    if let buffer = value as? any BufferProbe {
        if let t = buffer.tensor { state.buffers.append((pytorchKey(label.hasPrefix("_") ? String(label.dropFirst()) : label), t)) }
        return
    }
    let key = pytorchKey(label)
    if let part = try reflectedPart(value, path: "\(owner).\(label)") {
        switch part {
        case .module(let m): state.children.append((key, m))
        case .tensor(let t): state.parameters.append((key, t))
        }
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
                    throw StrataError.invalidArgument("\(path)[\(i)]: an array element that is nil or optional has no key; "
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
    if value is any Module || value is Tensor || value is any BufferProbe { return true }
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
