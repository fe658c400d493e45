import Foundation
import Strata

/// Fashion-MNIST's 60,000 training images for cnn-epoch, held in memory.
///
/// Read with the library's own IDX reader (`Dataset.fashionMNIST`); loading
/// is not timed. Looked up in `$STRATA_FASHION_MNIST`, `data/fashion-mnist`,
/// then `/usr/share/datasets/fashion-mnist`. When no directory holds the
/// files, random data of the same shape stands in and the record says so.
struct FashionMNISTTrain {
    /// [60000, 1, 28, 28], pixel / 255.
    let images: Tensor
    /// 60,000 labels in 0..<10.
    let labels: [Int]
    /// Where the data came from ("random stand-in" when not found).
    let source: String

    static func load() -> FashionMNISTTrain {
        var dirs = ["data/fashion-mnist", "/usr/share/datasets/fashion-mnist"]
        if let env = ProcessInfo.processInfo.environment["STRATA_FASHION_MNIST"] { dirs.insert(env, at: 0) }
        for dir in dirs where FileManager.default.fileExists(atPath: dir) {
            if let train = try? Dataset.fashionMNIST(train: true, directory: dir), train.images.shape == [60000, 1, 28, 28] {
                return FashionMNISTTrain(images: train.images, labels: train.labels, source: dir)
            }
        }
        let gen = RandomGenerator(seed: 1)
        let images = Tensor.rand([60000, 1, 28, 28], generator: gen)
        let labels = (0..<60000).map { _ in gen.nextInt(below: 10) }
        return FashionMNISTTrain(images: images, labels: labels, source: "random stand-in (Fashion-MNIST not found)")
    }
}
