import Crypto
import Foundation

/// A secret a node signs with: the configured one when set (the way for several nodes to share
/// it), else a random one made once and kept in a file of the data folder, readable by its owner
/// only. `/media` links (`media.signing_secret`, file `media-key`) and console sessions
/// (`console.session_secret`, file `console-key`) each have their own.
enum NodeSecret {
    static func load(configured: String?, dataDirectory: String, file name: String) throws -> Data {
        if let configured, !configured.isEmpty { return Data(configured.utf8) }
        let file = (dataDirectory as NSString).appendingPathComponent(name)
        // Read only when it is a key's size: the file is small or it is not the gateway's.
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size]) as? Int
        if size == 32, let kept = FileManager.default.contents(atPath: file), kept.count == 32 { return kept }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let made = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        try made.write(to: URL(fileURLWithPath: file), options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        return made
    }
}
