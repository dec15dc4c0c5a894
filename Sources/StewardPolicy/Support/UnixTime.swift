import Foundation

/// Seconds since 1970 (UTC), the unit sessions, lockouts and decisions are timed in.
public func unixNow() -> Int64 { Int64(Date.now.timeIntervalSince1970) }
