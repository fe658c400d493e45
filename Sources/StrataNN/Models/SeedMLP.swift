import StrataCore

/// The MLP of the seed article's experiment: 784-100-100-100-100-100-10
/// with ReLU, optionally with BatchNorm1d between each hidden Linear and its
/// ReLU (Linear -> BN -> ReLU), as one `Sequential`.
///
/// Without BN the layers are Linear, ReLU (x5), Linear: indices 0...10.
/// With BN: Linear, BN, ReLU (x5), Linear: indices 0...15.
public enum SeedMLP {
    /// BatchNorm settings: PyTorch's (eps 1e-5, momentum 0.1, unbiased
    /// running variance) or the seed article's (decay 0.9 on the old value,
    /// i.e. momentum 0.1 on the new batch; eps 1e-6; biased variance stored;
    /// running mean and variance starting at 0).
    public struct BNConvention: Sendable, Equatable, CustomStringConvertible {
        public var eps: Float
        public var momentum: Float
        public var unbiasedRunningVariance: Bool
        /// Initial running variance: 1 in PyTorch, 0 in the seed article
        /// (its NumPy layer creates zeros on the first forward).
        public var initialRunningVar: Float
        public var name: String

        public init(
            eps: Float, momentum: Float, unbiasedRunningVariance: Bool, initialRunningVar: Float = 1,
            name: String = "custom"
        ) {
            self.eps = eps
            self.momentum = momentum
            self.unbiasedRunningVariance = unbiasedRunningVariance
            self.initialRunningVar = initialRunningVar
            self.name = name
        }

        /// PyTorch: eps 1e-5, momentum 0.1, running_var unbiased.
        public static let pytorch = BNConvention(eps: 1e-5, momentum: 0.1, unbiasedRunningVariance: true, name: "pytorch")
        /// The seed article (001): running = 0.9 * running + 0.1 * batch,
        /// eps 1e-6, running variance biased and starting at 0.
        public static let seedArticle = BNConvention(
            eps: 1e-6, momentum: 0.1, unbiasedRunningVariance: false,
            initialRunningVar: 0, name: "seed-article")

        public var description: String {
            "\(name) (eps \(eps), momentum \(momentum) on the new batch = decay \(1 - momentum) on the old value, "
                + "running_var \(unbiasedRunningVariance ? "unbiased" : "biased"), starting at \(initialRunningVar))"
        }
    }

    /// Hidden widths of the article's network.
    public static let hidden = [100, 100, 100, 100, 100]

    /// Builds the network with every Linear weight drawn N(0, weightStd^2)
    /// and every bias zero (the article's initialisation).
    public static func make(
        batchNorm: Bool, weightStd: Float, convention: BNConvention = .pytorch,
        inputs: Int = 784, classes: Int = 10,
        generator: RandomGenerator = .global
    ) -> Sequential {
        var layers: [any Module] = []
        var width = inputs
        for (i, h) in (hidden + [classes]).enumerated() {
            let linear = Linear(width, h, generator: generator)
            Init.normal(linear.weight, std: weightStd, generator: generator)
            if let b = linear.bias { Init.zeros(b) }
            layers.append(linear)
            if i < hidden.count {
                if batchNorm {
                    let bn = BatchNorm1d(
                        h, eps: convention.eps, momentum: convention.momentum,
                        unbiasedRunningVariance: convention.unbiasedRunningVariance)
                    bn.runningVar?.fill(convention.initialRunningVar)
                    layers.append(bn)
                }
                layers.append(ReLU())
            }
            width = h
        }
        return Sequential(layers)
    }
}
