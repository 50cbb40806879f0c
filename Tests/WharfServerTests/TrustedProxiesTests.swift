import HTTPTypes
import Testing
@testable import WharfServer

@Suite("Trusted proxies")
struct TrustedProxiesTests {
    let proxies = TrustedProxies("10.0.0.0/8, 192.168.1.7, fd00::/8")!

    @Test("networks and single addresses, IPv4 and IPv6, match by prefix")
    func matching() {
        #expect(proxies.contains("10.20.30.40") && proxies.contains("192.168.1.7") && proxies.contains("fd12::1"))
        #expect(!proxies.contains("192.168.1.8") && !proxies.contains("11.0.0.1") && !proxies.contains("fe80::1") && !proxies.contains("nonsense"))
        #expect(TrustedProxies("10.0.0.0/33") == nil && TrustedProxies("not-an-address") == nil)
    }

    @Test("behind a trusted proxy the client is the right-most untrusted hop, and the proxy's scheme is believed")
    func trusted() {
        let headers: HTTPFields = [.xForwardedFor: "203.0.113.9, 198.51.100.2, 10.1.1.1", .xForwardedProto: "https"]
        let resolved = proxies.resolve(peer: "10.0.0.5", headers: headers)
        #expect(resolved.client == "198.51.100.2" && resolved.scheme == "https")
        let rfc7239 = proxies.resolve(peer: "10.0.0.5", headers: [.forwarded: #"for="[2001:db8::7]:4711";proto=https, for=10.2.2.2"#])
        #expect(rfc7239.client == "2001:db8::7")
    }

    @Test("from anyone else the forwarding headers are ignored")
    func untrusted() {
        let resolved = proxies.resolve(peer: "203.0.113.50", headers: [.xForwardedFor: "1.2.3.4", .xForwardedProto: "https"])
        #expect(resolved.client == "203.0.113.50" && resolved.scheme == nil)
    }
}
