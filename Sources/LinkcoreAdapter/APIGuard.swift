import Foundation
import Hummingbird
import Synchronization

/// What every local API request must show before a route sees it (issue 12, finding 9), checked
/// in this order so that a DNS-rebinding page learns nothing, not even whether a token is wanted:
/// 1. Host names this listener (the listen host, 127.0.0.1 or localhost, with the port): 421.
/// 2. `Authorization: Bearer <token>` with the token of `[api] token_file`: 401.
/// 3. A request with a body (POST/PUT/PATCH, or any Content-Length > 0) is `application/json`: 415.
/// `APIGuardMiddleware` applies it to every request, unknown routes included.
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

    func refusal(_ request: HTTPRequest) -> APIFailure? {
        let headers = request.headerFields
        let method = request.method
        // HTTP/1.1's Host header arrives as the request's authority (swift-http-types).
        guard let name = request.authority, hosts.contains(name.lowercased()) else {
            return APIFailure(.misdirectedRequest, "MISDIRECTED_REQUEST",
                              "the Host header does not name this API (use 127.0.0.1 or localhost with its port)")
        }
        let authorization = headers[values: .authorization]
        guard authorization.count == 1, let value = authorization.first,
              value.utf8.count > 7, value.prefix(7).lowercased() == "bearer ",
              APIToken.matches(value.utf8.dropFirst(7), token)
        else {
            return APIFailure(.unauthorized, "UNAUTHENTICATED",
                              "missing or wrong bearer token (Authorization: Bearer <the token in [api] token_file>)")
        }
        let length = headers[.contentLength].flatMap { Int($0) } ?? 0
        let bodied = [.post, .put, .patch].contains(method) || length > 0 || headers[.transferEncoding] != nil
        if bodied {
            let type = headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                return APIFailure(.unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "a request body must be Content-Type: application/json")
            }
        }
        return nil
    }
}

/// Set once the listener is bound (the allowed Host values name the bound port).
final class GuardBox: Sendable {
    private let stored = Mutex<APIGuard?>(nil)
    var value: APIGuard? { stored.withLock { $0 } }
    func set(_ value: APIGuard) { stored.withLock { $0 = value } }
}
