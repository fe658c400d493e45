import CMPI
import Foundation
import StrataCore

/// The processes of one data-parallel job, over Open MPI's `MPI_COMM_WORLD`.
///
///     let group = try ProcessGroup.initialize()      // once per process
///     group.allReduce(t, op: .mean)                    // every rank, same order
///
/// Started by `mpirun -np N`, the program is rank 0..<N of a world of N.
/// Started without `mpirun` (no Open MPI launcher variables in the
/// environment) it is a world of one: MPI is not initialised, every
/// collective returns its input, and the same program runs unchanged.
///
/// Collectives (`allReduce`, `broadcast`, `barrier`) must be called by every
/// rank, in the same order, with the same counts. MPI is initialised with
/// `MPI_THREAD_FUNNELED`: call them from the thread that called
/// `initialize` (Strata's kernels use their worker threads only inside a
/// kernel, never for communication). MPI is finalised at normal exit.
public final class ProcessGroup: ChannelStatisticsReducer, @unchecked Sendable {
    /// This process's index, 0..<worldSize.
    public let rank: Int
    /// Number of processes in the job.
    public let worldSize: Int
    /// Whether MPI was initialised (false for a world of one started without mpirun).
    public let usesMPI: Bool
    /// The thread support level MPI granted (`.funneled` or better when `usesMPI`).
    public let threadLevel: ThreadLevel

    /// MPI's thread support levels, lowest first.
    public enum ThreadLevel: Int32, Comparable, Sendable {
        case single = 0, funneled = 1, serialized = 2, multiple = 3
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    /// Reduction for `allReduce`.
    public enum ReduceOp: Sendable { case sum, mean, max, min }

    nonisolated(unsafe) private static var shared: ProcessGroup?

    private init(rank: Int, worldSize: Int, usesMPI: Bool, threadLevel: ThreadLevel) {
        self.rank = rank
        self.worldSize = worldSize
        self.usesMPI = usesMPI
        self.threadLevel = threadLevel
    }

    /// Whether this process was started by an MPI launcher (mpirun / mpiexec / srun with PMIx).
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains { env[$0] != nil }
    }

    /// Initialises MPI once per process (later calls return the same group)
    /// and installs the failure handlers (`ProcessGroup.run`). Throws when
    /// MPI grants less than `threadLevel`.
    public static func initialize(threadLevel requested: ThreadLevel = .funneled) throws -> ProcessGroup {
        if let g = shared { return g }
        guard launchedByMPI else {
            let g = ProcessGroup(rank: 0, worldSize: 1, usesMPI: false, threadLevel: .multiple)
            shared = g
            return g
        }
        var provided: Int32 = 0
        let status = MPI_Init_thread(nil, nil, requested.rawValue, &provided)
        guard status == MPI_SUCCESS else {
            throw StrataError.invalidArgument("ProcessGroup: MPI_Init_thread failed with error \(status)")
        }
        var rank: Int32 = 0, size: Int32 = 1
        MPI_Comm_rank(strata_mpi_comm_world(), &rank)
        MPI_Comm_size(strata_mpi_comm_world(), &size)
        let granted = ThreadLevel(rawValue: provided) ?? .single
        let g = ProcessGroup(rank: Int(rank), worldSize: Int(size), usesMPI: true, threadLevel: granted)
        guard granted >= requested else {
            MPI_Finalize()
            throw StrataError.invalidArgument(
                "ProcessGroup: requested MPI thread level \(requested), this MPI grants only \(granted)")
        }
        shared = g
        atexit { ProcessGroup.finalizeAtExit() }
        FailureHandlers.install(rank: g.rank, worldSize: g.worldSize)
        return g
    }

    private static func finalizeAtExit() {
        var done: Int32 = 0
        MPI_Finalized(&done)
        if done == 0 { MPI_Finalize() }
    }

    /// A prefix for messages: "rank 1/2: ".
    public var label: String { "rank \(rank)/\(worldSize)" }

    // MARK: Collectives

    /// Reduces `values` in place over every rank.
    public func allReduce(_ values: UnsafeMutableBufferPointer<Float>, op: ReduceOp = .sum) {
        guard usesMPI, worldSize > 1, let base = values.baseAddress, !values.isEmpty else { return }
        check(
            MPI_Allreduce(
                strata_mpi_in_place(), base, Int32(values.count), strata_mpi_float(), mpiOp(op),
                strata_mpi_comm_world()), "MPI_Allreduce")
        if op == .mean { scale(values, by: 1 / Float(worldSize)) }
    }

    /// Reduces `values` in place over every rank, in Double.
    public func allReduce(_ values: UnsafeMutableBufferPointer<Double>, op: ReduceOp = .sum) {
        guard usesMPI, worldSize > 1, let base = values.baseAddress, !values.isEmpty else { return }
        check(
            MPI_Allreduce(
                strata_mpi_in_place(), base, Int32(values.count), strata_mpi_double(), mpiOp(op),
                strata_mpi_comm_world()), "MPI_Allreduce")
        if op == .mean { for i in values.indices { values[i] /= Double(worldSize) } }
    }

    /// Reduces a tensor's elements in place over every rank (shapes must agree).
    public func allReduce(_ tensor: Tensor, op: ReduceOp = .sum) {
        allReduce(UnsafeMutableBufferPointer(start: tensor.data, count: tensor.count), op: op)
    }

    /// Reduces an array of Doubles over every rank and returns the result.
    public func allReduce(_ values: [Double], op: ReduceOp = .sum) -> [Double] {
        var v = values
        v.withUnsafeMutableBufferPointer { allReduce($0, op: op) }
        return v
    }

    /// Reduces one value over every rank.
    public func allReduce(_ value: Double, op: ReduceOp = .sum) -> Double { allReduce([value], op: op)[0] }

    /// `ChannelStatisticsReducer`: sums SyncBatchNorm's statistics.
    public func sumAcrossProcesses(_ values: UnsafeMutableBufferPointer<Double>) { allReduce(values, op: .sum) }

    /// Copies `root`'s bytes into every rank's buffer (same count everywhere).
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int = 0) {
        guard usesMPI, worldSize > 1, let base = bytes.baseAddress, !bytes.isEmpty else { return }
        strataCheck(root >= 0 && root < worldSize, "ProcessGroup.broadcast: root \(root) outside 0..<\(worldSize)")
        var offset = 0
        // MPI counts are Int32: send in pieces of at most 1 GB.
        while offset < bytes.count {
            let n = min(bytes.count - offset, 1 << 30)
            check(MPI_Bcast(base + offset, Int32(n), strata_mpi_byte(), Int32(root), strata_mpi_comm_world()), "MPI_Bcast")
            offset += n
        }
    }

    /// Copies `root`'s tensor elements into every rank's tensor (shapes must agree).
    public func broadcast(_ tensor: Tensor, root: Int = 0) {
        broadcast(UnsafeMutableRawBufferPointer(start: tensor.data, count: tensor.count * MemoryLayout<Float>.size), root: root)
    }

    /// `root`'s string on every rank.
    public func broadcast(_ string: String, root: Int = 0) -> String {
        var length = [Double(string.utf8.count)]
        length.withUnsafeMutableBytes { broadcast($0, root: root) }
        var bytes = [UInt8](repeating: 0, count: Int(length[0]))
        if rank == root { bytes = Array(string.utf8) }
        bytes.withUnsafeMutableBytes { broadcast($0, root: root) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Waits until every rank has called it.
    public func barrier() {
        guard usesMPI, worldSize > 1 else { return }
        check(MPI_Barrier(strata_mpi_comm_world()), "MPI_Barrier")
    }

    /// Prints `message` with this rank's label to stderr and ends every
    /// process of the job (MPI_Abort); a world of one exits.
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("strata: \(label): \(message)\n".utf8))
        if usesMPI { MPI_Abort(strata_mpi_comm_world(), code) }
        exit(code)
    }

    /// Runs `body`; an error it throws ends the whole job with a message
    /// naming this rank (`abort`), never leaving the other ranks waiting in
    /// a collective. A trap (strataFatal, a failed precondition) is caught
    /// by the signal handlers `initialize` installs, which name the rank too.
    public func run(_ body: () throws -> Void) {
        do { try body() } catch { abort("\(error)") }
    }

    // MARK: Helpers

    private func mpiOp(_ op: ReduceOp) -> MPI_Op {
        switch op {
        case .sum, .mean: return strata_mpi_sum()
        case .max: return strata_mpi_max()
        case .min: return strata_mpi_min()
        }
    }

    private func scale(_ values: UnsafeMutableBufferPointer<Float>, by f: Float) {
        for i in values.indices { values[i] *= f }
    }

    private func check(_ status: Int32, _ call: String) {
        // MPI's default error handler (MPI_ERRORS_ARE_FATAL) aborts the job
        // before returning; this catches a handler that returns instead.
        if status != MPI_SUCCESS { abort("\(call) failed with error \(status)") }
    }
}
