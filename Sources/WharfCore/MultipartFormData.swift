public import Foundation

/// `multipart/form-data` bodies (RFC 7578), as the AI pipelines that take files expect them.
public enum MultipartFormData {
    /// One form field: text, or a file when it has a file name.
    public struct Part: Sendable, Hashable {
        public var name: String
        public var filename: String?
        public var contentType: String?
        public var data: Data

        public init(name: String, filename: String? = nil, contentType: String? = nil, data: Data) {
            self.name = name
            self.filename = filename
            self.contentType = contentType
            self.data = data
        }

        /// A text field.
        public static func text(_ name: String, _ value: String) -> Part { Part(name: name, data: Data(value.utf8)) }
    }

    /// Encodes `parts` in order.
    /// - Returns: The body and its `Content-Type` (with the boundary).
    public static func encode(_ parts: [Part]) -> (body: Data, contentType: String) {
        let boundary = newBoundary()
        return (encoded(parts, boundary: boundary) + Data("--\(boundary)--\r\n".utf8), contentType(boundary))
    }

    /// Encodes `fields`, then a file whose bytes are a stored blob: only the heads and the text
    /// are in memory; the blob is read as the body is sent. `file.data` is not used.
    /// - Returns: The body and its `Content-Type` (with the boundary).
    public static func encode(_ fields: [Part], file: Part, bytes: BlobChunks, count: Int64) -> (body: OutgoingBody, contentType: String) {
        let boundary = newBoundary()
        let before = encoded(fields, boundary: boundary) + head(of: file, boundary: boundary)
        let after = Data("\r\n--\(boundary)--\r\n".utf8)
        return (OutgoingBody([.bytes(before), .chunks(bytes, count: count), .bytes(after)]), contentType(boundary))
    }

    private static func newBoundary() -> String { "wharf-" + UUID().uuidString.lowercased() }

    private static func contentType(_ boundary: String) -> String { "multipart/form-data; boundary=\(boundary)" }

    /// Each part with its head, its content and the line break that ends it.
    private static func encoded(_ parts: [Part], boundary: String) -> Data {
        var body = Data()
        for part in parts {
            body.append(head(of: part, boundary: boundary))
            body.append(part.data)
            body.append(Data("\r\n".utf8))
        }
        return body
    }

    /// A part's boundary line and headers, up to the blank line before its content.
    private static func head(of part: Part, boundary: String) -> Data {
        var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(quoted(part.name))\""
        if let filename = part.filename { head += "; filename=\"\(quoted(filename))\"" }
        head += "\r\n"
        if let contentType = part.contentType ?? part.filename.map({ _ in "application/octet-stream" }) {
            head += "Content-Type: \(contentType)\r\n"
        }
        return Data((head + "\r\n").utf8)
    }

    /// A header parameter value without the characters that would end or break it.
    private static func quoted(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "%22").replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "")
    }
}
