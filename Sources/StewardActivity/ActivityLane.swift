#if canImport(Glibc)
    import Glibc
#endif
import NIOPosix

/// The one thread where activity is put into words and written, at a lower scheduling priority
/// (nice 10) than the threads that answer: while the machine has spare time the writer keeps up
/// with everything; when DNS or the proxy saturate the cores, answering comes first and the
/// writer gets about a tenth of a core, so the recorder's queue fills and further events are
/// dropped and counted (never a query slowed by its own log line).
public final class ActivityLane: Sendable {
    /// The scheduling niceness of the lane's thread (0 is the answering threads').
    public static let niceness: Int32 = 10
    public static let shared = ActivityLane()

    private let pool: NIOThreadPool

    private init() {
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        // On Linux the nice value belongs to the thread (who = 0 is the calling thread).
        pool.submit { _ in
            #if canImport(Glibc)
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, ActivityLane.niceness)
            #endif
        }
    }

    /// Runs `body` on the lane's thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }
}
