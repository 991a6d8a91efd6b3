import AsyncAlgorithms
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import WharfCore
import WharfLivepeer

/// The real `wharf serve --dev --devnet 3` (what `make run` starts) in a temporary folder, its
/// listeners on ports the system picks (read from its `listening` log lines), ready once its
/// orchestrators are available; stopped with SIGTERM.
final class ServedGateway: Sendable {
    let directory: TemporaryDirectory
    let publicPort: Int
    let adminPort: Int
    /// The development key `--dev` made (v1, v2 and admin scopes).
    let key: String
    private let process: ChildProcess

    /// - Parameters:
    ///   - environment: Extra `WHARF_…` settings.
    ///   - devnet: Orchestrators of the embedded devnet.
    ///   - orchestrators: How many must be available before the gateway counts as ready.
    ///   - directory: The working folder (its `.wharf` holds the data); a new one when `nil`.
    init(
        environment: [String: String] = [:],
        devnet: Int = 3,
        orchestrators: Int = 3,
        in directory: TemporaryDirectory? = nil
    ) async throws {
        self.directory = try directory ?? TemporaryDirectory()
        var settings = ["WHARF_HTTP_PUBLIC_PORT": "0", "WHARF_HTTP_ADMIN_PORT": "0"]
        settings.merge(environment) { _, new in new }
        process = try await WharfProcess.start(["serve", "--dev", "--devnet", "\(devnet)"], in: self.directory.path, environment: settings)
        do {
            publicPort = try await Self.boundPort(of: "public", in: process)
            adminPort = try await Self.boundPort(of: "admin", in: process)
        } catch {
            process.signal()
            throw error
        }
        // The key exists before the listeners start; the orchestrators join the pool as they answer.
        let key =
            (try? String(contentsOfFile: self.directory.file(".wharf/dev-key"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        var available = 0
        for _ in 0..<200 where available < orchestrators {
            if let listing = try? await httpGet("http://127.0.0.1:\(adminPort)/admin/v1/orchestrators", bearer: key) {
                let members =
                    (try? JSONSerialization.jsonObject(with: Data(listing.body.utf8)) as? [String: Any])?["data"] as? [[String: Any]]
                available = members?.filter { $0["status"] as? String == "available" }.count ?? 0
            }
            if available < orchestrators { try await Task.sleep(for: .milliseconds(50)) }
        }
        self.key = key
        guard available == orchestrators, !key.isEmpty else {
            process.signal()
            throw ChildProcessFailure(
                "wharf serve did not become ready; last lines:\n\(process.lastLines(on: .error).joined(separator: "\n"))"
            )
        }
    }

    /// The port a listener of `wharf serve` bound, from its `listening` log line.
    static func boundPort(of listener: String, in process: ChildProcess) async throws -> Int {
        let line = try await process.line(within: .seconds(30)) {
            $0.contains(#""msg":"listening""#) && $0.contains(#""gw.listener":"\#(listener)""#)
        }
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        guard let port = (object?["gw.port"] as? String).flatMap(Int.init) else {
            throw ChildProcessFailure("no port in \(line)")
        }
        return port
    }

    var baseURL: String { "http://127.0.0.1:\(publicPort)" }

    /// The devnet orchestrators' HTTPS URLs (where their fault control lives), cheapest first.
    func orchestratorURLs() async throws -> [String] {
        let listing = try await httpGet("http://127.0.0.1:\(adminPort)/admin/v1/orchestrators", bearer: key)
        let members = (try JSONSerialization.jsonObject(with: Data(listing.body.utf8)) as? [String: Any])?["data"] as? [[String: Any]] ?? []
        return members.compactMap { ($0["offer"] as? [String: Any])?["transcoder"] as? String }
    }

    /// Sets the faults of the devnet orchestrator at `url` through its control endpoint.
    func setFaults(_ json: String, at url: String) async throws {
        try await postDevnetFaults(json, to: url + "/_devnet/faults")
    }

    /// Sends a request to the public listener; the body is collected.
    func send(
        _ method: HTTPMethod,
        _ path: String,
        body: Data? = nil,
        contentType: String? = nil,
        headers: [(String, String)] = [],
        authorized: Bool = true,
        chunked: Bool = false
    ) async throws -> (status: Int, headers: HTTPHeaders, body: Data) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if authorized { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            // Chunked: no Content-Length, so only reading the body can tell its size.
            request.body = chunked ? .stream([ByteBuffer(bytes: body)].async, length: .unknown) : .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let collected = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return (Int(response.status.code), response.headers, Data(collected.readableBytesView))
    }

    /// What the gateway has logged so far, one line per line.
    func logged() -> [String] {
        (process.printed(on: .error) + "\n" + process.printed(on: .output)).split(separator: "\n").map(String.init)
    }

    /// Whether the gateway process is still running.
    var isRunning: Bool { process.isRunning }

    /// Stops the gateway with SIGTERM; it shuts down on its own.
    func stop() {
        process.signal()
    }

    /// Kills the gateway (SIGKILL: no shutdown of its own, as in a crash) and waits for it to go.
    func kill() async throws {
        process.signal(SIGKILL)
        _ = try await process.waitForExit()
    }

    /// Stops the gateway with SIGTERM and waits for it to exit. - Returns: Its exit status.
    func stopAndWait() async throws -> Int32 {
        try await process.stop()
    }
}

/// A `multipart/form-data` body from text fields and files, and its content type.
func multipartForm(_ fields: [(String, String)], files: [(name: String, filename: String, type: String, data: Data)]) -> (Data, String) {
    MultipartFormData.encode(
        fields.map { MultipartFormData.Part.text($0.0, $0.1) }
            + files.map { MultipartFormData.Part(name: $0.name, filename: $0.filename, contentType: $0.type, data: $0.data) }
    )
}

/// Posts a faults document to a devnet orchestrator's control endpoint (`…/_devnet/faults`).
func postDevnetFaults(_ json: String, to faultsURL: String) async throws {
    let response = try await devnetRequest(.POST, faultsURL, body: json)
    guard response.status == 200 else { throw CocoaError(.fileWriteUnknown) }
}

/// A request to a devnet orchestrator's HTTPS control side (its certificate is made at start-up).
func devnetRequest(_ method: HTTPMethod, _ url: String, body: String? = nil) async throws -> (status: Int, body: Data) {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.certificateVerification = .none
    var request = HTTPClientRequest(url: url)
    request.method = method
    request.tlsConfiguration = tls
    if let body { request.body = .bytes(ByteBuffer(string: body)) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
    let collected = try await response.body.collect(upTo: 1 << 20)
    return (Int(response.status.code), Data(collected.readableBytesView))
}
