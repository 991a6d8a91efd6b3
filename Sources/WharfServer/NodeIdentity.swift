import Foundation
import WharfCore

/// Who this gateway node is when it claims shared work (``WharfCore/LeaseStore``): an identifier
/// made once and kept in the data folder, so a node that restarts takes its own unfinished jobs back
/// at once, while another node waits for their leases to expire.
public enum NodeIdentity {
    /// The identity in `<data folder>/node-id`, made there on first use.
    public static func load(dataDirectory: String) throws -> String {
        let file = (dataDirectory as NSString).appendingPathComponent("node-id")
        if let kept = try? String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            Self.isValid(kept)
        {
            return kept
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let made = Identifier.make(prefix: "node")
        try Data((made + "\n").utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
        return made
    }

    /// 1-64 letters, digits, `_` and `-`: what this gateway writes, and nothing an edited file could
    /// smuggle into logs.
    static func isValid(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy {
                (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D
            }
    }
}
