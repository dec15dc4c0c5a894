import Foundation

/// Runs a program to completion on a thread of its own and awaits it, so that tests never block
/// Swift's cooperative threads (two on this machine) while a child process runs: a blocked pool
/// delays every other test's timers and continuations.
public enum ChildProcess {
    public struct Result: Sendable {
        public let status: Int32
        public let output: String
    }

    public static func run(_ executable: String, _ arguments: [String], directory: URL? = nil) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                if let directory { process.currentDirectoryURL = directory }
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self)))
            }
            thread.start()
        }
    }
}

extension ChildProcess {
    /// Runs a program with `input` on its standard input; when `killWhen` is given, sends SIGKILL as
    /// soon as the output so far satisfies it (a crash in the middle of what it is doing), or after
    /// `killAfter` seconds. Returns the output read until the program ended.
    public static func run(
        _ executable: String, _ arguments: [String], input: String? = nil, killAfter: Double? = nil,
        killWhen: (@Sendable (String) -> Bool)? = nil, environment: [String: String]? = nil
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
                let output = Pipe()
                let inputPipe = Pipe()
                process.standardOutput = output
                process.standardError = output
                process.standardInput = inputPipe
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                if let input { inputPipe.fileHandleForWriting.write(Data(input.utf8)) }
                try? inputPipe.fileHandleForWriting.close()
                let pid = process.processIdentifier
                if let killAfter {
                    DispatchQueue.global().asyncAfter(deadline: .now() + killAfter) { kill(pid, SIGKILL) }
                }
                var data = Data()
                var killed = false
                while true {
                    let chunk = output.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    data.append(chunk)
                    if !killed, let killWhen, killWhen(String(decoding: data, as: UTF8.self)) {
                        kill(pid, SIGKILL)
                        killed = true
                    }
                }
                process.waitUntilExit()
                continuation.resume(
                    returning: Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self)))
            }
            thread.start()
        }
    }
}

extension ChildProcess {
    /// Runs `command` with `/bin/sh -c` (spawned and reaped directly, without Foundation's Process,
    /// which can miss the end of a child that starts daemons such as a database server); returns
    /// the exit status. Runs on a thread of its own.
    public static func shell(_ command: String) async -> Int32 {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                var pid: pid_t = 0
                let arguments = ["/bin/sh", "-c", command]
                var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
                defer { for pointer in argv { free(pointer) } }
                // The child keeps only standard input, output and error: a daemon it starts must not
                // hold other tests' pipes open (their readers would never see the end).
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                defer { posix_spawn_file_actions_destroy(&actions) }
                closeFrom(&actions, 3)
                guard posix_spawn(&pid, "/bin/sh", &actions, nil, &argv, environ) == 0 else {
                    continuation.resume(returning: -1)
                    return
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1, errno == EINTR {}
                // WIFEXITED / WEXITSTATUS
                continuation.resume(returning: (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            }
            thread.start()
        }
    }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc module
/// does not import; looked up at run time.
private func closeFrom(_ actions: inout posix_spawn_file_actions_t, _ descriptor: Int32) {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
        return
    }
    let addCloseFrom = unsafeBitCast(symbol, to: AddCloseFrom.self)
    _ = addCloseFrom(&actions, descriptor)
}
