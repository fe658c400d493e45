import Foundation
import Strata
import XCTest

/// The ImageFolder walk-through of Docs/DataAndCheckpoints.md, kept
/// compiling and kept true. The code between the markers is the
/// document's, line for line; the test only makes the folders first.
final class ImageFolderWalkthroughTests: XCTestCase {
    /// 16x16 RGB images, "red" ones mostly red and "blue" ones mostly blue, with noise.
    func makeColourFolders(_ root: String, perClass: Int, seed: UInt64) throws {
        let g = RandomGenerator(seed: seed)
        for (c, name) in ["red", "blue"].enumerated() {
            try FileManager.default.createDirectory(atPath: "\(root)/\(name)", withIntermediateDirectories: true)
            for i in 0..<perClass {
                let px = (0..<(16 * 16)).flatMap { _ -> [UInt8] in
                    let strong = UInt8(150 + g.nextInt(below: 100)), weak = UInt8(g.nextInt(below: 110))
                    return c == 0 ? [strong, weak, weak] : [weak, weak, strong]
                }
                try Image(width: 16, height: 16, channels: 3, pixels: px).write(to: "\(root)/\(name)/\(i).png")
            }
        }
    }

    func testWalkthroughTrainsSavesReloadsAndPredicts() throws {
        let dir = makeTempDir(self)
        let trainRoot = dir + "/train", testRoot = dir + "/test", modelPath = dir + "/colours.safetensors"
        try makeColourFolders(trainRoot, perClass: 24, seed: 1)
        try makeColourFolders(testRoot, perClass: 8, seed: 2)
        let newImagePath = testRoot + "/blue/3.png"
        manualSeed(0)

        // --- Docs/DataAndCheckpoints.md: ImageFolder walk-through ---
        // One sub-folder per class: train/blue/*.png, train/red/*.png.
        let train = try ImageFolder(root: trainRoot)
        print(train.classes, train.count)  // ["blue", "red"] 48

        // Per-sample augmentation, then normalisation; two worker threads.
        let normalize = Normalize(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        let augment = Compose([RandomCrop(16, padding: 2), RandomHorizontalFlip(), normalize])
        let loader = DataLoader(train, batchSize: 16, shuffle: true, seed: 1, transform: augment, numWorkers: 2)

        func makeModel() -> Sequential {
            Sequential(
                Conv2d(inputChannels: 3, outputChannels: 8, kernelSize: 3, padding: 1), ReLU(), MaxPool2d(kernelSize: 2),
                Flatten(), Linear(8 * 8 * 8, train.classes.count))
        }
        let model = makeModel()
        let optimizer = SGD(parameters: model.parameters(), learningRate: 0.05, momentum: 0.9)
        for _ in 0..<4 {
            var batches = loader.makeIterator()
            while let batch = try batches.nextBatch() {  // throws for a corrupt image, naming the file
                optimizer.zeroGrad()
                let loss = crossEntropy(model(batch.images), labels: batch.labels)
                loss.backward()
                optimizer.step()
            }
        }

        // Save with PyTorch's state_dict keys, reload into a fresh model.
        try model.saveSafetensors(to: modelPath)
        let restored = makeModel()
        try restored.loadSafetensors(from: modelPath)
        restored.eval()

        // Accuracy on a held-out folder (decoded once into memory, normalised as in training).
        let test = try ImageFolder(root: testRoot).materialized()
        let (accuracy, _) = evaluateClassifier(restored, on: test, normalization: (normalize.mean, normalize.std))
        print("test accuracy", accuracy)

        // Predict one new image: decode, the same preprocessing without the random parts.
        let x = try normalize(ToTensor()(try Image(contentsOf: newImagePath)))
        let logits = withNoGrad { restored(x.reshaped([1, 3, 16, 16])) }
        let predicted = train.classes[logits.argmax(axis: 1)[0]]
        print(predicted)  // "blue"
        // --- end of walk-through ---

        XCTAssertEqual(train.classes, ["blue", "red"])
        XCTAssertEqual(train.count, 48)
        XCTAssertGreaterThanOrEqual(accuracy, 0.9)
        XCTAssertEqual(predicted, "blue")
        model.eval()
        XCTAssertEqual(withNoGrad { model(x.reshaped([1, 3, 16, 16])) }.scalars, logits.scalars, "reloaded model = saved model")
    }

    /// The document shows exactly the code run above.
    func testDocumentShowsTheCodeThisTestRuns() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("Docs/DataAndCheckpoints.md"), encoding: .utf8)
        let test = try String(contentsOf: here, encoding: .utf8)
        /// Non-blank lines, with `indent` leading spaces removed.
        func lines(_ text: Substring, indent: Int) -> [String] {
            text.split(separator: "\n").map { String($0.dropFirst(indent)) }
                .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        }
        let docStart = try XCTUnwrap(doc.range(of: "```swift\nimport Strata\n"))
        let docEnd = try XCTUnwrap(doc.range(of: "```", range: docStart.upperBound..<doc.endIndex))
        let startMarker = "// --- Docs/DataAndCheckpoints.md: ImageFolder walk-through ---"
        let testStart = try XCTUnwrap(test.range(of: startMarker + "\n"))
        let testEnd = try XCTUnwrap(test.range(of: "// --- end of walk-through ---"))
        XCTAssertEqual(
            lines(doc[docStart.upperBound..<docEnd.lowerBound], indent: 0),
            lines(test[testStart.upperBound..<testEnd.lowerBound], indent: 8))
    }
}
