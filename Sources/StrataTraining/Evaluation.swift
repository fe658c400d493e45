import StrataCore
import StrataData
import StrataNN

/// Accuracy and confusion matrix of `model` in eval mode over `dataset`,
/// in batches of `batchSize`, without recording the graph. The model's
/// train/eval flags are restored afterwards module by module, so a layer
/// the caller had put in eval mode on purpose (a frozen BatchNorm while
/// fine-tuning) stays in eval mode. `normalization` is applied to
/// the images as `DataLoader` does.
public func evaluateClassifier(
    _ model: any Module, on dataset: Dataset, batchSize: Int = 1000, classes: Int? = nil,
    normalization: (mean: [Float], std: [Float])? = nil, flatten: Bool = false
) -> (accuracy: Double, confusion: ConfusionMatrix) {
    let modules = model.namedModules().map(\.1)
    let modes = modules.map(\.training)
    model.eval()
    defer { for (m, mode) in zip(modules, modes) { m.training = mode } }
    var confusion = ConfusionMatrix(classes: classes ?? dataset.classCount)
    let loader = DataLoader(dataset, batchSize: batchSize, normalization: normalization, flatten: flatten, prefetch: false)
    withNoGrad {
        for batch in loader {
            confusion.add(logits: model(batch.images), labels: batch.labels)
        }
    }
    return (confusion.accuracy, confusion)
}
