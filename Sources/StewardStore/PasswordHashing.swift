import NIOCore
import NIOPosix

/// Where bcrypt runs: a thread pool of its own, one thread per core. bcrypt is deliberately slow
/// CPU work; on the shared pool (which SQLite's calls, the activity writer and policy compiles use)
/// a class signing in at once queued every page's database reads behind the password checks.
enum PasswordHashing {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: max(1, System.coreCount))
        pool.start()
        return pool
    }()
}
