import Foundation
import Hummingbird
import LinkcoreOCSP
import Logging
import NIOCore
import ServiceLifecycle

/// OCSP over HTTP (RFC 6960 appendix A, RFC 5019 §5):
/// - `POST` (any path) with `Content-Type: application/ocsp-request` and the DER request as body;
/// - `GET /<url-encoded base64 of the DER request>`, which HTTP caches may keep: `Cache-Control:
///   max-age` never goes past the answer's nextUpdate.
/// Answers are `application/ocsp-response` with HTTP 200, including the OCSP error statuses
/// (malformedRequest for bytes that are not a request): the protocol carries its errors itself.
/// HTTP-level refusals (413 body too large, 415 content type, 405 method) come before any parsing.
struct OCSPHTTPServer: Sendable {
    let responder: OCSPResponder
    let maxBodyBytes: Int
    let logger: Logger

    func application(host: String, port: Int, onListening: @escaping @Sendable (Int) async -> Void) -> some Service {
        Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in await answer(request) },
            server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: .init(address: .hostname(host, port: port), serverName: nil, reuseAddress: true),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    func answer(_ request: Request) async -> Response {
        switch request.method {
        case .post:
            let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/ocsp-request" else {
                return Self.plain(.unsupportedMediaType, "Content-Type must be application/ocsp-request\n")
            }
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes {
                return Self.plain(.contentTooLarge, "request body above \(maxBodyBytes) bytes\n", close: true)
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maxBodyBytes)
            } catch {
                // Chunked past the limit, or the client went away mid-body.
                return Self.plain(.contentTooLarge, "request body above \(maxBodyBytes) bytes\n", close: true)
            }
            let answer = responder.respond(to: Array(buffer: body))
            return Self.ocsp(answer, cacheable: false)
        case .get:
            guard let der = Self.requestFromPath(request.uri.path), der.count <= maxBodyBytes else {
                return Self.ocsp(.failure(.malformedRequest), cacheable: false)
            }
            return Self.ocsp(responder.respond(to: der), cacheable: true)
        default:
            var response = Self.plain(.methodNotAllowed, "OCSP is POST or GET\n")
            response.headers[.allow] = "GET, POST"
            return response
        }
    }

    /// The path's last part: percent-decoded, then base64 (standard alphabet, as the RFC says;
    /// clients that do not percent-encode '+', '/' and '=' work too, since '/' splits nothing here:
    /// the whole path after the first '/' is the request).
    static func requestFromPath(_ path: String) -> [UInt8]? {
        let encoded = path.drop { $0 == "/" }
        guard !encoded.isEmpty, let decoded = String(encoded).removingPercentEncoding,
              let data = Data(base64Encoded: decoded) else { return nil }
        return Array(data)
    }

    static func ocsp(_ answer: OCSPAnswer, cacheable: Bool) -> Response {
        var headers: HTTPFields = [.contentType: "application/ocsp-response"]
        if cacheable, let nextUpdate = answer.nextUpdate {
            // The answer holds until nextUpdate: a cache may keep it that long and no longer.
            let maxAge = max(0, Int(nextUpdate.timeIntervalSinceNow.rounded(.down)))
            headers[.cacheControl] = "max-age=\(maxAge), public, no-transform, must-revalidate"
        } else {
            headers[.cacheControl] = "no-store"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.der)))
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String, close: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"]
        // The unread rest of a refused body is not drained: Hummingbird closes after this response.
        if close { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
