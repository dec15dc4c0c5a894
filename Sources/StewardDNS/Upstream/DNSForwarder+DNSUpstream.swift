import NIOCore
import StewardDNSWire

/// The forwarder as the filter uses it.
extension DNSForwarder: DNSUpstream {
    /// `resolve(_:on:)`, reduced to the message and the upstream's index.
    public func forward(_ query: DNSMessage, on eventLoop: any EventLoop) -> EventLoopFuture<ForwardedAnswer> {
        forward(query, on: eventLoop, seed: nil)
    }

    /// `forward(_:on:)`, going on from the relay's first attempt (see `UpstreamSeed`).
    func forward(_ query: DNSMessage, on eventLoop: any EventLoop, seed: UpstreamSeed?) -> EventLoopFuture<
        ForwardedAnswer
    > {
        resolve(query, on: eventLoop, seed: seed).map { answer in
            ForwardedAnswer(message: answer.message, upstream: answer.upstream)
        }
    }
}
