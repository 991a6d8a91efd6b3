public import Foundation
public import HTTPTypes
public import OpenAPIRuntime

/// Sends a Wharf API key with every request (`Authorization: Bearer wharf_…`), and optionally pins
/// the `/v2` revision the client was written for (`Wharf-Version`).
public struct WharfAuthentication: ClientMiddleware {
    private let key: String
    private let revision: String?

    /// - Parameters:
    ///   - key: The API key, `wharf_<prefix>_<secret>`.
    ///   - revision: A dated revision such as `2026-11-01`; the key's own pin when `nil`.
    public init(key: String, revision: String? = nil) {
        self.key = key
        self.revision = revision
    }

    public func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        baseURL: URL,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.authorization] = "Bearer \(key)"
        if let revision, let name = HTTPField.Name("Wharf-Version") { request.headerFields[name] = revision }
        return try await next(request, body, baseURL)
    }
}
