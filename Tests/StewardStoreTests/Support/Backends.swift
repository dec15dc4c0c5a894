import Foundation
import Logging
import StewardStore
import StewardTestSupport
import Testing

/// The two backends every repository test runs against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue == "sqlite" ? "SQLite" : "PostgreSQL" }

    /// A new, empty store on this backend, migrated.
    func openStore() async throws -> Store {
        try await Store.open(try await storeBackend(), logger: Logger(label: "test"))
    }

    func storeBackend() async throws -> StoreBackend {
        switch self {
        case .sqlite:
            let path = TestDirectory.root.appendingPathComponent("steward-\(UUID().uuidString).sqlite").path
            return .sqlite(path: path)
        case .postgres:
            return .postgres(url: try await PostgresServer.shared.freshDatabase())
        }
    }
}

/// Runs `body` with a fresh store, closing it afterwards.
func withStore(_ backend: Backend, _ body: (Store) async throws -> Void) async throws {
    let store = try await backend.openStore()
    do {
        try await body(store)
        await store.close()
    } catch {
        await store.close()
        throw error
    }
}
