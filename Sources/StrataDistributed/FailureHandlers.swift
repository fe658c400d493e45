import Foundation

/// Makes a rank that traps say who it was before it dies.
///
/// A trap (strataFatal, a failed precondition, a bad access) ends the
/// process by a signal. Under `mpirun` the launcher then ends every other
/// rank ("mpirun noticed that process rank 1 ... exited on signal 4"), so
/// the job never hangs; these handlers add one line naming the rank
/// ("strata: rank 1/2: fatal signal 4 (the message above is this rank's)")
/// and re-raise the signal with its default action, so the process still
/// dies at once. Only async-signal-safe calls (write, signal, raise) run in
/// the handler; its message is formatted beforehand.
enum FailureHandlers {
    nonisolated(unsafe) static var message: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) static var messageLength = 0

    static let signals: [Int32] = [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE]

    static func install(rank: Int, worldSize: Int) {
        let text = Array("strata: rank \(rank)/\(worldSize): fatal signal (the error above is this rank's); ending the job\n".utf8CString)
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: text.count)
        buffer.initialize(from: text, count: text.count)
        message = buffer
        messageLength = text.count - 1
        for s in signals {
            signal(s) { sig in
                if let m = FailureHandlers.message { _ = write(2, m, FailureHandlers.messageLength) }
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
    }
}
