import Foundation
import Logging
import StewardConfig
import StewardStore

/// Opening the district's store for a command: the configuration says where it is (no lists are
/// compiled for this).
public enum StoreAccess {
    public static func configuration(configFile: String?) throws(StewardError) -> StewardConfiguration {
        let file = try DemoDistrict.configFile(configFile)
        do {
            return try ConfigurationLoader.load(path: file)
        } catch {
            throw .configuration(error)
        }
    }

    /// Opens (and migrates) the store the configuration names, and brings the directory in step
    /// with the roster files the configuration names, as `steward serve` does.
    public static func open(configFile: String?, logger: Logger) async throws(StewardError) -> (Store, StewardConfiguration) {
        let configuration = try configuration(configFile: configFile)
        do {
            let store = try await Store.open(StoreBackend(configuration), logger: logger)
            do {
                try await ServeNode.importConfiguredRoster(configuration, into: store, logger: logger)
            } catch {
                await store.close()
                throw error
            }
            return (store, configuration)
        } catch let error as ConfigError {
            throw .configuration(error)
        } catch let error as StoreError {
            throw .store(error)
        } catch {
            throw .store(StoreError(.unavailable, "cannot open the store: \(error)", underlying: error))
        }
    }

    /// Who a command acts as, for the audit log: the operating-system account running it.
    public static var actor: String {
        let environment = ProcessInfo.processInfo.environment
        let user = environment["SUDO_USER"] ?? environment["USER"] ?? environment["LOGNAME"] ?? "uid \(getuid())"
        return "cli:\(user)"
    }

    /// Runs `body` with the store open, closing it afterwards; store errors become command errors.
    public static func with<T>(
        configFile: String?, logger: Logger = Logger(label: "steward"),
        _ body: (Store, StewardConfiguration) async throws -> T
    ) async throws(StewardError) -> T {
        let (store, configuration) = try await open(configFile: configFile, logger: logger)
        do {
            let result = try await body(store, configuration)
            await store.close()
            return result
        } catch {
            await store.close()
            switch error {
            case let error as StewardError: throw error
            case let error as StoreError: throw .store(error)
            case let error as ConfigError: throw .configuration(error)
            default: throw .store(StoreError(.query, "\(error)", underlying: error))
            }
        }
    }
}
