import Hummingbird
import Logging
import NIOCore
import StewardPolicy

/// What every request carries: the client's address (the portal opens the network for it) and the
/// core context Hummingbird needs.
public struct WebContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's address; nil in router tests that have no socket.
    public let client: IPAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        client = source.channel.remoteAddress.flatMap { address in address.ipAddress.flatMap(IPAddress.init) }
    }
}
