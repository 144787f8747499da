import Foundation
import Hummingbird
import NIOCore
import OpenAPIRuntime

/// Turns every failure into the JSON error body: an `APIFailure` thrown by the guard or a route,
/// the router's "no such route" (404, or 405 when the path exists with another method), a body
/// the generated code cannot decode (400), Hummingbird's own errors (413 from the body limit),
/// and anything unexpected (500, without details).
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// "METHOD /template" for each operation, to tell 405 from 404.
    let routes: [(method: String, template: [Substring])]

    init(routes: [String]) {
        self.routes = routes.compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), parts[1].split(separator: "/", omittingEmptySubsequences: false))
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var response = try await next(request, context)
            response.headers[.cacheControl] = "no-store"
            return response
        } catch {
            return Self.render(failure(for: error, request: request))
        }
    }

    func failure(for error: any Error, request: Request) -> APIFailure {
        switch error {
        case let failure as APIFailure:
            return failure
        case let error as ServerError:
            // The generated server wraps what a handler threw, and its own decoding failures.
            if let failure = error.underlyingError as? APIFailure { return failure }
            let detail = "the request does not match docs/adapter-openapi.json (see /openapi.json): \(error.causeDescription)"
            switch error.httpStatus.code {
            case 415: return APIFailure(.unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", detail)
            case 406: return APIFailure(.notAcceptable, "NOT_ACCEPTABLE", "this API answers application/json only")
            case 400..<500: return .badRequest(detail)
            default: return APIFailure(.internalServerError, "INTERNAL", "the adapter failed to answer this request")
            }
        case let error as HTTPError where error.status == .notFound:
            let path = request.uri.path
            if routes.contains(where: { Self.matches($0.template, path) }) {
                return APIFailure(.methodNotAllowed, "METHOD_NOT_ALLOWED", "\(request.method.rawValue) is not served on \(path)")
            }
            return APIFailure(.notFound, "NO_SUCH_ROUTE", "no route \(path); see /openapi.json")
        case let error as HTTPError where error.status == .contentTooLarge:
            return APIFailure(.contentTooLarge, "PAYLOAD_TOO_LARGE", error.body ?? "the request body is too large")
        case let error as HTTPError:
            return APIFailure(error.status, "HTTP_\(error.status.code)", error.body ?? error.status.reasonPhrase)
        case let error as any HTTPResponseError where error.status.kind == .clientError:
            // Hummingbird's own client errors (a body too large while streaming, say).
            return APIFailure(error.status, "HTTP_\(error.status.code)", error.status.reasonPhrase)
        default:
            return APIFailure(.internalServerError, "INTERNAL", "the adapter failed to answer this request")
        }
    }

    static func render(_ failure: APIFailure) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if failure.status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if failure.status == .serviceUnavailable || failure.status == .tooManyRequests { headers[.retryAfter] = "1" }
        // Hummingbird closes the connection after a response that says so.
        if failure.closeConnection { headers[.connection] = "close" }
        return Response(status: failure.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: failure.json)))
    }

    static func matches(_ template: [Substring], _ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == template.count else { return false }
        return zip(template, parts).allSatisfy { t, p in t.hasPrefix("{") ? !p.isEmpty : t == p }
    }
}

/// Every request shows the right Host, token and content type before routing (`APIGuard`).
struct APIGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let guardBox: GuardBox

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let apiGuard = guardBox.value else {
            throw APIFailure(.misdirectedRequest, "MISDIRECTED_REQUEST", "the API is starting").closing
        }
        if let refusal = apiGuard.refusal(request.head) { throw refusal.closing }
        return try await next(request, context)
    }
}

/// A body above `[api] max_body_bytes` gets 413 before anything decodes it: at once when its
/// Content-Length says so, otherwise as soon as the bytes read pass the limit.
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Closing: the unread rest of the body is not drained.
        let tooLarge = APIFailure(.contentTooLarge, "PAYLOAD_TOO_LARGE", "request body above \(maxBytes) bytes").closing
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBytes { throw tooLarge }
        var request = request
        do {
            _ = try await request.collectBody(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            // A body without a Content-Length (chunked) that grows past the limit.
            throw tooLarge
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        }
        return try await next(request, context)
    }
}

/// A request not answered within `[api] request_timeout_ms` gets 503 REQUEST_TIMEOUT and its
/// work is cancelled. The answer waits for the route to end (structured concurrency), so the
/// routes' wait loops stop on cancellation; a single call to the core in flight is still bounded
/// by its own timeout.
struct RequestTimeoutMiddleware<Context: RequestContext>: RouterMiddleware {
    let timeout: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let timeout = self.timeout
        // The task group awaits both children before it returns, so `next` does not outlive
        // this call even though a child task runs it.
        return try await withoutActuallyEscaping(next) { next in
            let route = Unchecked(next)
            return try await withThrowingTaskGroup(of: Response?.self) { group in
                group.addTask { try await route.value(request, context) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    throw APIFailure(.serviceUnavailable, "REQUEST_TIMEOUT", "no answer within \(timeout)", retryable: true)
                }
                return response
            }
        }
    }
}

/// Carries the route closure into the timeout's child task (see `RequestTimeoutMiddleware`).
private struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
