import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import WharfCore

/// A page the console answers with instead of what was asked: a status, a heading and a sentence.
struct ConsoleProblem: Error {
    var status: HTTPResponse.Status
    var heading: String
    var detail: String
}

/// Sends the browser elsewhere (`303 See Other`).
struct ConsoleRedirect: Error {
    var location: String
}

/// The sign-in page's model.
struct SignInModel: Sendable {
    var message: String?
}

/// The frame around every page.
struct LayoutModel {
    struct NavItem {
        var name: String
        var href: String
        var current: Bool
    }

    var title: String
    var signedIn: Bool
    var nav: [NavItem]
    var csrf: String
    var keyPrefix: String
    var body: String
}

/// A page's model with the session's CSRF token beside it, so every form in the page finds
/// `{{csrf}}` whatever section it is in.
struct PageFrame: MustacheParent {
    let page: Any
    let csrf: String

    func child(named name: String) -> Any? {
        if name == "csrf" { return csrf }
        guard let value = Mirror(reflecting: page).children.first(where: { $0.label == name })?.value else { return nil }
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first?.value
    }
}

/// A URL-encoded form body, read up to a limit.
struct ConsoleForm: Sendable {
    private var fields: [(name: String, value: String)] = []

    init(_ request: Request, limit: Int) async throws {
        let contentType = request.headers[.contentType] ?? ""
        guard contentType.lowercased().hasPrefix("application/x-www-form-urlencoded") else {
            throw ConsoleProblem(status: .unsupportedMediaType, heading: "Not a form", detail: "Console writes are HTML form posts.")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch {
            throw ConsoleProblem(status: .contentTooLarge, heading: "Too large", detail: "A console form is at most \(limit) bytes.")
        }
        self.init(encoded: String(decoding: body.readableBytesView, as: UTF8.self))
    }

    init(encoded: String) {
        for pair in encoded.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            fields.append((decode(parts[0]), parts.count > 1 ? decode(parts[1]) : ""))
        }
    }

    /// The first value of a field.
    func value(_ name: String) -> String? { fields.first { $0.name == name }?.value }
    /// Every value of a field (checkboxes).
    func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }
}

extension ConsoleController {
    static var navigation: [(name: String, href: String)] {
        [
            ("Overview", "/console"), ("Orchestrators", "/console/orchestrators"), ("Tenants", "/console/tenants"),
            ("Jobs", "/console/jobs"), ("Audit log", "/console/audit"), ("Plugins", "/console/plugins"),
        ]
    }

    /// The headers of every console page: no caching, no framing, nothing loaded from elsewhere.
    static var pageHeaders: HTTPFields {
        [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-store",
            .contentSecurityPolicy:
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            .xContentTypeOptions: "nosniff",
            .xFrameOptions: "DENY",
            .referrerPolicy: "no-referrer",
        ]
    }

    /// A page in the frame.
    func page(
        _ template: String,
        title: String,
        model: Any,
        session: ConsoleSession?,
        section: String = "",
        status: HTTPResponse.Status = .ok
    ) -> Response {
        let csrf = session.map(sessions.csrfToken(for:)) ?? ""
        let body = library.render(PageFrame(page: model, csrf: csrf), withTemplate: template) ?? ""
        let layout = LayoutModel(
            title: title,
            signedIn: session != nil,
            nav: Self.navigation.map { LayoutModel.NavItem(name: $0.name, href: $0.href, current: $0.href == section) },
            csrf: csrf,
            keyPrefix: session?.keyPrefix ?? "",
            body: body
        )
        let html = library.render(layout, withTemplate: "layout") ?? ""
        return Response(status: status, headers: Self.pageHeaders, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// What a failed console request answers: a redirect, a problem page, or (for a failure of the
    /// gateway) the error, for the server's error handling to log and answer 500.
    func answer(_ error: any Error, request: Request, context: Context) async throws -> Response {
        switch error {
        case let redirect as ConsoleRedirect:
            return Self.redirect(to: redirect.location)
        case let problem as ConsoleProblem:
            let session = try? await signedIn(request, context)?.session
            return page(
                "problem",
                title: problem.heading,
                model: ["heading": problem.heading, "detail": problem.detail],
                session: session,
                status: problem.status
            )
        default:
            throw error
        }
    }

    static func redirect(to location: String) -> Response {
        var headers = pageHeaders
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    /// The session cookie: only for `/console`, never readable by scripts, never sent from another
    /// site; `Secure` when the browser reached the gateway over HTTPS (a TLS proxy says so in
    /// `X-Forwarded-Proto` or `Forwarded`).
    static func cookie(_ value: String, maxAge: Int, request: Request) -> Cookie {
        let forwarded = (request.headers[.xForwardedProto] ?? "") + " " + (request.headers[.forwarded] ?? "")
        let secure = forwarded.lowercased().contains("https")
        return Cookie(
            name: ConsoleSessions.cookieName,
            value: value,
            maxAge: max(0, maxAge),
            path: "/console",
            secure: secure,
            httpOnly: true,
            sameSite: .strict
        )
    }

    /// The status a failed admin operation answers with.
    static func status(of error: WharfError) -> HTTPResponse.Status {
        switch error.code {
        case .notFound: .notFound
        case .alreadyExists: .conflict
        case .invalidArgument: .unprocessableContent
        default: .internalServerError
        }
    }

    /// Text made safe as one path segment or query value.
    static func pathSegment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
    static let forwarded = Self("Forwarded")!
}
