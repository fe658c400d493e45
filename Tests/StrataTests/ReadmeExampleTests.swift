import Strata
import XCTest

/// The README's 20-line example, kept compiling and kept true: it must
/// separate the two blobs.
final class ReadmeExampleTests: XCTestCase {
    func testReadmeExampleTrains() {
        manualSeed(0)
        // Two Gaussian blobs in 2-D, labels 0 and 1.
        let x = Tensor.randn([200, 2]) + Tensor(shape: [200, 1], (0..<200).map { $0 < 100 ? -2 : 2 })
        let labels = (0..<200).map { $0 < 100 ? 0 : 1 }

        let model = Sequential(Linear(2, 16), BatchNorm1d(16), ReLU(), Linear(16, 2))
        let optimizer = SGD(parameters: model.parameters(), learningRate: 0.1, momentum: 0.9)

        var losses: [Float] = []
        for _ in 1...20 {
            optimizer.zeroGrad()
            let loss = crossEntropy(model(x), labels: labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item)
        }

        model.eval()
        let predictions = withNoGrad { model(x) }.argmax(axis: 1)
        let accuracy = zip(predictions, labels).filter { $0 == $1 }.count
        XCTAssertGreaterThanOrEqual(accuracy, 190, "README promises the blobs are separated")
        XCTAssertLessThan(losses.last ?? .infinity, losses[0] / 2)
    }
}
