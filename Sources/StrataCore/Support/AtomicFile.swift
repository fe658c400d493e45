import Glibc
import Foundation

/// Crash-safe file replacement.
///
/// `write` puts the bytes in a temporary file in the target's directory,
/// fsyncs it, renames it over the target (atomic on POSIX file systems) and
/// fsyncs the directory so the rename itself is durable. A crash or error at
/// any point leaves either the old file or the complete new one in place,
/// never a truncated mix; on a thrown error the temporary file is removed.
package enum AtomicFile {
    /// Writes `bytes` to `path` atomically. `beforeRename` runs after the
    /// temporary file is written and synced and before it replaces `path`;
    /// tests throw from it to simulate a failure at the worst moment.
    package static func write(_ bytes: [UInt8], to path: String, beforeRename: (() throws -> Void)? = nil) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temp = "\(directory)/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
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
