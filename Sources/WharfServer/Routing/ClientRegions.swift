import AsyncAlgorithms
import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import Synchronization
import WharfCore

/// Works out where a request's client is, for geographic steering: the region a trusted edge wrote
/// into a header (`routing.client_region_header`, such as `CloudFront-Viewer-Country`), else the
/// region of the most specific network in the operator's table (`routing.client_regions_file`, CSV
/// lines `<cidr>,<region>`) that holds the client's address. A tenant's or key's pinned region wins
/// over both (applied when the job is routed).
public final class ClientRegions: Sendable {
    /// The header the edge sets, if any.
    let header: HTTPField.Name?
    /// The table's file, if any.
    let tablePath: String?
    private let table = Mutex(Table())

    struct Table {
        /// Networks, most specific first.
        var entries: [(network: CIDR, region: String)] = []
        /// The file's modification time when it was read.
        var modified: Date?
    }

    /// A table that cannot be used, in words for the operator.
    struct InvalidTable: Error, CustomStringConvertible {
        var description: String
    }

    /// Largest table file read, and most networks kept.
    static let maximumFileBytes = 16 << 20
    static let maximumEntries = 200_000

    /// - Throws: ``InvalidTable`` when the table file cannot be read at start-up.
    public init(header: String?, tablePath: String?) throws {
        self.header = header.flatMap { HTTPField.Name($0) }
        self.tablePath = tablePath
        if tablePath != nil { _ = try reloadIfChanged() }
    }

    /// The client's region: the trusted header's when it holds a plausible region name, else the table's.
    func region(headers: HTTPFields, address: IPAddress?) -> String? {
        if let header, let value = headers[header].map({ $0.trimmingCharacters(in: .whitespaces) }), RegionName.isValid(value) {
            return value
        }
        guard let address else { return nil }
        return table.withLock { table in table.entries.first { $0.network.contains(address) }?.region }
    }

    /// Reads the table again when its file changed since it was read.
    /// - Returns: Whether it was read.
    /// - Throws: ``InvalidTable`` when the file cannot be read or holds no usable line; the table
    ///   in use is kept.
    func reloadIfChanged() throws -> Bool {
        guard let tablePath else { return false }
        let attributes = try? FileManager.default.attributesOfItem(atPath: tablePath)
        let modified = attributes?[.modificationDate] as? Date
        guard let size = (attributes?[.size] as? NSNumber)?.intValue else {
            throw InvalidTable(description: "\(tablePath) cannot be read")
        }
        if let modified, table.withLock({ $0.modified }) == modified { return false }
        guard size <= Self.maximumFileBytes else {
            throw InvalidTable(description: "\(tablePath) is larger than \(Self.maximumFileBytes) bytes")
        }
        // Read within the bound even when the file grows after its size was looked at.
        guard let handle = FileHandle(forReadingAtPath: tablePath) else {
            throw InvalidTable(description: "\(tablePath) cannot be read")
        }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: Self.maximumFileBytes + 1) ?? Data(), data.count <= Self.maximumFileBytes else {
            throw InvalidTable(description: "\(tablePath) cannot be read within \(Self.maximumFileBytes) bytes")
        }
        let entries = try Self.parse(String(decoding: data, as: UTF8.self), path: tablePath)
        table.withLock { $0 = Table(entries: entries, modified: modified) }
        return true
    }

    /// The lines `<cidr>,<region>` of a table (blank lines and `#` comments skipped), most specific
    /// network first. - Throws: ``InvalidTable`` naming the first bad line.
    static func parse(_ text: String, path: String) throws -> [(network: CIDR, region: String)] {
        var entries: [(network: CIDR, region: String)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, let network = CIDR(fields[0]), RegionName.isValid(fields[1]) else {
                throw InvalidTable(description: "\(path), line \(number + 1): expected '<cidr>,<region>', got '\(trimmed.prefix(80))'")
            }
            guard entries.count < maximumEntries else {
                throw InvalidTable(description: "\(path) has more than \(maximumEntries) networks")
            }
            entries.append((network, fields[1]))
        }
        // Stable: among equally specific networks the file's order decides.
        return entries.enumerated().sorted { lhs, rhs in
            lhs.element.network.prefixLength != rhs.element.network.prefixLength
                ? lhs.element.network.prefixLength > rhs.element.network.prefixLength : lhs.offset < rhs.offset
        }.map(\.element)
    }

}

/// Reads the client region table again whenever its file changes (checked every few seconds).
struct ClientRegionTableWatcher: Service {
    let regions: ClientRegions
    let interval: Duration
    let logger: Logger

    func run() async throws {
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            do {
                if try regions.reloadIfChanged() {
                    logger.info("client region table reloaded", metadata: ["gw.file": "\(regions.tablePath ?? "")"])
                }
            } catch {
                logger.error("client region table not reloaded; the previous one stays", metadata: ["error": "\(error)"])
            }
        }
    }
}
