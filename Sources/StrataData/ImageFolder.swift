import Foundation
import StrataCore

/// What `ImageFolder` does with a file it cannot decode.
public enum BadImagePolicy: Sendable, Equatable {
    /// `sample(at:)` throws `StrataError.io` naming the file (torchvision's
    /// behaviour); nothing is decoded at construction.
    case throwError
    /// Every file is decoded once at construction; those that fail are left
    /// out of `samples` and listed in `skipped` with their reasons.
    case skip
}

/// Images in a folder per class (torchvision's `datasets.ImageFolder`):
///
///     root/cat/001.png
///     root/cat/kittens/002.jpg
///     root/dog/xyz.jpeg
///
/// The classes are the sub-folders of `root`, sorted by name (code point
/// order, as Python's `sorted`); class i is the i-th name. Each class
/// folder is walked recursively; folders are visited in sorted path order
/// and files sorted within each, as torchvision's
/// `sorted(os.walk(...))` / `sorted(fnames)`. A file is an image when its
/// name ends, in any case, in one of `extensions` (default `.png .jpg
/// .jpeg`, the PNG and JPEG part of torchvision's `IMG_EXTENSIONS`); other
/// files (a README, `.DS_Store`, `.gif`) are skipped silently, as
/// torchvision does. Files at `root` itself belong to no class and are
/// ignored.
///
/// Each sample is decoded (PNG by libpng, JPEG by libjpeg-turbo, told apart
/// by content) to 8-bit `mode` pixels, then `ToTensor` makes it [C, H, W]
/// in [0, 1]. Images may differ in size; give the loader a `transform`
/// (`Resize`, `CenterCrop`) that makes them equal before batching.
///
/// Errors: no class folder, or a class folder without an image file
/// ("Found no valid file for the classes ...", PyTorch's words) throw at
/// construction; a corrupt or truncated image throws from `sample(at:)`
/// naming the file, or is skipped and counted with `badImages: .skip`.
public struct ImageFolder: DatasetProtocol {
    public let root: String
    /// Class names, sorted; index = label.
    public let classes: [String]
    /// Class name -> label (torchvision's `class_to_idx`).
    public let classToIndex: [String: Int]
    /// Every image file, in order, with its label (torchvision's `samples`).
    public let samples: [(path: String, label: Int)]
    /// Files left out under `badImages: .skip`, with the decoder's reason.
    public let skipped: [(path: String, reason: String)]
    public let mode: ImageColorMode
    public let extensions: [String]

    public init(
        root: String, mode: ImageColorMode = .rgb, extensions: [String] = [".png", ".jpg", ".jpeg"],
        badImages: BadImagePolicy = .throwError
    ) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw StrataError.io(path: root, reason: "ImageFolder: no such folder")
        }
        let lowered = extensions.map { $0.lowercased() }
        let names = try Self.entries(of: root).filter { Self.isDirectory(root + "/" + $0) }
        let classes = names.sorted(by: Self.codePointOrder)
        guard !classes.isEmpty else {
            throw StrataError.io(path: root, reason: "Couldn't find any class folder in \(root).")
        }
        var files: [(String, Int)] = []
        var empty: [String] = []
        for (label, name) in classes.enumerated() {
            let found = try Self.walk(root + "/" + name).filter { path in lowered.contains { path.lowercased().hasSuffix($0) } }
            if found.isEmpty { empty.append(name) }
            files += found.map { ($0, label) }
        }
        guard empty.isEmpty else {
            throw StrataError.io(
                path: root,
                reason: "Found no valid file for the classes \(empty.joined(separator: ", ")). "
                    + "Supported extensions are: \(extensions.joined(separator: ", "))")
        }
        var bad: [(String, String)] = []
        if badImages == .skip {
            files = files.filter { path, _ in
                do { _ = try Image(contentsOf: path, mode: mode); return true } catch {
                    bad.append((path, "\(error)"))
                    return false
                }
            }
        }
        self.root = root
        self.classes = classes
        self.classToIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        self.samples = files.map { (path: $0.0, label: $0.1) }
        self.skipped = bad.map { (path: $0.0, reason: $0.1) }
        self.mode = mode
        self.extensions = extensions
    }

    public var count: Int { samples.count }

    /// The decoded 8-bit image of sample `index`.
    public func image(at index: Int) throws -> Image {
        guard index >= 0 && index < count else {
            throw StrataError.invalidArgument("ImageFolder: index \(index) outside 0..<\(count)")
        }
        return try Image(contentsOf: samples[index].path, mode: mode)
    }

    /// Sample `index` as [C, H, W] in [0, 1] and its label.
    public func sample(at index: Int) throws -> Sample {
        Sample(image: ToTensor()(try image(at: index)), label: samples[index].label)
    }

    /// How many samples each class has (index = class).
    public var classCounts: [Int] {
        var c = [Int](repeating: 0, count: classes.count)
        for s in samples { c[s.label] += 1 }
        return c
    }

    // MARK: walking the tree

    /// Python's `sorted` on str: lexicographic by Unicode code point.
    static func codePointOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
    }

    static func entries(of dir: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            throw StrataError.io(path: dir, reason: "ImageFolder: cannot list the folder (\(error.localizedDescription))")
        }
    }

    /// True for a folder or a link to one (os.walk(followlinks=True)).
    static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    /// Files under `dir`, folders in sorted path order and files sorted in
    /// each (torchvision's walk). Linked folders are followed once each.
    static func walk(_ dir: String) throws -> [String] {
        var folders: [String] = []
        var seen = Set<String>()
        var stack = [dir]
        while let d = stack.popLast() {
            let real = (d as NSString).resolvingSymlinksInPath
            guard seen.insert(real).inserted else { continue }
            folders.append(d)
            for name in try entries(of: d) where isDirectory(d + "/" + name) { stack.append(d + "/" + name) }
        }
        var out: [String] = []
        for d in folders.sorted(by: codePointOrder) {
            let names = try entries(of: d).filter { !isDirectory(d + "/" + $0) }
            out += names.sorted(by: codePointOrder).map { d + "/" + $0 }
        }
        return out
    }
}
