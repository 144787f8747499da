import Foundation
import NIOHTTP1

/// What every local API request must show before a route sees it (issue 12, finding 9), checked
/// in this order so that a DNS-rebinding page learns nothing, not even whether a token is wanted:
/// 1. Host names this listener (the listen host, 127.0.0.1 or localhost, with the port): 421.
/// 2. `Authorization: Bearer <token>` with the token of `[api] token_file`: 401.
/// 3. A request with a body (POST/PUT/PATCH, or any Content-Length > 0) is `application/json`: 415.
struct APIGuard: Sendable {
    let token: [UInt8]
    let hosts: Set<String>

    init(token: String, listenHost: String, port: Int) {
        self.token = Array(token.utf8)
        var names: Set<String> = ["127.0.0.1", "localhost", listenHost.lowercased()]
        if listenHost.contains(":") { names.remove(listenHost.lowercased()); names.insert("[\(listenHost.lowercased())]") }
        var hosts = Set(names.map { "\($0):\(port)" })
        if port == 80 { hosts.formUnion(names) }
        self.hosts = hosts
    }

    func refusal(_ head: HTTPRequestHead) -> APIResponse? {
        let host = head.headers["Host"]
        guard host.count == 1, let name = host.first, hosts.contains(name.lowercased()) else {
            return .error(421, code: "MISDIRECTED_REQUEST", "the Host header does not name this API (use 127.0.0.1 or localhost with its port)")
        }
        guard let authorization = head.headers["Authorization"].first, head.headers["Authorization"].count == 1,
              authorization.utf8.count > 7, authorization.prefix(7).lowercased() == "bearer ",
              APIToken.matches(authorization.utf8.dropFirst(7), token)
        else {
            return .error(401, code: "UNAUTHENTICATED", "missing or wrong bearer token (Authorization: Bearer <the token in [api] token_file>)")
        }
        let length = head.headers["Content-Length"].first.flatMap { Int($0) } ?? 0
        let bodied = [.POST, .PUT, .PATCH].contains(head.method) || length > 0 || !head.headers["Transfer-Encoding"].isEmpty
        if bodied {
            let type = head.headers["Content-Type"].first?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                return .error(415, code: "UNSUPPORTED_MEDIA_TYPE", "a request body must be Content-Type: application/json")
            }
        }
        return nil
    }
}
