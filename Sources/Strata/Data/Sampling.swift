/// Mini-batch sampling helpers for the examples.
extension RandomGenerator {
    /// `count` indices drawn uniformly from 0..<n WITH replacement (the seed
    /// article's `np.random.choice(n, batch)`): a sample may appear twice in
    /// one batch.
    public func indicesWithReplacement(count: Int, from n: Int) -> [Int] {
        strataCheck(n > 0 && count >= 0, "indicesWithReplacement: need n > 0 and count >= 0, got n \(n), count \(count)")
        return (0..<count).map { _ in nextInt(below: n) }
    }
}

/// Accuracy and confusion matrix of `model` in eval mode over `dataset`,
/// in batches of `batchSize`, without recording the graph. The model's
/// train/eval mode is restored afterwards. `normalization` is applied to
/// the images as `DataLoader` does.
public func evaluateClassifier(
    _ model: any Module, on dataset: Dataset, batchSize: Int = 1000, classes: Int? = nil,
    normalization: (mean: [Float], std: [Float])? = nil, flatten: Bool = false
) -> (accuracy: Double, confusion: ConfusionMatrix) {
    let wasTraining = model.training
    model.eval()
    defer { model.train(wasTraining) }
    var confusion = ConfusionMatrix(classes: classes ?? dataset.classCount)
    let loader = DataLoader(dataset, batchSize: batchSize, normalization: normalization, flatten: flatten, prefetch: false)
    withNoGrad {
        for batch in loader {
            confusion.add(logits: model(batch.images), labels: batch.labels)
        }
    }
    return (confusion.accuracy, confusion)
}
