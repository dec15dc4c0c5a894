#if canImport(Glibc)
    import Glibc
#endif
import NIOPosix

/// The one thread where activity is put into words and written, at the lowest scheduling priority
/// (nice 19) below the threads that answer: while the machine has spare time the writer keeps up
/// with everything; when DNS or the proxy saturate the cores, answering comes first and the
/// writer gets what the scheduler leaves a nice-19 thread (about 1.5% of a core against one busy
/// nice-0 thread), so the recorder's queue fills and further events are dropped, counted and
/// logged (never a query slowed by its own log line). At nice 10 it took about a tenth of the
/// core at saturation, and DNS answered that much less.
public final class ActivityLane: Sendable {
    /// The scheduling niceness of the lane's thread (0 is the answering threads').
    public static let niceness: Int32 = 19
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
