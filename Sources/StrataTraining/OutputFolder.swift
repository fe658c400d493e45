import Foundation

/// What a program wrote into its output folder, for the last line it prints.
public enum OutputFolder {
    /// The names of the regular files directly in `path`, sorted and
    /// separated by spaces ("(nothing)" when there are none or the folder
    /// cannot be read). Printing this instead of a fixed list keeps a
    /// program from naming files it did not write (a PNG when
    /// `rsvg-convert` is not installed, say).
    public static func listing(_ path: String) -> String {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: path)) ?? []
        let files = names.filter { name in
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: "\(path)/\(name)", isDirectory: &isDir) && !isDir.boolValue && !name.hasPrefix(".")
        }.sorted()
        return files.isEmpty ? "(nothing)" : files.joined(separator: " ")
    }
}
