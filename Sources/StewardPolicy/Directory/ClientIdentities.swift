import Synchronization

/// Who is behind a client address: the identity sessions that the portal, RADIUS, proxy login or
/// an administrator open, kept in memory. The DNS filter and the proxy do one dictionary read under
/// a short lock per request (none at all while no session is open); they never touch a disk. The
/// directory keeps this map current from the store (`replaceAll`), and a node that opens a session
/// itself also puts it here at once (`open`). A client with no session is identified by its
/// network zone only.
public final class ClientIdentities: Sendable {
    public struct Session: Sendable, Hashable {
        public var person: Person
        /// Seconds since 1970 (UTC) when the session ends.
        public var expires: Int64
        /// `portal`, `radius`, `static` or `proxy-login`.
        public var source: String
        public var deviceID: String?

        public init(person: Person, expires: Int64, source: String, deviceID: String? = nil) {
            self.person = person
            self.expires = expires
            self.source = source
            self.deviceID = deviceID
        }
    }

    private let sessions = Mutex<[IPAddress: Session]>([:])
    /// How many sessions are open, so that the query path skips the lock when there are none
    /// (the common case for a district that identifies clients by network only).
    private let openCount = Atomic<Int>(0)

    public init() {}

    public func open(_ session: Session, for address: IPAddress) {
        sessions.withLock { sessions in
            sessions[address] = session
            openCount.store(sessions.count, ordering: .releasing)
        }
    }

    public func close(_ address: IPAddress) {
        sessions.withLock { sessions in
            sessions.removeValue(forKey: address)
            openCount.store(sessions.count, ordering: .releasing)
        }
    }

    /// Replaces every session at once (the directory's view after a change in the store).
    public func replaceAll(_ current: [IPAddress: Session]) {
        sessions.withLock { sessions in
            sessions = current
            openCount.store(sessions.count, ordering: .releasing)
        }
    }

    /// The person signed in at `address` at `now`, if the session has not expired.
    public func person(at address: IPAddress, now: Int64) -> Person? {
        guard openCount.load(ordering: .acquiring) > 0 else { return nil }
        return sessions.withLock { sessions in
            guard let session = sessions[address] else { return nil }
            return session.expires > now ? session.person : nil
        }
    }

    /// The session at `address`, expired or not.
    public func session(at address: IPAddress) -> Session? {
        sessions.withLock { $0[address] }
    }

    public var count: Int { sessions.withLock { $0.count } }
}

extension ClientIdentities {
    /// Who is behind `client` in `zone`: the signed-in person (with their subject), else the
    /// zone's default group. The one lookup the DNS filter, the proxy and the web pages share.
    public func subject(
        at client: IPAddress, zone: Int32, snapshot: PolicySnapshot, now: Int64
    ) -> (subject: Subject, person: Person?) {
        if let person = person(at: client, now: now) { return (snapshot.subject(for: person), person) }
        return (snapshot.subject(forZone: zone), nil)
    }

    /// Whether `client` must sign in at the portal before anything else: its zone requires it and
    /// nobody is signed in there.
    public func mustSignIn(_ client: IPAddress, zone: Int32, snapshot: PolicySnapshot, now: Int64) -> Bool {
        snapshot.requiresSignIn(zone: zone) && person(at: client, now: now) == nil
    }
}
