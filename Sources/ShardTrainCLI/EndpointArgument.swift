import ArgumentParser
import Foundation

/// ZeroMQ endpoints given on the command line (`--bind`, `--connect`, `--progress-endpoint`): `HOST:PORT` is
/// taken as `tcp://HOST:PORT`; anything else must name its transport, and a TCP endpoint its port. The host
/// `localhost` becomes 127.0.0.1, since ZeroMQ binds only to addresses and interface names.
enum EndpointArgument {
    static let expectedForm = "expected tcp://HOST:PORT (or HOST:PORT), e.g. tcp://127.0.0.1:5555, or ipc://PATH"

    /// `text` with the `tcp://` it may lack (and 127.0.0.1 for localhost); throws a usage error naming the
    /// expected form for a transport other than tcp and ipc, an empty host, or a port that is not 0…65535 or `*`.
    static func normalized(_ text: String) throws -> String {
        if text.hasPrefix("ipc://"), text.count > "ipc://".count { return text }
        let address = text.hasPrefix("tcp://") ? String(text.dropFirst("tcp://".count)) : text
        guard !address.contains("://"), let colon = address.lastIndex(of: ":") else {
            throw ValidationError("\"\(text)\": \(expectedForm)")
        }
        let host = address[..<colon]
        let port = address[address.index(after: colon)...]
        if !host.isEmpty, !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }), UInt16(port) == nil {
            throw ValidationError("\"\(text)\": port \(port) is out of range (0–65535; * picks a free one)")
        }
        guard !host.isEmpty, port == "*" || (port.allSatisfy { $0.isASCII && $0.isNumber } && UInt16(port) != nil) else {
            throw ValidationError("\"\(text)\": \(expectedForm)")
        }
        return "tcp://" + (host == "localhost" ? "127.0.0.1" : host) + ":" + port
    }

    /// Why the host of a `tcp://HOST:PORT` endpoint cannot be resolved (`getaddrinfo`), or nil when it can (or the
    /// endpoint is not tcp). ZeroMQ itself retries an unresolvable host silently until the join timeout.
    static func unresolvedHost(_ endpoint: String) -> String? {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return nil }
        var host = String(endpoint[endpoint.index(endpoint.startIndex, offsetBy: "tcp://".count)..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, host != "*" else { return nil }
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, nil, &result)
        if let result { freeaddrinfo(result) }
        guard status != 0 else { return nil }
        return "cannot resolve the host \"\(host)\" of \(endpoint): \(String(cString: gai_strerror(status)))"
    }
}
