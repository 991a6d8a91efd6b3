public import Foundation
public import WharfModel

extension JSONValue {
    /// The value as JSON text, keys sorted, slashes unescaped.
    public func encoded() throws -> Data {
        try JSONEncoder.sortedCompact.encode(self)
    }
}

extension JSONEncoder {
    /// Keys sorted and slashes left as they are: equal values give equal bytes.
    package static var sortedCompact: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
