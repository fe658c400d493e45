import StrataCore

/// The reference CNN of the benchmarks and examples (Docs: WORKLOADS.md),
/// input [N, 1, 28, 28], output logits [N, 10]:
///
///     0 Conv2d(1, 32, 3, padding 1)   1 norm(32)   2 ReLU   3 MaxPool2d(2)
///     4 Conv2d(32, 64, 3, padding 1)  5 norm(64)   6 ReLU   7 MaxPool2d(2)
///     8 Flatten   9 Linear(3136, 128)   10 norm(128)   11 ReLU   12 Linear(128, 10)
///
/// One `Sequential`, so with BatchNorm its state-dict keys are exactly those
/// of the same `nn.Sequential` in PyTorch (`0.weight`, `1.running_mean`,
/// `10.num_batches_tracked`, `12.bias`, ...). Without normalisation the
/// three norm layers are left out and the indices run 0...9, as they would
/// in the equivalent PyTorch `nn.Sequential`.
public enum ReferenceCNN {
    /// The normalisation after each Conv2d and after the hidden Linear.
    public enum Norm: String, CaseIterable, Sendable {
        /// BatchNorm2d / BatchNorm1d (PyTorch defaults unless overridden).
        case batch
        /// GroupNorm with `groupCount(channels:)` groups (batch-independent).
        case group
        /// Batch Renormalization (BatchRenorm2d / BatchRenorm1d).
        case renorm
        /// No normalisation layers.
        case none
    }

    /// Groups used by `.group` for a layer of `channels` channels: 8 groups
    /// (Wu & He's choice of channels per group is 4 to 16 here: 32 -> 4,
    /// 64 -> 8, 128 -> 16 channels per group), fewer when `channels` is small.
    public static func groupCount(channels: Int) -> Int {
        var g = min(8, channels)
        while channels % g != 0 { g -= 1 }
        return g
    }

    /// Builds the network. `eps` and `momentum` apply to the batch-statistics
    /// norms (PyTorch defaults 1e-5 and 0.1). Convolution and Linear layers use
    /// PyTorch's default initialisation drawn from `generator`.
    public static func make(
        norm: Norm = .batch, eps: Float = 1e-5, momentum: Float = 0.1,
        generator: RandomGenerator = .global
    ) -> Sequential {
        func norm2d(_ c: Int) -> (any Module)? {
            switch norm {
            case .batch: return BatchNorm2d(c, eps: eps, momentum: momentum)
            case .renorm: return BatchRenorm2d(c, eps: eps, momentum: momentum)
            case .group: return GroupNorm(numGroups: groupCount(channels: c), numChannels: c, eps: eps)
            case .none: return nil
            }
        }
        func norm1d(_ c: Int) -> (any Module)? {
            switch norm {
            case .batch: return BatchNorm1d(c, eps: eps, momentum: momentum)
            case .renorm: return BatchRenorm1d(c, eps: eps, momentum: momentum)
            case .group: return GroupNorm(numGroups: groupCount(channels: c), numChannels: c, eps: eps)
            case .none: return nil
            }
        }
        var layers: [(any Module)?] = []
        layers.append(Conv2d(1, 32, kernelSize: 3, padding: 1, generator: generator))
        layers.append(norm2d(32))
        layers += [ReLU(), MaxPool2d(kernelSize: 2)]
        layers.append(Conv2d(32, 64, kernelSize: 3, padding: 1, generator: generator))
        layers.append(norm2d(64))
        layers += [ReLU(), MaxPool2d(kernelSize: 2), Flatten()]
        layers.append(Linear(3136, 128, generator: generator))
        layers.append(norm1d(128))
        layers += [ReLU(), Linear(128, 10, generator: generator)]
        return Sequential(layers.compactMap { $0 })
    }

    /// The Batch Renormalization layers of `model` (for scheduling rmax/dmax).
    public static func renormLayers(_ model: any Module) -> [BatchRenormBase] {
        model.namedModules().compactMap { $0.1 as? BatchRenormBase }
    }

    /// Fashion-MNIST's class names, by label.
    public static let fashionClassNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]
}
