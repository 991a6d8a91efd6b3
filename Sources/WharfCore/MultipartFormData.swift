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
        let boundary = "wharf-" + UUID().uuidString.lowercased()
        var body = Data()
        for part in parts {
            var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(quoted(part.name))\""
            if let filename = part.filename { head += "; filename=\"\(quoted(filename))\"" }
            head += "\r\n"
            if let contentType = part.contentType ?? part.filename.map({ _ in "application/octet-stream" }) {
                head += "Content-Type: \(contentType)\r\n"
            }
            body.append(Data((head + "\r\n").utf8))
            body.append(part.data)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return (body, "multipart/form-data; boundary=\(boundary)")
    }

    /// A header parameter value without the characters that would end or break it.
    private static func quoted(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "%22").replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "")
    }
}
