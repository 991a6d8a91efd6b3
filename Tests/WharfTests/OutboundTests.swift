import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import WharfCore

@testable import WharfOutbound

/// Requests to customer-given addresses: address parsing, the address policy, fetching input URLs,
/// and signed webhooks, against a real HTTP server on loopback.
@Suite(.layer(.integration), .timeLimit(.minutes(1))) struct OutboundTests {
    // MARK: IPAddress and CIDR

    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"),  // the first of two equal runs
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group stays
        ("2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"),  // the longest run wins
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("::FFFF:0102:0304", "::ffff:1.2.3.4"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("fe80::1%eth0", "fe80::1"),
    ])
    func addressesParseAndRenderCanonically(text: String, canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
        #expect(IPAddress(bytes: address.bytes) == address)
        #expect(address.isIPv4 == !text.contains(":"))
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "127.1", "0x7f.0.0.1", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4%eth0",
        ":", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:",
        "12345::", "g::", "::1.2.3", "1.2.3.4::", "::1.2.3.4:5", "fe80::1%", "[::1]", "::ffff:256.1.1.1",
    ])
    func badAddressesAreRejected(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func mappedAddressesExposeTheirIPv4() throws {
        let mapped = try #require(IPAddress("::ffff:10.1.2.3"))
        #expect(!mapped.isIPv4)
        #expect(mapped.mappedIPv4 == IPAddress("10.1.2.3"))
        #expect(IPAddress("10.1.2.3")?.ipv6Mapped == mapped)
        #expect(IPAddress("10.1.2.3")?.mappedIPv4 == nil)
        #expect(IPAddress("::10.1.2.3")?.mappedIPv4 == nil)
        #expect(IPAddress("10.1.2.3")?.bytes == [10, 1, 2, 3])
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }

    @Test func cidrBlocksParseAndContain() throws {
        let ten = try #require(CIDR("10.0.0.0/8"))
        #expect(ten.contains(IPAddress("10.255.0.1")!))
        #expect(!ten.contains(IPAddress("11.0.0.1")!))
        #expect(ten.contains(IPAddress("::ffff:10.1.2.3")!))
        #expect(!ten.contains(IPAddress("::10.1.2.3")!))
        #expect(!ten.contains(IPAddress("a00::1")!))

        let documentation = try #require(CIDR("2001:db8::/32"))
        #expect(documentation.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(!documentation.contains(IPAddress("2001:db9::1")!))
        #expect(!documentation.contains(IPAddress("32.1.13.184")!))  // the same leading bits, but IPv4

        #expect(CIDR("192.0.2.7/24")?.description == "192.0.2.0/24")
        #expect(CIDR("192.0.2.7/24") == CIDR("192.0.2.0/24"))
        #expect(CIDR("2001:DB8::1/33")?.description == "2001:db8::/33")
        #expect(CIDR("fe80::1:2/65")?.contains(IPAddress("fe80::ffff")!) == true)
        #expect(CIDR("fe80::1:2/127")?.contains(IPAddress("fe80::1:3")!) == true)
        #expect(CIDR("fe80::1:2/127")?.contains(IPAddress("fe80::1:4")!) == false)

        let single = try #require(CIDR("192.0.2.1"))
        #expect(single.prefixLength == 32)
        #expect(single.contains(IPAddress("192.0.2.1")!) && !single.contains(IPAddress("192.0.2.2")!))
        #expect(CIDR("::1")?.prefixLength == 128)
        #expect(CIDR("::1")?.contains(IPAddress("::1")!) == true)

        let everything = try #require(CIDR("0.0.0.0/0"))
        #expect(everything.contains(IPAddress("203.0.113.9")!) && everything.contains(IPAddress("::ffff:1.1.1.1")!))
        #expect(!everything.contains(IPAddress("2001:db8::1")!))
        #expect(CIDR("::/0")?.contains(IPAddress("2001:db8::1")!) == true)
    }

    @Test(arguments: [
        "10.0.0.0/33", "::/129", "10.0.0.0/", "/8", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "x/8", "10.0.0/8",
    ])
    func badBlocksAreRejected(text: String) {
        #expect(CIDR(text) == nil)
    }

    // MARK: AddressPolicy

    @Test(arguments: [
        "0.0.0.0", "0.1.2.3", "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "169.254.169.254",
        "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.0.8", "198.18.0.1", "198.19.255.255", "192.0.2.1",
        "198.51.100.1", "203.0.113.1", "::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "2001:db8::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::10.0.0.1", "64:ff9b::127.0.0.1", "2002:7f00:1::1",
        "::127.0.0.1", "100::1", "2001::1",
    ])
    func nonPublicAddressesAreRefused(text: String) throws {
        #expect(!AddressPolicy.isPublic(try #require(IPAddress(text))))
    }

    @Test(arguments: [
        "8.8.8.8", "1.1.1.1", "11.0.0.1", "172.32.0.1", "100.128.0.1", "192.169.0.1", "223.255.255.255", "2606:4700:4700::1111",
        "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1",
    ])
    func publicAddressesAreAllowed(text: String) throws {
        #expect(AddressPolicy.isPublic(try #require(IPAddress(text))))
    }

    @Test(arguments: [
        ("http://127.0.0.1/", OutboundError.Kind.hostNotAllowed),
        ("http://[::1]:8080/", .hostNotAllowed),
        ("http://10.1.2.3/", .hostNotAllowed),
        ("https://169.254.169.254/latest/meta-data/", .hostNotAllowed),
        ("http://[::ffff:127.0.0.1]/", .hostNotAllowed),
        ("http://[fe80::1%25eth0]/", .hostNotAllowed),
        ("http://localhost/", .hostNotAllowed),
        ("ftp://example.com/file", .schemeNotAllowed),
        ("file:///etc/passwd", .schemeNotAllowed),
        ("gopher://127.0.0.1/", .schemeNotAllowed),
    ])
    func defaultPolicyRefuses(url: String, kind: OutboundError.Kind) async throws {
        let error = await #expect(throws: OutboundError.self) { try await AddressPolicy().check(URL(string: url)!) }
        #expect(error?.kind == kind)
    }

    @Test func refusalsNameTheHostButNotTheQuery() async throws {
        let error = await #expect(throws: OutboundError.self) {
            try await AddressPolicy().check(URL(string: "http://10.1.2.3/private/path?token=sesame")!)
        }
        #expect(error?.message.contains("10.1.2.3") == true)
        #expect(error?.message.contains("sesame") == false)
        #expect(error?.message.contains("private") == false)
    }

    @Test func privateNetworksCanBeAllowed() async throws {
        let policy = AddressPolicy(allowPrivateNetworks: true)
        #expect(try await policy.check(URL(string: "http://127.0.0.1:9/")!) == [IPAddress("127.0.0.1")!])
        #expect(try await policy.check(URL(string: "http://[::1]/")!) == [IPAddress("::1")!])
        #expect(try await policy.check(URL(string: "http://[::ffff:127.0.0.1]/")!) == [IPAddress("::ffff:127.0.0.1")!])
        let local = try await policy.check(URL(string: "http://localhost/")!)
        #expect(!local.isEmpty && local.allSatisfy { !AddressPolicy.isPublic($0) })
        let error = await #expect(throws: OutboundError.self) { try await policy.check(URL(string: "file:///etc/passwd")!) }
        #expect(error?.kind == .schemeNotAllowed)
    }

    // MARK: URLFetcher

    static let loopbackPolicy = AddressPolicy(allowPrivateNetworks: true)

    /// A server with the routes the fetcher tests use; `hits` counts every request it receives.
    private static func fetchRouter(hits: RequestCounter) -> Router<BasicRequestContext> {
        let router = Router()
        let payload = ByteBuffer(bytes: (0..<1000).map { UInt8($0 % 251) })
        router.middlewares.add(CountingMiddleware(hits: hits))
        router.get("file") { _, _ in
            Response(status: .ok, headers: [.contentType: "video/mp4"], body: .init(byteBuffer: payload))
        }
        router.get("chunked") { _, _ in
            Response(
                status: .ok,
                body: ResponseBody { writer in  // no length: sent with chunked transfer encoding
                    for _ in 0..<20 {
                        try await writer.write(ByteBuffer(repeating: 0x61, count: 500))
                    }
                    try await writer.finish(nil)
                }
            )
        }
        router.get("redirect/:remaining") { _, context in
            let remaining = try context.parameters.require("remaining", as: Int.self)
            let location = remaining == 0 ? "/file" : "/redirect/\(remaining - 1)"
            return Response(status: .found, headers: [.location: location])
        }
        router.get("to-private") { _, _ in
            Response(status: .found, headers: [.location: "http://10.0.0.1/secret"])
        }
        router.get("missing") { _, _ in Response(status: .notFound) }
        router.get("slow") { _, _ in
            try await Task.sleep(for: .seconds(1))
            return Response(status: .ok)
        }
        return router
    }

    @Test func fetchWritesTheBody() async throws {
        let hits = RequestCounter()
        try await withHTTPServer(Self.fetchRouter(hits: hits)) { port in
            let directory = try TemporaryDirectory()
            let file = URL(fileURLWithPath: directory.file("input"))
            let fetcher = URLFetcher(policy: Self.loopbackPolicy, maxBytes: 1000, timeout: .seconds(10))
            let fetched = try await fetcher.fetch(URL(string: "http://127.0.0.1:\(port)/file")!, to: file)
            #expect(fetched.byteCount == 1000)
            #expect(fetched.contentType == "video/mp4")
            #expect(fetched.finalURL.path == "/file")
            #expect(try Data(contentsOf: file) == Data((0..<1000).map { UInt8($0 % 251) }))
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["input"])

            // The chunked route really sends no length, so the limit is enforced while streaming.
            let head = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/chunked"),
                timeout: .seconds(10)
            )
            #expect(head.headers["content-length"].isEmpty && head.headers["transfer-encoding"] == ["chunked"])
            _ = try await head.body.collect(upTo: 1 << 20)

            let chunked = try await URLFetcher(policy: Self.loopbackPolicy, maxBytes: 10_000, timeout: .seconds(10))
                .fetch(URL(string: "http://127.0.0.1:\(port)/chunked")!, to: file)
            #expect(chunked.byteCount == 10_000)
            #expect(try Data(contentsOf: file).count == 10_000)
        }
    }

    @Test func redirectsAreFollowedUpToTheLimit() async throws {
        let hits = RequestCounter()
        try await withHTTPServer(Self.fetchRouter(hits: hits)) { port in
            let directory = try TemporaryDirectory()
            let file = URL(fileURLWithPath: directory.file("input"))
            let fetcher = URLFetcher(policy: Self.loopbackPolicy, maxBytes: 1000, timeout: .seconds(10), maxRedirects: 3)

            let fetched = try await fetcher.fetch(URL(string: "http://127.0.0.1:\(port)/redirect/2")!, to: file)
            #expect(fetched.byteCount == 1000)
            #expect(fetched.finalURL.absoluteString == "http://127.0.0.1:\(port)/file")

            try FileManager.default.removeItem(at: file)
            let error = await #expect(throws: OutboundError.self) {
                try await fetcher.fetch(URL(string: "http://127.0.0.1:\(port)/redirect/5")!, to: file)
            }
            #expect(error?.kind == .tooManyRedirects)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
        }
    }

    @Test(arguments: ["file", "chunked"])
    func bodiesOverTheLimitAreRefusedAndLeaveNoFile(path: String) async throws {
        let hits = RequestCounter()
        try await withHTTPServer(Self.fetchRouter(hits: hits)) { port in
            let directory = try TemporaryDirectory()
            let file = URL(fileURLWithPath: directory.file("input"))
            let fetcher = URLFetcher(policy: Self.loopbackPolicy, maxBytes: 999, timeout: .seconds(10))
            let error = await #expect(throws: OutboundError.self) {
                try await fetcher.fetch(URL(string: "http://127.0.0.1:\(port)/\(path)")!, to: file)
            }
            #expect(error?.kind == .tooLarge)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
        }
    }

    @Test func failuresAreReportedByKind() async throws {
        let hits = RequestCounter()
        try await withHTTPServer(Self.fetchRouter(hits: hits)) { port in
            let directory = try TemporaryDirectory()
            let file = URL(fileURLWithPath: directory.file("input"))

            let missing = await #expect(throws: OutboundError.self) {
                try await URLFetcher(policy: Self.loopbackPolicy, maxBytes: 1000, timeout: .seconds(10))
                    .fetch(URL(string: "http://127.0.0.1:\(port)/missing")!, to: file)
            }
            #expect(missing?.kind == .badStatus)
            #expect(missing?.statusCode == 404)

            let slow = await #expect(throws: OutboundError.self) {
                try await URLFetcher(policy: Self.loopbackPolicy, maxBytes: 1000, timeout: .milliseconds(200))
                    .fetch(URL(string: "http://127.0.0.1:\(port)/slow")!, to: file)
            }
            #expect(slow?.kind == .timedOut)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)

            // A file that cannot be written is the caller's problem, not the server's.
            let unwritable = await #expect(throws: (any Error).self) {
                try await URLFetcher(policy: Self.loopbackPolicy, maxBytes: 1000, timeout: .seconds(10))
                    .fetch(URL(string: "http://127.0.0.1:\(port)/file")!, to: URL(fileURLWithPath: directory.file("missing/input")))
            }
            #expect(unwritable != nil && !(unwritable is OutboundError))
        }
        let unreachable = await #expect(throws: OutboundError.self) {
            try await URLFetcher(policy: Self.loopbackPolicy, maxBytes: 1000, timeout: .seconds(10))
                .fetch(URL(string: "http://127.0.0.1:1/")!, to: URL(fileURLWithPath: "/nonexistent/input"))
        }
        #expect(unreachable?.kind == .unreachable)
        #expect(unreachable?.message == "Fetching from 127.0.0.1 failed: the connection was refused.")
    }

    @Test func refusedAddressesAreNeverContacted() async throws {
        let hits = RequestCounter()
        try await withHTTPServer(Self.fetchRouter(hits: hits)) { port in
            let directory = try TemporaryDirectory()
            let file = URL(fileURLWithPath: directory.file("input"))

            let direct = await #expect(throws: OutboundError.self) {
                try await URLFetcher(policy: AddressPolicy(), maxBytes: 1000, timeout: .seconds(10))
                    .fetch(URL(string: "http://127.0.0.1:\(port)/file")!, to: file)
            }
            #expect(direct?.kind == .hostNotAllowed)
            #expect(hits.value == 0)

            // Loopback is allowed here so the first hop reaches the test server; the redirect to 10.0.0.1 is not.
            var policy = AddressPolicy()
            policy.additionallyAllowed = [CIDR("127.0.0.0/8")!]
            let redirected = await #expect(throws: OutboundError.self) {
                try await URLFetcher(policy: policy, maxBytes: 1000, timeout: .seconds(10))
                    .fetch(URL(string: "http://127.0.0.1:\(port)/to-private")!, to: file)
            }
            #expect(redirected?.kind == .hostNotAllowed)
            #expect(redirected?.message.contains("10.0.0.1") == true)
            #expect(hits.value == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
        }
    }

    // MARK: Webhooks

    @Test func signaturesRoundTrip() throws {
        let payload = Data(#"{"type":"job.completed","id":"evt_1"}"#.utf8)
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let header = WebhookSignature.sign(payload: payload, secret: "whsec_one", timestamp: 1_700_000_000)
        #expect(header.hasPrefix("t=1700000000,v1="))
        #expect(header.count == "t=1700000000,v1=".count + 64)
        #expect(WebhookSignature.verify(header: header, payload: payload, secret: "whsec_one", now: now))

        // Tampered body, wrong secret, old or future timestamp.
        #expect(
            !WebhookSignature.verify(
                header: header,
                payload: Data(#"{"type":"job.failed","id":"evt_1"}"#.utf8),
                secret: "whsec_one",
                now: now
            )
        )
        #expect(!WebhookSignature.verify(header: header, payload: payload, secret: "whsec_two", now: now))
        #expect(!WebhookSignature.verify(header: header, payload: payload, secret: "whsec_one", now: now.addingTimeInterval(301)))
        #expect(!WebhookSignature.verify(header: header, payload: payload, secret: "whsec_one", now: now.addingTimeInterval(-301)))
        #expect(WebhookSignature.verify(header: header, payload: payload, secret: "whsec_one", now: now.addingTimeInterval(299)))
        #expect(
            WebhookSignature.verify(
                header: header,
                payload: payload,
                secret: "whsec_one",
                tolerance: .seconds(3600),
                now: now.addingTimeInterval(3000)
            )
        )

        // Secret rotation: one v1 entry per secret; either secret verifies.
        let second = WebhookSignature.sign(payload: payload, secret: "whsec_two", timestamp: 1_700_000_000)
        let rotated = header + "," + second.split(separator: ",")[1]
        #expect(WebhookSignature.verify(header: rotated, payload: payload, secret: "whsec_two", now: now))
        #expect(WebhookSignature.verify(header: rotated, payload: payload, secret: "whsec_one", now: now))
        #expect(
            WebhookSignature.verify(
                header: rotated.replacingOccurrences(of: ",", with: ", "),
                payload: payload,
                secret: "whsec_two",
                now: now
            )
        )

        // Malformed headers.
        for bad in ["", "v1=00", "t=1700000000", "t=abc,v1=00", "t=1700000000,t=1700000000" + header.dropFirst(12), "t=1700000000,v1=zz"] {
            #expect(!WebhookSignature.verify(header: bad, payload: payload, secret: "whsec_one", now: now))
        }
    }

    /// A known answer, so receivers in other languages can check their implementation against ours.
    @Test func signatureMatchesHMACSHA256OfTimestampDotPayload() {
        let header = WebhookSignature.sign(payload: Data("hello".utf8), secret: "key", timestamp: 0)
        // printf '0.hello' | openssl dgst -sha256 -hmac key
        #expect(header == "t=0,v1=" + Self.expectedKnownAnswer)
    }

    static let expectedKnownAnswer = "552b25b10c33de2db9fe7fa273d44ab105d596c023fa954d01444d4642487149"

    struct ReceivedHook: Sendable {
        var signature: String?
        var eventID: String?
        var contentType: String?
        var userAgent: String?
        var body: Data
    }

    @Test func webhooksAreSignedAndDelivered() async throws {
        let received = Mutex<[ReceivedHook]>([])
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let hook = ReceivedHook(
                signature: request.headers[HTTPField.Name("Wharf-Signature")!],
                eventID: request.headers[HTTPField.Name("Wharf-Webhook-Id")!],
                contentType: request.headers[.contentType],
                userAgent: request.headers[.userAgent],
                body: Data(body.readableBytesView)
            )
            received.withLock { $0.append(hook) }
            return Response(status: .noContent)
        }
        router.post("fail") { _, _ in
            Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(repeating: 0x20, count: 200_000)))
        }
        router.post("moved") { _, _ in Response(status: .temporaryRedirect, headers: [.location: "/hook"]) }

        try await withHTTPServer(router) { port in
            let sender = WebhookSender(policy: Self.loopbackPolicy)
            let payload = Data(#"{"type":"job.completed","id":"evt_42"}"#.utf8)

            let delivery = await sender.deliver(
                to: URL(string: "http://127.0.0.1:\(port)/hook")!,
                payload: payload,
                secret: "whsec_s",
                eventID: "evt_42"
            )
            #expect(delivery.statusCode == 204)
            #expect(delivery.succeeded)
            #expect(delivery.error == nil)
            let hook = try #require(received.withLock { $0.first })
            #expect(hook.body == payload)
            #expect(hook.eventID == "evt_42")
            #expect(hook.contentType == "application/json")
            #expect(hook.userAgent == "Wharf-Webhooks/1")
            let signature = try #require(hook.signature)
            #expect(WebhookSignature.verify(header: signature, payload: hook.body, secret: "whsec_s"))
            #expect(!WebhookSignature.verify(header: signature, payload: hook.body, secret: "whsec_other"))

            let failed = await sender.deliver(
                to: URL(string: "http://127.0.0.1:\(port)/fail")!,
                payload: payload,
                secret: "whsec_s",
                eventID: "evt_43"
            )
            #expect(failed.statusCode == 500)
            #expect(!failed.succeeded)

            let moved = await sender.deliver(
                to: URL(string: "http://127.0.0.1:\(port)/moved")!,
                payload: payload,
                secret: "whsec_s",
                eventID: "evt_44"
            )
            #expect(moved.statusCode == 307)
            #expect(!moved.succeeded)
            #expect(received.withLock { $0.count } == 1)  // the redirect was not followed

            let refused = await WebhookSender(policy: AddressPolicy())
                .deliver(to: URL(string: "http://127.0.0.1:\(port)/hook")!, payload: payload, secret: "whsec_s", eventID: "evt_45")
            #expect(refused.statusCode == nil)
            #expect(!refused.succeeded)
            #expect(refused.error?.contains("127.0.0.1") == true)
            #expect(received.withLock { $0.count } == 1)
        }

        let unreachable = await WebhookSender(policy: Self.loopbackPolicy)
            .deliver(to: URL(string: "http://127.0.0.1:1/hook")!, payload: Data("{}".utf8), secret: "s", eventID: "evt_46")
        #expect(unreachable.statusCode == nil)
        #expect(unreachable.error != nil)
    }
}

/// Counts requests; readable from tests while the server runs.
private final class RequestCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func increment() { count.withLock { $0 += 1 } }
}

/// Counts every request a test server receives.
private struct CountingMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let hits: RequestCounter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        hits.increment()
        return try await next(request, context)
    }
}
