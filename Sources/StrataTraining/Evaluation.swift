import StrataCore
import StrataNN
import StrataData
import StrataIO
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
