import ArgumentParser
import Foundation
import StewardPolicy
import StewardServer
import StewardStore

/// `steward session open|close|list`: identity sessions (client address → person). The portal and
/// RADIUS open them too; this is for static assignments (a lab machine, a staff desktop).
struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Identity sessions: who is behind a client address.",
        subcommands: [Open.self, Close.self, List.self, Flags.self])

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a session for a person at an address.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The client's IP address.") var address: String
        @Option(help: "The person's id.") var user: String
        @Option(help: "How long, in minutes (default: directory.session-minutes).") var minutes: Int?
        @Option(help: "static, portal, radius or proxy-login.") var source = "static"
        @Option(help: "The device's id, if known.") var device: String?

        func run() async throws {
            guard let ip = IPAddress(address) else { throw fail(.badClientAddress(address)) }
            let opened = try await withStore(options) { store, configuration in
                let length = Int64(minutes ?? configuration.directory.sessionMinutes) * 60
                guard length > 0 else { throw StewardError.usage("--minutes must be positive") }
                return try await store.directory.openSession(
                    address: ip, personID: user, deviceID: device, source: source, expiresAt: unixNow() + length,
                    concurrentDevices: configuration.directory.concurrentDevices, actor: StoreAccess.actor)
            }
            print("session opened: \(ip) → \(user) (\(opened.devices) device\(opened.devices == 1 ? "" : "s") at once)")
            if opened.flagged { print("flagged: \(user) is signed in on more devices than allowed") }
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close the session at an address.")
        @OptionGroup var options: ConfigOptions
        @Argument var address: String

        func run() async throws {
            guard let ip = IPAddress(address) else { throw fail(.badClientAddress(address)) }
            try await withStore(options) { store, _ in try await store.directory.closeSession(address: ip, actor: StoreAccess.actor) }
            print("session at \(ip) closed")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the sessions in force.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let sessions = try await withStore(options) { store, _ in try await store.directory.activeSessions() }
            let formatter = ISO8601DateFormatter()
            for (session, person) in sessions.sorted(by: { $0.session.address.description < $1.session.address.description }) {
                let until = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(session.expiresAt)))
                print("\(session.address)\t\(person.id)\t\(person.name)\t\(session.source)\tuntil \(until)")
            }
        }
    }

    struct Flags: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "flags", abstract: "Accounts flagged for being signed in on too many devices (R15).")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let flags = try await withStore(options) { store, _ in try await store.directory.flags() }
            let formatter = ISO8601DateFormatter()
            for flag in flags {
                let time = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(flag.time)))
                print("\(time)\t\(flag.kind)\t\(flag.personID ?? "-")\t\(flag.detail)")
            }
        }
    }
}
