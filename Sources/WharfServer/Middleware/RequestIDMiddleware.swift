public import HTTPTypes
public import Hummingbird
import Logging
import WharfCore

/// Gives every request an id, puts it on every log line of the request and echoes it back.
///
/// A client-sent `X-Request-Id` is kept when it is 1 to 128 visible ASCII characters; otherwise a new
/// `req_…` id is made. The id replaces Hummingbird's `hb.request.id` metadata, so ``RequestContext/id``
/// and the logs agree. Must be the outermost middleware.
public struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestID = request.headers[.xRequestID].flatMap(Self.acceptable) ?? Identifier.make(prefix: "req")
        context.logger[metadataKey: "hb.request.id"] = .string(requestID)
        var response = try await next(request, context)
        response.headers[.xRequestID] = requestID
        return response
    }

    static func acceptable(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count), value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return nil
        }
        return value
    }
}

extension HTTPField.Name {
    /// `X-Request-Id`: the request's id, sent by the client or made by the gateway.
    public static let xRequestID = HTTPField.Name("X-Request-Id")!
}
