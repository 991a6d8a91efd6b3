import Foundation

/// Small files a configuration names (secrets mounted as files).
enum ConfigurationFiles {
    /// The most a secret file may hold: a password or key, never a whole document.
    static let maximumSecretBytes = 4096

    /// The first line of the file at `path` without its line ending, or `nil` when the file cannot be
    /// read, holds more than ``maximumSecretBytes``, or is not UTF-8.
    static func firstLine(of path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: maximumSecretBytes + 1), data.count <= maximumSecretBytes,
            let text = String(data: data, encoding: .utf8)
        else { return nil }
        return text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map {
            String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
        } ?? ""
    }
}
