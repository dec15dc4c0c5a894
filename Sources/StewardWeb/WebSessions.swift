import Foundation
import StewardPolicy
import StewardStore
import Synchronization

/// The browser sessions of the portal and the console, kept in memory: a random token in an
/// HttpOnly, SameSite=Strict cookie names a server-side entry that holds who signed in and the
/// session's CSRF token. Entries end after a period without use; their number is capped, oldest
/// dropped first, so a flood of anonymous visits cannot grow memory without bound.
public final class WebSessions: Sendable {
    public struct Entry: Sendable {
        /// The console administrator, when signed in to the console.
        public var admin: Administrators.Account?
        /// The person going through the portal (signed in, signing documents).
        public var personID: String?
        public var csrf: String
        public var created: Int64
        public var lastSeen: Int64
    }

    private let entries = Mutex<[String: Entry]>([:])
    let idleSeconds: Int64
    let capacity: Int

    public init(idleSeconds: Int64, capacity: Int = 200_000) {
        self.idleSeconds = idleSeconds
        self.capacity = capacity
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        return bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// A new session; returns its token.
    public func create(now: Int64 = unixNow()) -> (token: String, entry: Entry) {
        let token = Self.randomToken()
        let entry = Entry(admin: nil, personID: nil, csrf: Self.randomToken(), created: now, lastSeen: now)
        entries.withLock { entries in
            if entries.count >= capacity {
                let cutoff = now - idleSeconds
                entries = entries.filter { $0.value.lastSeen > cutoff }
                if entries.count >= capacity, let oldest = entries.min(by: { $0.value.lastSeen < $1.value.lastSeen }) {
                    entries.removeValue(forKey: oldest.key)
                }
            }
            entries[token] = entry
        }
        return (token, entry)
    }

    /// The live entry for a token (touching it), nil when unknown or idle too long.
    public func entry(_ token: String?, now: Int64 = unixNow()) -> Entry? {
        guard let token, token.utf8.count == 64 else { return nil }
        return entries.withLock { entries in
            guard var entry = entries[token] else { return nil }
            guard now - entry.lastSeen <= idleSeconds else {
                entries.removeValue(forKey: token)
                return nil
            }
            entry.lastSeen = now
            entries[token] = entry
            return entry
        }
    }

    public func update(_ token: String, _ change: (inout Entry) -> Void) {
        entries.withLock { entries in
            if var entry = entries[token] {
                change(&entry)
                entries[token] = entry
            }
        }
    }

    public func remove(_ token: String) {
        _ = entries.withLock { $0.removeValue(forKey: token) }
    }

    /// Replaces a session by a new one with the same content and a new token (after a sign-in,
    /// so a token seen before signing in is worth nothing after).
    public func renew(_ token: String, now: Int64 = unixNow()) -> String {
        let fresh = Self.randomToken()
        entries.withLock { entries in
            if var entry = entries.removeValue(forKey: token) {
                entry.csrf = Self.randomToken()
                entry.lastSeen = now
                entries[fresh] = entry
            }
        }
        return fresh
    }

    /// Compares in constant time.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

/// Sign-in throttling: after `failures` failed attempts for one account or from one address within
/// the lockout window, further attempts are refused until the window has passed, whatever the
/// password. Failures are forgotten on success.
public final class SignInThrottle: Sendable {
    struct Record { var failures: Int; var first: Int64; var lockedUntil: Int64 }
    private let records = Mutex<[String: Record]>([:])
    let failures: Int
    let lockoutSeconds: Int64

    public init(failures: Int, lockoutSeconds: Int64) {
        self.failures = failures
        self.lockoutSeconds = lockoutSeconds
    }

    /// Seconds until the key may try again, or nil when it may now.
    public func lockedFor(_ keys: [String], now: Int64 = unixNow()) -> Int64? {
        records.withLock { records in
            keys.compactMap { key -> Int64? in
                guard let record = records[key], record.lockedUntil > now else { return nil }
                return record.lockedUntil - now
            }.max()
        }
    }

    public func failed(_ keys: [String], now: Int64 = unixNow()) {
        records.withLock { records in
            if records.count > 100_000 { records = records.filter { $0.value.lockedUntil > now || now - $0.value.first < lockoutSeconds } }
            for key in keys {
                var record = records[key] ?? Record(failures: 0, first: now, lockedUntil: 0)
                if now - record.first > lockoutSeconds { record = Record(failures: 0, first: now, lockedUntil: 0) }
                record.failures += 1
                if record.failures >= failures { record.lockedUntil = now + lockoutSeconds }
                records[key] = record
            }
        }
    }

    public func succeeded(_ keys: [String]) {
        records.withLock { records in for key in keys { records.removeValue(forKey: key) } }
    }
}
