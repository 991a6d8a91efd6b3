public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import WharfCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Downloads a customer-given URL to a file, within a size and time limit, going only where an
/// ``AddressPolicy`` allows.
///
/// Every hop is checked: the first URL and each redirect target go through ``AddressPolicy/check(_:)``, and
/// the connection is made to the address that check returned (not to a second lookup of the name), so a
/// redirect or a changing DNS answer cannot lead the gateway onto a private network.
///
/// ```swift
/// let fetcher = URLFetcher(policy: AddressPolicy(), maxBytes: 512 << 20, timeout: .seconds(120))
/// let fetched = try await fetcher.fetch(inputURL, to: workDirectory.appending(path: "input"))
/// ```
public struct URLFetcher: Sendable {
    /// What a successful fetch wrote.
    public struct Fetched: Sendable {
        /// The answer's `Content-Type`, if it had one.
        public var contentType: String?
        /// How many bytes were written to the file.
        public var byteCount: Int64
        /// The URL the body came from, after redirects.
        public var finalURL: URL

        /// A description of a fetch's result.
        public init(contentType: String?, byteCount: Int64, finalURL: URL) {
            self.contentType = contentType
            self.byteCount = byteCount
            self.finalURL = finalURL
        }
    }

    /// The policy every hop is checked against.
    public var policy: AddressPolicy
    /// The most bytes a body may have.
    public var maxBytes: Int64
    /// The time limit for a whole fetch: lookups, connections, redirects and the body.
    public var timeout: Duration
    /// The most redirects followed before giving up.
    public var maxRedirects: Int

    private let eventLoopGroup: any EventLoopGroup

    /// A fetcher with the given limits.
    ///
    /// - Parameters:
    ///   - policy: Which addresses may be fetched from.
    ///   - httpClient: Supplies the event loop group requests run on. Each fetch makes its requests through a
    ///     short-lived client of its own with redirects off and the host pinned to the checked address, because
    ///     a shared client follows redirects itself and resolves names again.
    ///   - maxBytes: The most bytes a body may have; larger ones fail with ``OutboundError/Kind/tooLarge``.
    ///   - timeout: The time limit for a whole fetch, redirects included.
    ///   - maxRedirects: The most redirects followed; one more fails with ``OutboundError/Kind/tooManyRedirects``.
    public init(policy: AddressPolicy, httpClient: HTTPClient = .shared, maxBytes: Int64, timeout: Duration, maxRedirects: Int = 5) {
        self.policy = policy
        self.eventLoopGroup = httpClient.eventLoopGroup
        self.maxBytes = maxBytes
        self.timeout = timeout
        self.maxRedirects = maxRedirects
    }

    /// Downloads `url` to `file`, following redirects that the policy allows.
    ///
    /// The body is streamed into a temporary file next to `file`, which replaces `file` only when the whole
    /// body has arrived; on any failure nothing is left behind and an existing `file` is untouched. A declared
    /// `Content-Length` above ``maxBytes`` is refused before the body is read; a body without one is cut off
    /// as soon as it passes ``maxBytes``.
    ///
    /// - Parameters:
    ///   - url: An `http` or `https` URL.
    ///   - file: A file URL to write the body to; its directory must exist.
    /// - Returns: The body's content type and size and the URL it finally came from.
    /// - Throws: ``OutboundError`` (policy refusals, ``OutboundError/Kind/tooLarge``, ``OutboundError/Kind/timedOut``,
    ///   ``OutboundError/Kind/badStatus`` for a non-2xx answer, ``OutboundError/Kind/tooManyRedirects``,
    ///   ``OutboundError/Kind/unreachable``), a file system error when `file` cannot be written, or
    ///   `CancellationError`.
    public func fetch(_ url: URL, to file: URL) async throws -> Fetched {
        let host = url.host ?? "the host"
        do {
            return try await OutboundRequest.withTimeLimit(timeout, what: "Fetching from \(host)") {
                try await self.follow(url, to: file)
            }
        } catch let failure as LocalFileFailure {
            throw failure.underlying
        }
    }

    private enum Hop {
        case redirect(URL)
        case done(Fetched)
    }

    private func follow(_ url: URL, to file: URL) async throws -> Fetched {
        var current = url
        var redirects = 0
        while true {
            switch try await hop(current, to: file) {
            case .done(let fetched):
                return fetched
            case .redirect(let next):
                guard redirects < maxRedirects else {
                    throw OutboundError(
                        .tooManyRedirects,
                        "\(current.host ?? "The server") redirected more than \(maxRedirects) times; giving up."
                    )
                }
                redirects += 1
                current = next
            }
        }
    }

    /// One request: a redirect to follow, or the body written to `file`.
    private func hop(_ url: URL, to file: URL) async throws -> Hop {
        let addresses = try await policy.check(url)
        let host = url.host ?? ""
        return try await OutboundRequest.withPinnedClient(for: url, at: addresses[0], on: eventLoopGroup, connectTimeout: timeout) {
            client in
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = .GET
            let response = try await client.execute(request, deadline: .now() + OutboundRequest.timeAmount(timeout))
            let status = Int(response.status.code)
            if OutboundRequest.redirectStatuses.contains(status) {
                guard let location = response.headers.first(name: "location"),
                    let next = URL(string: location, relativeTo: url)?.absoluteURL
                else {
                    throw OutboundError(.badStatus, "\(host) answered \(status) without a usable Location.", statusCode: status)
                }
                return .redirect(next)
            }
            guard (200..<300).contains(status) else {
                throw OutboundError(.badStatus, "\(host) answered with status \(status).", statusCode: status)
            }
            if let declared = response.headers.first(name: "content-length").flatMap({ Int64($0) }), declared > maxBytes {
                throw tooLarge(host)
            }
            let byteCount = try await write(response.body, to: file, host: host)
            let fetched = Fetched(contentType: response.headers.first(name: "content-type"), byteCount: byteCount, finalURL: url)
            return .done(fetched)
        }
    }

    /// Streams `body` to a temporary file beside `file`, then renames it into place.
    private func write(_ body: HTTPClientResponse.Body, to file: URL, host: String) async throws -> Int64 {
        let partial = file.deletingLastPathComponent()
            .appendingPathComponent(".\(file.lastPathComponent).\(UInt64.random(in: 0...UInt64.max)).partial")
        guard FileManager.default.createFile(atPath: partial.path, contents: nil) else {
            throw LocalFileFailure(CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: partial.path]))
        }
        do {
            let handle = try LocalFileFailure.wrapping { try FileHandle(forWritingTo: partial) }
            defer { try? handle.close() }
            var byteCount: Int64 = 0
            for try await buffer in body {
                byteCount += Int64(buffer.readableBytes)
                guard byteCount <= maxBytes else { throw tooLarge(host) }
                try LocalFileFailure.wrapping { try buffer.withUnsafeReadableBytes { try handle.write(contentsOf: $0) } }
            }
            try LocalFileFailure.wrapping {
                try handle.close()
                guard rename(partial.path, file.path) == 0 else {
                    throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
                }
            }
            return byteCount
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw error
        }
    }

    private func tooLarge(_ host: String) -> OutboundError {
        OutboundError(.tooLarge, "The answer from \(host) is larger than the limit of \(maxBytes) bytes.")
    }
}

/// A failure of the local file a fetch writes to, carried past ``OutboundRequest/withTimeLimit(_:what:_:)`` so it
/// is not mistaken for a network failure.
private struct LocalFileFailure: Error {
    let underlying: any Error

    init(_ underlying: any Error) {
        self.underlying = underlying
    }

    static func wrapping<T>(_ operation: () throws -> T) throws -> T {
        do {
            return try operation()
        } catch {
            throw LocalFileFailure(error)
        }
    }
}

/// What ``URLFetcher`` and ``WebhookSender`` share: pinned short-lived clients and an overall time limit.
enum OutboundRequest {
    static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

    /// Runs `body` with a client that never follows redirects and connects to `address` for `url`'s host,
    /// then shuts the client down (also when `body` throws).
    static func withPinnedClient<T>(
        for url: URL,
        at address: IPAddress,
        on eventLoopGroup: any EventLoopGroup,
        connectTimeout: Duration,
        _ body: (HTTPClient) async throws -> T
    ) async throws -> T {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: timeAmount(connectTimeout)),
            proxy: nil,
            decompression: .disabled
        )
        configuration.connectionPool.retryConnectionEstablishment = false  // a refused connection fails now, not at the deadline
        if let host = url.host, !host.hasPrefix("["), IPAddress(host) == nil {
            configuration.dnsOverride = [host: address.description]
        }
        let client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(client))
        } catch {
            result = .failure(error)
        }
        try? await client.shutdown()
        return try result.get()
    }

    /// Runs `work`, failing with ``OutboundError/Kind/timedOut`` when it takes longer than `limit`; other
    /// failures that are not ``OutboundError``s or cancellation become ``OutboundError/Kind/unreachable``.
    ///
    /// - Parameter what: The start of a sentence naming the host, such as "Fetching from example.com".
    static func withTimeLimit<T: Sendable>(
        _ limit: Duration,
        what: String,
        _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        do {
            return try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask { try await work() }
                group.addTask {
                    try await Task.sleep(for: limit)
                    throw OutboundError(.timedOut, "\(what) took longer than \(limit).")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch let error as OutboundError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch let error as LocalFileFailure {
            throw error
        } catch let error as HTTPClientError
            where [.connectTimeout, .readTimeout, .writeTimeout, .deadlineExceeded].contains(error)
        {
            throw OutboundError(.timedOut, "\(what) timed out (\(error)).")
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw OutboundError(.unreachable, "\(what) failed: \(reason(error)).")
        }
    }

    /// A short phrase for a connection failure.
    private static func reason(_ error: any Error) -> String {
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return "the connection was refused"
            case ECONNRESET, EPIPE: return "the connection was reset"
            case EHOSTUNREACH, ENETUNREACH: return "the host is unreachable"
            default: return "\(error)"
            }
        }
        if let error = error as? HTTPClientError, error == .remoteConnectionClosed {
            return "the server closed the connection"
        }
        return "\(error)"
    }

    /// `duration` as a NIO `TimeAmount`, clamped to what fits.
    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        let (nanoseconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .nanoseconds(.max) : .nanoseconds(nanoseconds.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue)
    }
}
