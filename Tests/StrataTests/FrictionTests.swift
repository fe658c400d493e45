import Foundation
import XCTest

@testable import StrataCore
@testable import StrataIO
@testable import StrataNN

/// The friction a new user met (issue 11 part 7): sizes from variables,
/// comparing tensors, checkpoint errors, PyTorch pickles, output lost at a
/// trap, and checking a whole model against an input shape.
final class FrictionTests: XCTestCase {
    // MARK: sizes from variables

    func testLayerSizesAcceptIntAndArrayVariables() {
        let k = 3, s = 2, p = 1, n = 4, pair = [3, 5]
        let conv = Conv2d(1, 8, kernelSize: k, stride: s, padding: p, dilation: s)
        XCTAssertEqual([conv.kernelSize, conv.stride, conv.dilation], [Size2(3), Size2(2), Size2(2)])
        XCTAssertEqual(conv.padding, .explicit(Size2(1)))
        let labelled = Conv2d(inputChannels: 1, outputChannels: 8, kernelSize: pair, padding: [p, 2 * p])
        XCTAssertEqual(labelled.kernelSize, Size2(3, 5))
        XCTAssertEqual(labelled.padding, .explicit(Size2(1, 2)))
        XCTAssertEqual(labelled.weight.shape, [8, 1, 3, 5])
        // Literals and the named paddings resolve as before.
        XCTAssertEqual(Conv2d(1, 8, kernelSize: 3, padding: .same).padding, .same)
        XCTAssertEqual(Conv2d(1, 8, kernelSize: [3, 5], stride: Size2(2, 1)).stride, Size2(2, 1))
        XCTAssertEqual(Conv2d(1, 8, kernelSize: 3).padding, .explicit(0))

        let up = ConvTranspose2d(4, 2, kernelSize: k, stride: s, padding: p, outputPadding: p)
        XCTAssertEqual([up.kernelSize, up.stride, up.padding, up.outputPadding], [Size2(3), Size2(2), Size2(1), Size2(1)])
        let c1 = Conv1d(2, 4, kernelSize: k, padding: p)
        XCTAssertEqual(c1.padding, .explicit(Size2(1)))
        XCTAssertEqual(c1(Tensor.zeros([1, 2, 5])).shape, [1, 4, 5])

        let maxPool = MaxPool2d(kernelSize: k, stride: s, padding: p)
        XCTAssertEqual([maxPool.kernelSize, maxPool.stride, maxPool.padding], [Size2(3), Size2(2), Size2(1)])
        XCTAssertEqual(MaxPool2d(kernelSize: k).stride, Size2(3), "the stride still defaults to the kernel size")
        XCTAssertEqual(AvgPool2d(kernelSize: k, stride: s).stride, Size2(2))
        XCTAssertEqual(AvgPool2d(kernelSize: 2, stride: nil).stride, Size2(2))
        XCTAssertEqual(AdaptiveAvgPool2d(outputSize: n).outputSize, Size2(4))
        XCTAssertEqual(AdaptiveMaxPool2d(outputSize: pair).outputSize, Size2(3, 5))
        let factor = 1.5
        XCTAssertEqual(Upsample(size: n).size, Size2(4))
        XCTAssertEqual(Upsample(scaleFactor: factor).scaleFactor, ScaleFactor2(1.5, 1.5))
        XCTAssertEqual(Upsample(scaleFactor: [1.5, 2]).scaleFactor, ScaleFactor2(1.5, 2))
        XCTAssertEqual(Upsample(size: [5, 7], mode: .bilinear, alignCorners: true).size, Size2(5, 7))
    }

    func testFunctionalOpsAcceptSizeVariables() {
        let k = 3, s = 2, p = 1, n = 2
        let g = RandomGenerator(seed: 6)
        let x = Tensor.randn([1, 2, 6, 6], generator: g), w = Tensor.randn([4, 2, 3, 3], generator: g)
        XCTAssertEqual(conv2d(x, weight: w, stride: s, padding: p).scalars, conv2d(x, weight: w, stride: 2, padding: 1).scalars)
        XCTAssertEqual(conv2d(x, weight: w, dilation: [n, 1]).shape, [1, 4, 2, 4])
        XCTAssertEqual(
            maxPool2d(x, kernelSize: k, stride: s, padding: p).scalars,
            maxPool2d(x, kernelSize: 3, stride: 2, padding: 1).scalars)
        XCTAssertEqual(maxPool2d(x, kernelSize: n).shape, [1, 2, 3, 3])
        XCTAssertEqual(avgPool2d(x, kernelSize: k, stride: s).scalars, avgPool2d(x, kernelSize: 3, stride: 2).scalars)
        XCTAssertEqual(adaptiveAvgPool2d(x, outputSize: n).shape, [1, 2, 2, 2])
        XCTAssertEqual(adaptiveMaxPool2d(x, outputSize: [n, 1]).shape, [1, 2, 2, 1])
        let wt = Tensor.randn([2, 3, 2, 2], generator: g)
        XCTAssertEqual(convTranspose2d(x, weight: wt, stride: s).shape, [1, 3, 12, 12])
    }

    // MARK: allClose and maxAbsDifference

    func testAllCloseIsTorchAllclose() {
        let a = Tensor(shape: [2, 2], [1, 2, 3, 4])
        XCTAssertTrue(allClose(a, a))
        // |a - b| <= atol + rtol * |b|, with b the second argument (as torch).
        let b = Tensor(shape: [2, 2], [1, 2, 3, 4 + 3e-5])
        XCTAssertTrue(allClose(a, b))
        XCTAssertFalse(allClose(a, Tensor(shape: [2, 2], [1, 2, 3, 4.001])))
        XCTAssertTrue(a.allClose(Tensor(shape: [2, 2], [1, 2, 3, 4.001]), rtol: 0, atol: 2e-3))
        XCTAssertFalse(allClose(Tensor(shape: [1], [0]), Tensor(shape: [1], [1e-7])), "atol 1e-8 by default")
        // Broadcasting, as torch.allclose.
        XCTAssertTrue(allClose(Tensor(shape: [2, 2], [1, 2, 1, 2]), Tensor(shape: [2], [1, 2])))
        // NaN and infinity.
        let nan = Tensor(shape: [2], [.nan, 1]), inf = Tensor(shape: [1], [.infinity])
        XCTAssertFalse(allClose(nan, nan))
        XCTAssertTrue(allClose(nan, nan, equalNaN: true))
        XCTAssertTrue(allClose(inf, inf))
        XCTAssertFalse(allClose(inf, Tensor(shape: [1], [-Float.infinity])))
        XCTAssertFalse(allClose(Tensor(shape: [1], [1e30]), inf, rtol: 1))

        XCTAssertEqual(maxAbsDifference(a, Tensor(shape: [2, 2], [1, 2.5, 2, 4])), 1)
        XCTAssertEqual(a.maxAbsDifference(Tensor(shape: [2], [1, 2])), 2)
        XCTAssertTrue(maxAbsDifference(nan, Tensor(shape: [2], [0, 1])).isNaN)
    }

    // MARK: checkpoint errors that summarise

    func testKeyMismatchErrorSummarises() throws {
        let model = Sequential((0..<12).map { _ in Linear(2, 2) as any Module })  // 24 keys
        var state = Array(model.stateDict().prefix(1))  // keeps "0.weight"
        state += (0..<56).map { ("encoder.block\($0).weight", Tensor.zeros([1])) }
        do {
            try model.loadStateDict(state, source: "other.safetensors")
            XCTFail("expected a checkpoint error")
        } catch let StrataError.checkpoint(message) {
            XCTAssertTrue(message.contains("23 missing, 56 unexpected keys: a different architecture?"), message)
            XCTAssertTrue(
                message.contains("missing keys: \"0.bias\", \"1.weight\", \"1.bias\", \"2.weight\", \"2.bias\", ... (18 more)"), message)
            XCTAssertTrue(message.contains("\"encoder.block4.weight\", ... (51 more)"), message)
            XCTAssertFalse(message.contains("encoder.block5."), "lists only the first few keys: \(message)")
            XCTAssertLessThan(message.count, 500, message)
        }
        // A DataParallel checkpoint: every key with the prefix "module.".
        let prefixed = model.stateDict().map { ("module." + $0.0, $0.1) }
        do {
            try model.loadStateDict(prefixed)
            XCTFail("expected a checkpoint error")
        } catch let StrataError.checkpoint(message) {
            XCTAssertTrue(message.contains("24 missing, 24 unexpected keys: the file's keys carry the prefix \"module.\""), message)
        }
        XCTAssertEqual(keyMismatchSummary(missing: ["a"], unexpected: []), "1 missing key; missing keys: \"a\"")
    }

    // MARK: a PyTorch pickle given to the safetensors loader

    func testPyTorchPickleGetsAConversionHint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-pickle-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Sequential(Linear(2, 2))
        let cases: [(String, [UInt8])] = [
            ("zip", Array("PK".utf8) + [3, 4, 20, 0, 0, 0, 8, 0] + Array("archive/data.pkl".utf8)),
            ("pickle", [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]),
        ]
        for (kind, bytes) in cases {
            let path = dir.appendingPathComponent("model.pt").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try model.loadSafetensors(from: path)) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("this is a PyTorch \(kind) checkpoint"), text)
                XCTAssertTrue(text.contains("safetensors.torch.save_file(model.state_dict(), path)"), text)
            }
        }
        // A real safetensors file whose length prefix starts with 0x80 0x02 (header of 640 bytes) still loads.
        let weights = model.stateDict()
        var encoded: [UInt8] = []
        for n in 0..<1000 {
            encoded = SafeTensors.encode(weights, metadata: ["format": "pt", "pad": String(repeating: "x", count: n)])
            if encoded[0] == 0x80 && encoded[1] == 0x02 { break }
        }
        XCTAssertEqual(Array(encoded.prefix(2)), [0x80, 0x02])
        XCTAssertNil(pytorchCheckpointKind(encoded))
        XCTAssertEqual(try SafeTensors.parse(encoded, path: "padded").tensors().map(\.0), weights.map(\.0))
    }

    // MARK: standard output kept at a trap

    /// The last lines a program printed before a trap reach a pipe (stdout
    /// is buffered there; a trap without a flush drops them). Runs this test
    /// binary again as a child that prints and traps.
    func testTrapKeepsTheLastPrintedLines() throws {
        if ProcessInfo.processInfo.environment["STRATA_TRAP_CHILD"] != nil {
            print("loss 0.25 at step 7")
            strataFatal("child trap after printing")
        }
        let dir = makeTempDir(self)
        let pid = try spawnTestChild(
            "StrataTests.FrictionTests/testTrapKeepsTheLastPrintedLines", environment: ["STRATA_TRAP_CHILD": "1"],
            stdoutPath: dir + "/stdout.txt", stderrPath: dir + "/stderr.txt")
        let ended = waitTestChild(pid)
        let printed = (try? String(contentsOfFile: dir + "/stdout.txt", encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: dir + "/stderr.txt", encoding: .utf8)) ?? ""
        // A trap is a signal, or a non-zero exit under a sanitizer's handler.
        XCTAssertFalse(ended.succeeded, "the child should trap: \(printed) \(errors)")
        XCTAssertTrue(errors.contains("child trap after printing"), errors)
        XCTAssertTrue(printed.contains("loss 0.25 at step 7"), "stdout lost at the trap: '\(printed)'")
    }

    // MARK: validating a whole model

    func testValidateNamesTheFirstLayerThatRefuses() throws {
        let model = Sequential(Conv2d(3, 8, kernelSize: 3, padding: 1), ReLU(), Flatten(), Linear(8 * 16 * 16, 10))
        XCTAssertNoThrow(try model.validate(inputShape: [2, 3, 16, 16]))
        XCTAssertThrowsError(try model.validate(inputShape: [2, 3, 32, 32])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("validate(inputShape: [2, 3, 32, 32]): \"3\" (Linear) refuses its input"), text)
            XCTAssertTrue(text.contains("expected input of shape [N, 2048], got [2, 8192]"), text)
        }
        XCTAssertThrowsError(try model.validate(inputShape: [2, 1, 16, 16])) { error in
            XCTAssertTrue("\(error)".contains("\"0\" (Conv2d) refuses its input"), "\(error)")
        }
        // A custom module: the dotted key of the block deep inside.
        let resnet = SmallResNet(generator: RandomGenerator(seed: 1))
        XCTAssertNoThrow(try resnet.validate(inputShape: [1, 3, 8, 8]))
        XCTAssertThrowsError(try resnet.validate(inputShape: [1, 4, 8, 8])) { error in
            XCTAssertTrue("\(error)".contains("\"conv1\" (Conv2d) refuses its input"), "\(error)")
        }
        // A single layer as the model.
        XCTAssertThrowsError(try (Linear(3, 2) as any Module).validate(inputShape: [1, 4])) { error in
            XCTAssertTrue("\(error)".contains("the model (Linear) refuses its input"), "\(error)")
        }
    }

    /// Each layer is checked in its own mode, but nothing changes: running
    /// statistics, spectral-norm vectors and the modes stay as they were.
    func testValidateChecksEachLayerInItsModeAndChangesNothing() throws {
        let g = RandomGenerator(seed: 3)
        let bn = BatchNorm1d(3)
        let sn = spectralNorm(Linear(4, 3, generator: g), generator: g)
        let model = Sequential(sn, bn, Dropout())
        let u = sn.u.scalars
        XCTAssertThrowsError(try model.validate(inputShape: [1, 4])) { error in
            XCTAssertTrue(
                "\(error)".contains("\"1\" (BatchNorm1d) refuses its input: BatchNorm1d(3): expected more than 1 value per channel"),
                "\(error)")
        }
        XCTAssertNoThrow(try model.validate(inputShape: [2, 4]))
        XCTAssertTrue(model.training && bn.training && sn.training)
        XCTAssertEqual(bn.numBatchesTracked?.item, 0)
        XCTAssertEqual(bn.runningMean?.scalars, [0, 0, 0])
        XCTAssertEqual(sn.u.scalars, u)
        bn.eval()
        XCTAssertNoThrow(try model.validate(inputShape: [1, 4]), "eval mode uses the running statistics")
        XCTAssertFalse(bn.training)
        XCTAssertTrue(sn.training)
        // The wrapper checks with its layer's validate.
        XCTAssertThrowsError(try model.validate(inputShape: [2, 5])) { error in
            XCTAssertTrue("\(error)".contains("\"0\" (SpectralNorm<Linear>) refuses its input"), "\(error)")
        }
    }
}
