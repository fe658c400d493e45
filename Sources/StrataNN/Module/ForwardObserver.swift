import StrataCore

/// Watching a forward pass module by module (PyTorch's forward hooks, for
/// the library's own tools: `NaNGuard`, `summary(inputShape:)`).
///
/// While `withForwardObserver` runs, every `module(x)` call (not a direct
/// `forward(x)`) goes through the observer, which must call `forward` once
/// and return its result. Task-local, like grad mode: other threads and
/// tasks are not observed.
package protocol ForwardObserver: AnyObject, Sendable {
    func observe(_ module: any Module, _ input: Tensor, _ forward: (Tensor) -> Tensor) -> Tensor
}

package enum ForwardObservation {
    @TaskLocal package static var current: (any ForwardObserver)?
}

/// Runs `body` with `observer` watching every module call.
package func withForwardObserver<R>(_ observer: any ForwardObserver, _ body: () throws -> R) rethrows -> R {
    try ForwardObservation.$current.withValue(observer) { try body() }
}

/// The modules of a tree by identity, with their dotted names. Holds the
/// tree's modules (also the lists reflection made for arrays), so no
/// identifier is reused while it lives.
package struct ModuleNames {
    package let modules: [(String, any Module)]
    private let index: [ObjectIdentifier: Int]

    package init(_ root: any Module) {
        modules = root.namedModules()
        var index: [ObjectIdentifier: Int] = [:]
        for (i, (_, m)) in modules.enumerated() where index[ObjectIdentifier(m)] == nil { index[ObjectIdentifier(m)] = i }
        self.index = index
    }

    /// The first dotted name of `module` in the tree, nil if not in it.
    package func name(of module: any Module) -> String? {
        index[ObjectIdentifier(module)].map { modules[$0].0 }
    }
}
