import Foundation
import Strata

/// DataLoader throughput over an `ImageFolder` of PNGs: 2,000 32x32 RGB
/// images in 10 class folders, written to a temporary folder at setup
/// (untimed) and removed afterwards. One sample is one shuffled epoch in
/// batches of 128: decode (libpng), ToTensor, RandomCrop(32, padding 4),
/// RandomHorizontalFlip, Normalize, stacking. The record's `threads` is
/// the loader's `numWorkers` (the library's thread count does not enter).
let imageFolderLoadWorkload = Workload(name: "imagefolder-load", ids: ["imagefolder-load"]) { run, threads in
    let count = run.quick ? 500 : 2_000
    let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("strata-bench-imagefolder-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let folder: ImageFolder
    do {
        try writeBenchImages(count: count, to: root)
        folder = try ImageFolder(root: root)
    } catch {
        print("imagefolder-load: setup failed: \(error)")
        return
    }
    let transform = Compose([
        RandomCrop(32, padding: 4), RandomHorizontalFlip(),
        Normalize(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616]),
    ])
    let loader = DataLoader(folder, batchSize: 128, shuffle: true, seed: 1, transform: transform, numWorkers: threads)
    let s = run.timer.measure {
        var acc: Float = 0
        var it = loader.makeIterator()
        do {
            while let batch = try it.nextBatch() { acc += batch.images[0, 0, 0, 0] }
        } catch {
            print("imagefolder-load: \(error)")
        }
        return acc
    }
    run.add(
        Record(
            id: "imagefolder-load", threads: threads, unit: .imagesPerSecond, samples: s, work: Double(count),
            note: "\(count) 32x32 RGB PNGs, decode + crop/flip/normalize, batch 128; threads = numWorkers"))
}

/// `count` random-texture 32x32 RGB PNGs, spread over 10 class folders.
func writeBenchImages(count: Int, to root: String) throws {
    let fm = FileManager.default
    let g = RandomGenerator(seed: 12)
    for c in 0..<10 { try fm.createDirectory(atPath: "\(root)/class\(c)", withIntermediateDirectories: true) }
    for i in 0..<count {
        // Smooth gradients plus noise: compresses like a photo thumbnail, not like flat colour.
        let (r0, g0, b0) = (g.nextInt(below: 256), g.nextInt(below: 256), g.nextInt(below: 256))
        var px = [UInt8](repeating: 0, count: 32 * 32 * 3)
        for y in 0..<32 {
            for x in 0..<32 {
                let n = g.nextInt(below: 32)
                px[(y * 32 + x) * 3] = UInt8((r0 + 4 * x + n) % 256)
                px[(y * 32 + x) * 3 + 1] = UInt8((g0 + 4 * y + n) % 256)
                px[(y * 32 + x) * 3 + 2] = UInt8((b0 + 2 * (x + y) + n) % 256)
            }
        }
        let png = try Image(width: 32, height: 32, channels: 3, pixels: px).pngData()
        guard fm.createFile(atPath: "\(root)/class\(i % 10)/\(i).png", contents: Data(png)) else {
            throw StrataError.io(path: "\(root)/class\(i % 10)/\(i).png", reason: "cannot write")
        }
    }
}
