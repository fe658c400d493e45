import Foundation
import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// A layer with a parameter and BatchNorm-like buffers (for key and dtype tests).
final class BufferedLayer: Module {
    var training = true
    let weight: Tensor
    let runningMean: Tensor
    let numBatchesTracked = Tensor.scalar(0)
    init(_ n: Int, generator: RandomGenerator) {
        weight = Tensor.randn([n], generator: generator, requiresGrad: true)
        runningMean = Tensor.randn([n], generator: generator)
    }
    var ownParameters: [(String, Tensor)] { [("weight", weight)] }
    var ownBuffers: [(String, Tensor)] { [("running_mean", runningMean), ("num_batches_tracked", numBatchesTracked)] }
    func forward(_ x: Tensor) -> Tensor { x * weight.reshaped([1, -1]) }
}

func fixtureURL(_ name: String, _ ext: String) -> URL? {
    Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures")
}

/// safetensors checkpoints: round trip, validation, atomicity, resume, PyTorch interop.
final class CheckpointTests: XCTestCase {
    func model(seed: UInt64) -> Sequential {
        let g = RandomGenerator(seed: seed)
        let b = BufferedLayer(3, generator: g)
        b.numBatchesTracked.data[0] = Float(seed + 10)
        return Sequential(Linear(4, 3, generator: g), b, ReLU(), Linear(3, 2, generator: g))
    }

    func snapshot(_ m: any Module) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: m.stateDict().map { ($0.0, $0.1.scalars) })
    }

    func testRoundTripKeepsPyTorchKeysAndInt64Counter() throws {
        let dir = makeTempDir(self), path = dir + "/m.safetensors"
        let a = model(seed: 1)
        try a.saveSafetensors(to: path, metadata: ["note": "round trip"])
        let file = try SafeTensors.read(path)
        XCTAssertEqual(file.names, ["0.weight", "0.bias", "1.weight", "1.running_mean", "1.num_batches_tracked", "3.weight", "3.bias"])
        XCTAssertEqual(file.metadata, ["format": "pt", "note": "round trip"])
        let counter = try XCTUnwrap(file.entry("1.num_batches_tracked"))
        XCTAssertEqual(counter.dtype, .I64)
        XCTAssertEqual(counter.shape, [])
        XCTAssertEqual(counter.end - counter.begin, 8)
        XCTAssertEqual(file.entry("0.weight")?.dtype, .F32)
        XCTAssertEqual(file.entry("0.weight")?.shape, [3, 4])
        // The header is padded to 8 bytes and the data starts right after it.
        let bytes = try FileBytes.readRaw(path)
        XCTAssertEqual(Int(bytes[0]) % 8, 0)

        let b = model(seed: 2)
        XCTAssertNotEqual(snapshot(a), snapshot(b))
        try b.loadSafetensors(from: path)
        XCTAssertEqual(snapshot(a), snapshot(b))
        XCTAssertEqual(b.stateDict()[4].1.item, 11)
        let x = Tensor.randn([5, 4], generator: RandomGenerator(seed: 3))
        XCTAssertEqual(a(x).scalars, b(x).scalars)
    }

    /// A file from a header text and a data section.
    func rawFile(_ header: String, _ data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        let n = UInt64(h.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
    }

    func hdr(_ name: String, _ shape: [Int], _ b: Int, _ e: Int, dtype: String = "F32") -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(b),\(e)]}"
    }

    func testCorruptFilesAreRejectedWithoutTouchingTheModel() throws {
        let dir = makeTempDir(self), path = dir + "/bad.safetensors"
        let m = Sequential(Linear(2, 2, generator: RandomGenerator(seed: 4)))
        let before = snapshot(m)
        let good = "{" + hdr("0.weight", [2, 2], 0, 16) + "," + hdr("0.bias", [2], 16, 24) + "}"
        let data = [UInt8](repeating: 0, count: 24)
        // Sanity: the hand-made file is valid and loads (then restore the weights).
        writeBytes(rawFile(good, data), path)
        XCTAssertNoThrow(try SafeTensors.read(path))

        var cases: [(String, [UInt8])] = []
        let w = hdr("0.weight", [2, 2], 0, 16)
        cases.append(("shorter than the 8-byte header length", [1, 2, 3]))
        cases.append(("exceeds the file size", Array(rawFile(good, data).prefix(8) + Array(good.utf8).prefix(10))))
        cases.append(("exceeds the limit", [0, 0, 0, 0, 0, 1, 0, 0] + Array(good.utf8)))
        cases.append(("invalid JSON", rawFile("{\"0.weight\": {\"dtype\": \"F32\",", data)))
        cases.append(("invalid JSON", rawFile(good.replacingOccurrences(of: "}}", with: "}},"), data)))
        cases.append(("duplicate key", rawFile("{" + w + "," + hdr("0.weight", [2], 16, 24) + "}", data)))
        cases.append(("header is a JSON array", rawFile("[1, 2]", data)))
        cases.append(
            (
                "\"0.bias\": data_offsets span 12 bytes but F32 [2] needs 8",
                rawFile("{" + w + "," + hdr("0.bias", [2], 16, 28) + "}", data + [0, 0, 0, 0])
            ))
        cases.append(("overlap", rawFile("{" + w + "," + hdr("0.bias", [2], 12, 20) + "}", data)))
        cases.append(
            (
                "\"0.bias\": data_offsets [16, 32] outside the data section of 24 bytes",
                rawFile("{" + w + "," + hdr("0.bias", [2], 16, 32, dtype: "F64") + "}", data)
            ))
        cases.append(
            ("gap of 4 bytes before tensor \"0.bias\"", rawFile("{" + w + "," + hdr("0.bias", [2], 20, 28) + "}", data + [0, 0, 0, 0])))
        cases.append(("data section has 24 bytes but the tensors cover 16", rawFile("{" + w + "}", data)))
        cases.append(("\"0.bias\": data_offsets [16, 24] outside the data section of 20 bytes", Array(rawFile(good, data).dropLast(4))))
        cases.append(
            ("\"0.bias\": unsupported dtype \"F99\"", rawFile("{" + w + "," + hdr("0.bias", [2], 16, 24, dtype: "F99") + "}", data)))
        cases.append(("must be [begin, end]", rawFile("{" + hdr("0.weight", [2, 2], 16, 0) + "}", data)))
        cases.append(("not a list of non-negative integers", rawFile("{" + hdr("0.weight", [2, -2], 0, 16) + "}", data)))
        cases.append(
            (
                "unknown field",
                rawFile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16],\"x\":1}}", Array(data.prefix(16)))
            ))
        cases.append(("__metadata__ value for \"a\" is not a string", rawFile("{\"__metadata__\":{\"a\":1}," + good.dropFirst(), data)))
        for (fragment, bytes) in cases {
            writeBytes(bytes, path)
            assertIOError(path, fragment) { try m.loadSafetensors(from: path) }
            XCTAssertEqual(snapshot(m), before, "module changed by a failed load (\(fragment))")
        }
        assertIOError(dir + "/missing.safetensors", "not found") { try m.loadSafetensors(from: dir + "/missing.safetensors") }

        // Valid files that do not fit the module: errors name the key.
        let mismatch: [(String, [(String, Tensor)])] = [
            (
                "\"0.weight\" has shape [3, 2] in \(path) but [2, 2] in the module",
                [("0.weight", Tensor(zeros: [3, 2])), ("0.bias", Tensor(zeros: [2]))]
            ),
            ("missing keys: \"0.bias\"", [("0.weight", Tensor(zeros: [2, 2]))]),
            (
                "unexpected keys: \"1.weight\"",
                [("0.weight", Tensor(zeros: [2, 2])), ("0.bias", Tensor(zeros: [2])), ("1.weight", Tensor(zeros: [1]))]
            ),
        ]
        for (fragment, tensors) in mismatch {
            try SafeTensors.write(tensors, to: path)
            do {
                try m.loadSafetensors(from: path)
                XCTFail("expected \(fragment)")
            } catch let StrataError.checkpoint(message) {
                XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'")
            }
            XCTAssertEqual(snapshot(m), before)
        }
    }

    func testNonStrictLoadReportsSkippedKeys() throws {
        let dir = makeTempDir(self), path = dir + "/p.safetensors"
        let m = Sequential(Linear(2, 2, generator: RandomGenerator(seed: 4)))
        try SafeTensors.write([("0.weight", Tensor(shape: [2, 2], [1, 2, 3, 4])), ("extra", Tensor.scalar(1))], to: path)
        let report = try m.loadSafetensors(from: path, strict: false)
        XCTAssertEqual(report, StateDictReport(missingKeys: ["0.bias"], unexpectedKeys: ["extra"]))
        XCTAssertEqual(m.stateDict()[0].1.scalars, [1, 2, 3, 4])
    }

    func testReadsEveryDTypeWrittenByPyTorch() throws {
        let expected = try loadFixture("safetensors")["dtypes"] as! [String: Any]
        let file = try SafeTensors.read(try XCTUnwrap(fixtureURL("dtypes", "safetensors")).path)
        XCTAssertEqual(file.metadata["source"], "pytorch")
        XCTAssertEqual(Set(file.entries.map(\.dtype)), [.F32, .F64, .F16, .BF16, .I64, .I32])
        for (name, info) in expected {
            let e = info as! [String: Any]
            let t = try XCTUnwrap(file.tensor(name), name)
            XCTAssertEqual(t.shape, ints(e["shape"]), name)
            assertClose(t.scalars, floats(e["values"]), rtol: 1e-7, atol: 0, name)
        }
        XCTAssertEqual(file.entry("bn.num_batches_tracked")?.dtype, .I64)
        XCTAssertEqual(file.tensor("bn.num_batches_tracked")?.item, 42)
        // Half-precision edge cases.
        XCTAssertEqual(SafeTensors.halfToFloat(0x7C00), .infinity)
        XCTAssertTrue(SafeTensors.halfToFloat(0x7E00).isNaN)
        XCTAssertEqual(SafeTensors.halfToFloat(0x0001), 0x1p-24)
        XCTAssertEqual(SafeTensors.halfToFloat(0xC000), -2)
    }

    func testLoadsAModelSavedByPyTorch() throws {
        let fx = try loadFixture("safetensors")["mlp"] as! [String: Any]
        let m = Sequential(Linear(4, 3), ReLU(), Linear(3, 2))
        try m.loadSafetensors(from: try XCTUnwrap(fixtureURL("torch_mlp", "safetensors")).path)
        let y = m(Tensor(shape: [2, 4], floats(fx["input"])))
        assertClose(y.scalars, floats(fx["output"]), rtol: 1e-5, atol: 1e-6)
    }

    func testInterruptedSaveLeavesThePreviousFileIntact() throws {
        let dir = makeTempDir(self), path = dir + "/ckpt.safetensors"
        let good = model(seed: 1)
        try Checkpoint(model: good, epoch: 1, step: 10).save(to: path)
        let before = try FileBytes.readRaw(path)
        struct Crash: Error {}
        let other = Checkpoint(model: model(seed: 2), epoch: 2, step: 20)
        XCTAssertThrowsError(
            try other.save(
                to: path,
                beforeRename: {
                    // The new file is fully written and synced in the same directory at this point.
                    let temps = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }
                    XCTAssertEqual(temps.count, 1)
                    throw Crash()
                }))
        XCTAssertEqual(try FileBytes.readRaw(path), before, "previous checkpoint must be untouched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["ckpt.safetensors"], "temp file removed")
        let loaded = try Checkpoint.load(from: path)
        XCTAssertEqual(loaded.epoch, 1)
        let fresh = model(seed: 3)
        try loaded.restore(model: fresh, generators: [:])
        XCTAssertEqual(snapshot(fresh), snapshot(good))
        // A save that completes replaces the file.
        try other.save(to: path)
        XCTAssertEqual(try Checkpoint.load(from: path).epoch, 2)
    }

    /// Trains an MLP with Dropout (global generator), SGD momentum and StepLR
    /// from `start` to `end` epochs, returning every batch loss.
    func train(_ m: Sequential, _ opt: SGD, _ sched: StepLR, _ loader: DataLoader, epochs: Range<Int>, step: inout Int) -> [Float] {
        var losses: [Float] = []
        loader.epoch = epochs.lowerBound
        for _ in epochs {
            for batch in loader {
                let loss = crossEntropy(m(batch.images), labels: batch.labels)
                opt.zeroGrad()
                loss.backward()
                opt.step()
                step += 1
                losses.append(loss.item)
            }
            sched.step()
        }
        return losses
    }

    func testResumeFromCheckpointReproducesTheUninterruptedRun() throws {
        let saved = Threading.count
        Threading.count = 1
        defer { Threading.count = saved }
        let dir = makeTempDir(self), path = dir + "/resume.safetensors"
        let g = RandomGenerator(seed: 11)
        let data = Dataset(images: Tensor.randn([48, 6], generator: g), labels: (0..<48).map { $0 % 3 })
        func setup(seed: UInt64) -> (Sequential, SGD, StepLR, DataLoader) {
            let m = Sequential(
                Linear(6, 8, generator: RandomGenerator(seed: seed)), ReLU(), Dropout(p: 0.3),
                Linear(8, 3, generator: RandomGenerator(seed: seed + 1)))
            let opt = SGD(parameters: m.parameters(), learningRate: 0.1, momentum: 0.9)
            return (m, opt, StepLR(opt, stepSize: 2, gamma: 0.5), DataLoader(data, batchSize: 10, shuffle: true, seed: 5))
        }
        manualSeed(99)
        var step = 0
        let (m1, o1, s1, l1) = setup(seed: 1)
        let full = train(m1, o1, s1, l1, epochs: 0..<5, step: &step)

        manualSeed(99)
        step = 0
        let (m2, o2, s2, l2) = setup(seed: 1)
        let firstPart = train(m2, o2, s2, l2, epochs: 0..<3, step: &step)
        try Checkpoint(model: m2, optimizer: o2, scheduler: s2, epoch: 3, step: step).save(to: path)
        manualSeed(12345)  // disturb the global generator: the checkpoint must restore it

        let (m3, o3, s3, l3) = setup(seed: 7)
        let ckpt = try Checkpoint.load(from: path)
        try ckpt.restore(model: m3, optimizer: o3, scheduler: s3)
        XCTAssertEqual(ckpt.step, 15)
        XCTAssertEqual(o3.learningRate, o2.learningRate)
        var step3 = ckpt.step
        let rest = train(m3, o3, s3, l3, epochs: ckpt.epoch..<5, step: &step3)
        XCTAssertEqual(firstPart + rest, full, "resumed losses must equal the uninterrupted run bit for bit")
        XCTAssertEqual(snapshot(m3), snapshot(m1))
    }

    func testRestoreIsAllOrNothing() throws {
        let m = Sequential(Linear(2, 2), ReLU(), Linear(2, 2))
        let opt = SGD(parameters: m.parameters(), learningRate: 0.5, momentum: 0.9)
        let other = Sequential(Linear(2, 3), ReLU(), Linear(3, 2))
        let bad = Checkpoint(model: other, optimizer: SGD(parameters: other.parameters(), learningRate: 0.1), epoch: 1, step: 1)
        let before = snapshot(m), rng = RandomGenerator.global.state
        XCTAssertThrowsError(try bad.restore(model: m, optimizer: opt)) { error in
            XCTAssertTrue("\(error)".contains("\"0.weight\" has shape [3, 2]"), "\(error)")
        }
        XCTAssertEqual(snapshot(m), before)
        XCTAssertEqual(opt.learningRate, 0.5)
        XCTAssertEqual(RandomGenerator.global.state, rng)
        var c = Checkpoint(model: m, epoch: 0, step: 0)
        c.generators = [:]
        XCTAssertThrowsError(try c.restore(model: m)) { XCTAssertTrue("\($0)".contains("random generator \"global\"")) }
    }

    func testCheckpointLoadRejectsForeignFiles() throws {
        let dir = makeTempDir(self), path = dir + "/plain.safetensors"
        try model(seed: 1).saveSafetensors(to: path)
        assertIOError(path, "not a Strata checkpoint") { try Checkpoint.load(from: path) }
    }

    /// A Python that can import torch and safetensors, if any.
    func torchPython() -> String? {
        for candidate in pythonCandidates() where FileManager.default.isExecutableFile(atPath: candidate) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: candidate)
            p.arguments = ["-c", "import torch, safetensors.torch"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { continue }
            p.waitUntilExit()
            if p.terminationStatus == 0 { return candidate }
        }
        return nil
    }

    func testPyTorchLoadsStrataCheckpoint() throws {
        guard let python = torchPython() else {
            throw XCTSkip("no Python with torch and safetensors (tried \(pythonCandidates().joined(separator: ", ")))")
        }
        let dir = makeTempDir(self)
        let m = Sequential(Linear(5, 7, generator: RandomGenerator(seed: 21)), ReLU(), Linear(7, 3, generator: RandomGenerator(seed: 22)))
        try m.saveSafetensors(to: dir + "/strata.safetensors")
        let x = Tensor.randn([4, 5], generator: RandomGenerator(seed: 23))
        let rows = (0..<4).map { r in (0..<5).map { Double(x[r, $0]) } }
        try JSONSerialization.data(withJSONObject: rows).write(to: URL(fileURLWithPath: dir + "/in.json"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [
            try XCTUnwrap(fixtureURL("torch_load_check", "py")).path, dir + "/strata.safetensors", "5,7,3",
            dir + "/in.json", dir + "/out.json", dir + "/torch.safetensors",
        ]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "torch_load_check.py failed")
        let out = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out.json"))) as! [[Double]]
        assertClose(m(x).scalars, out.flatMap { $0.map(Float.init) }, rtol: 1e-5, atol: 1e-6)
        // And back: PyTorch's own file loads into a fresh Strata model.
        let back = Sequential(Linear(5, 7), ReLU(), Linear(7, 3))
        try back.loadSafetensors(from: dir + "/torch.safetensors")
        XCTAssertEqual(snapshot(back), snapshot(m))
    }
}

/// Pythons that may have torch: $STRATA_PYTHON, the repository's .venv, then
/// the system's.
func pythonCandidates() -> [String] {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var list: [String] = []
    if let env = ProcessInfo.processInfo.environment["STRATA_PYTHON"] { list.append(env) }
    list += [repo.appendingPathComponent(".venv/bin/python").path, "/usr/bin/python3"]
    return list
}
