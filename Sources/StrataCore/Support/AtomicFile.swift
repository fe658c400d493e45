import Foundation
import Glibc

/// Crash-safe file replacement.
///
/// `write` puts the bytes in a temporary file in the target's directory,
/// fsyncs it, renames it over the target (atomic on POSIX file systems) and
/// fsyncs the directory so the rename itself is durable. A crash or error at
/// any point leaves either the old file or the complete new one in place,
/// never a truncated mix; on a thrown error the temporary file is removed.
///
/// A process killed mid-save leaves its temporary file behind (named
/// `.<target>.tmp-<pid>-<random>`). Each save first removes the temporary
/// files of the same target whose process no longer exists, so killed saves
/// do not accumulate; a save in progress in another live process keeps its
/// file.
package enum AtomicFile {
    /// The prefix of `target`'s temporary files in its directory.
    static func tempPrefix(_ target: String) -> String { ".\(target).tmp-" }

    /// Removes temporary files of `name` in `directory` left by processes
    /// that have exited (the PID in the name is not alive). Returns how many
    /// were removed. Files of this process and of live processes are kept.
    @discardableResult
    static func removeStaleTemps(of name: String, in directory: String) -> Int {
        let prefix = tempPrefix(name)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory) else {
            return 0
        }
        var removed = 0
        for entry in entries where entry.hasPrefix(prefix) {
            let rest = entry.dropFirst(prefix.count).split(separator: "-")
            guard rest.count == 2, let pid = pid_t(rest[0]), pid > 0, pid != getpid(), UInt32(rest[1]) != nil else { continue }
            // kill(pid, 0) fails with ESRCH only when no such process exists.
            if kill(pid, 0) != 0 && errno == ESRCH, unlink("\(directory)/\(entry)") == 0 { removed += 1 }
        }
        return removed
    }

    /// Writes `bytes` to `path` atomically. `beforeRename` runs after the
    /// temporary file is written and synced and before it replaces `path`;
    /// tests throw from it to simulate a failure at the worst moment.
    package static func write(_ bytes: [UInt8], to path: String, beforeRename: (() throws -> Void)? = nil) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        removeStaleTemps(of: url.lastPathComponent, in: directory)
        let temp = "\(directory)/\(tempPrefix(url.lastPathComponent))\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        func fail(_ what: String) -> StrataError {
            .io(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
        }
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("cannot create temporary file \(temp)") }
        var closed = false
        var renamed = false
        defer {
            if !closed { close(fd) }
            if !renamed { unlink(temp) }
        }
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                guard let base = raw.baseAddress else { break }
                let n = Glibc.write(fd, base + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail("write failed")
                }
                done += n
            }
        }
        guard fsync(fd) == 0 else { throw fail("fsync failed") }
        closed = true
        guard close(fd) == 0 else { throw fail("close failed") }
        try beforeRename?()
        guard rename(temp, path) == 0 else { throw fail("rename over the target failed") }
        renamed = true
        // Make the rename durable. Failure here cannot un-write the file, so
        // it is not an error (some file systems refuse fsync on directories).
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}
