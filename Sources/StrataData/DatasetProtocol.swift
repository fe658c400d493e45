import StrataCore

/// One element of a dataset: an image and its class.
public struct Sample: @unchecked Sendable {
    /// [C, H, W] (or [D] for flat data), Float32.
    public let image: Tensor
    /// The class index, >= 0.
    public let label: Int

    public init(image: Tensor, label: Int) {
        self.image = image
        self.label = label
    }
}

/// A map-style dataset (PyTorch's `torch.utils.data.Dataset`): a count and
/// the element at an index. `DataLoader` takes any conforming type.
///
/// Naming: the in-memory tensor dataset every reader returns keeps the name
/// `Dataset` (a struct, also reachable as `TensorDataset`, PyTorch's name
/// for it), so this protocol takes Swift's `...Protocol` suffix for a
/// protocol whose natural name is taken, as `IteratorProtocol` does.
///
/// `sample(at:)` must be safe to call from several threads at once (the
/// loader's workers do) and must not draw random numbers: randomness
/// belongs to the loader's `transform`, which gets a generator seeded per
/// sample so results do not depend on the number of workers.
public protocol DatasetProtocol: Sendable {
    /// Number of samples N.
    var count: Int { get }
    /// Sample `index` (0..<count). Throws for data that cannot be read
    /// (e.g. a corrupt image file, named in the error).
    func sample(at index: Int) throws -> Sample
}

/// PyTorch's name for a dataset held as one tensor of samples and their labels.
public typealias TensorDataset = Dataset

extension Dataset: DatasetProtocol {
    /// Row `index` of `images` (copied) and its label.
    public func sample(at index: Int) throws -> Sample {
        guard index >= 0 && index < count else {
            throw StrataError.invalidArgument("Dataset.sample: index \(index) outside 0..<\(count)")
        }
        let size = sampleShape.reduce(1, *)
        let image = Tensor(uninitialized: sampleShape)
        image.data.update(from: images.data + index * size, count: size)
        return Sample(image: image, label: labels[index])
    }
}

extension DatasetProtocol {
    /// Every sample read into one in-memory `Dataset` ([N, ...sample shape]),
    /// e.g. to cache a decoded image folder. Throws the first read error, or
    /// `StrataError.shapeMismatch` when samples differ in shape.
    public func materialized() throws -> Dataset {
        guard count > 0 else { throw StrataError.invalidArgument("materialized: the dataset is empty") }
        let first = try sample(at: 0)
        let shape = first.image.shape, size = first.image.count
        let out = Tensor(uninitialized: [count] + shape)
        var labels = [Int](repeating: 0, count: count)
        for i in 0..<count {
            let s = i == 0 ? first : try sample(at: i)
            guard s.image.shape == shape else {
                throw StrataError.shapeMismatch(op: "materialized (sample \(i))", expected: "\(shape)", actual: s.image.shape)
            }
            (out.data + i * size).update(from: s.image.data, count: size)
            labels[i] = s.label
        }
        return Dataset(images: out, labels: labels)
    }
}
