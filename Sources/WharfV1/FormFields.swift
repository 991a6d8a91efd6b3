import Foundation
import OpenAPIRuntime
import WharfCore
import WharfModel

/// The fields of a multipart form as received, kept in order so the form can be sent on to an
/// orchestrator as it came, after validation.
struct FormFields: Sendable {
    /// One part.
    struct Field: Sendable {
        var name: String
        var filename: String?
        var data: Data
    }

    private(set) var fields: [Field] = []
    /// Largest part accepted; the body limit applies first, this bounds a single part.
    static let maximumPartBytes = 1024 * 1024 * 1024

    /// Adds a text part read from `body`.
    /// - Throws: ``V1Failure`` 422 when the form has a part of that name already (each field is one
    ///   value, as the upstream API reads it).
    mutating func append(_ name: String, _ body: HTTPBody) async throws {
        try await append(Field(name: name, filename: nil, data: Data()), body)
    }

    /// Adds a file part read from `body`.
    /// - Throws: ``V1Failure`` 422 when the part is not a file upload (no filename: a text field
    ///   where the pipeline takes a file) or its name came before.
    mutating func appendFile(_ name: String, _ body: HTTPBody, filename: String?) async throws {
        guard let filename, !filename.isEmpty else {
            throw V1Failure.invalid([.init(["body", name], "Expected UploadFile, received a text field", kind: "value_error")])
        }
        try await append(Field(name: name, filename: filename, data: Data()), body)
    }

    private mutating func append(_ field: Field, _ body: HTTPBody) async throws {
        guard !fields.contains(where: { $0.name == field.name }) else {
            throw V1Failure.invalid([.init(["body", field.name], "Input should be a single value, not a list", kind: "value_error")])
        }
        var field = field
        field.data = try await Data(collecting: body, upTo: Self.maximumPartBytes)
        fields.append(field)
    }

    /// The text of a field, if present.
    func text(_ name: String) -> String? {
        fields.first { $0.name == name }.map { String(decoding: $0.data, as: UTF8.self) }
    }

    /// The file of a field, if present.
    func file(_ name: String) -> Field? {
        fields.first { $0.name == name && !$0.data.isEmpty }
    }

    /// Sets a text field, replacing it when present.
    mutating func set(_ name: String, _ value: String) {
        let field = Field(name: name, filename: nil, data: Data(value.utf8))
        if let index = fields.firstIndex(where: { $0.name == name }) {
            fields[index] = field
        } else {
            fields.append(field)
        }
    }

    /// The form as `multipart/form-data`, with its content type.
    func encoded() -> (body: Data, contentType: String) {
        MultipartFormData.encode(
            fields.map { field in
                MultipartFormData.Part(
                    name: field.name,
                    filename: field.filename,
                    contentType: field.filename.map(Self.mediaType(forFilename:)),
                    data: field.data
                )
            }
        )
    }

    /// A JSON summary for the job record: text fields as they are, files as name and size.
    func summary() -> JSONValue {
        var summary: [String: JSONValue] = [:]
        for field in fields {
            if let filename = field.filename {
                summary[field.name] = .object(["filename": .string(filename), "bytes": .integer(Int64(field.data.count))])
            } else {
                summary[field.name] = .string(String(decoding: field.data.prefix(4096), as: UTF8.self))
            }
        }
        return .object(summary)
    }

    static func mediaType(forFilename filename: String) -> String {
        let types = [
            "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
            "wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg", "m4a": "audio/mp4",
            "mp4": "video/mp4", "webm": "video/webm",
        ]
        return types[(filename as NSString).pathExtension.lowercased()] ?? "application/octet-stream"
    }
}

/// Checks request fields against the ranges Wharf accepts and collects every problem, so a client
/// learns about all of them at once.
struct FieldCheck {
    private(set) var issues: [V1Failure.Issue] = []

    /// Records a problem with `field`.
    mutating func fail(_ field: String, _ message: String, kind: String = "value_error") {
        issues.append(.init(["body", field], message, kind: kind))
    }

    /// Checks an optional number against an inclusive range.
    mutating func range<T: Comparable>(_ field: String, _ value: T?, _ bounds: ClosedRange<T>) {
        guard let value else { return }
        if !bounds.contains(value) {
            fail(field, "Input should be from \(bounds.lowerBound) to \(bounds.upperBound)", kind: "range_error")
        }
    }

    /// Parses a form field as an integer; records a problem when it is not one.
    mutating func int(_ form: FormFields, _ field: String, _ bounds: ClosedRange<Int>? = nil) -> Int? {
        guard let text = form.text(field) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            fail(field, "Input should be a valid integer", kind: "int_parsing")
            return nil
        }
        if let bounds { range(field, value, bounds) }
        return value
    }

    /// Parses a form field as a number; records a problem when it is not one.
    mutating func number(_ form: FormFields, _ field: String, _ bounds: ClosedRange<Double>? = nil) -> Double? {
        guard let text = form.text(field) else { return nil }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
            fail(field, "Input should be a valid number", kind: "float_parsing")
            return nil
        }
        if let bounds { range(field, value, bounds) }
        return value
    }

    /// Parses a form field as a boolean (`true`/`false`, `1`/`0`, as FastAPI accepts).
    mutating func bool(_ form: FormFields, _ field: String) {
        guard let text = form.text(field)?.lowercased() else { return }
        if !["true", "false", "1", "0", "yes", "no", "on", "off"].contains(text) {
            fail(field, "Input should be a valid boolean", kind: "bool_parsing")
        }
    }

    /// Requires a non-empty text field.
    mutating func required(_ form: FormFields, _ field: String) {
        if form.text(field) == nil { fail(field, "Field required", kind: "missing") }
    }

    /// Throws the 422 failure when anything was recorded.
    func verify() throws {
        if !issues.isEmpty { throw V1Failure.invalid(issues) }
    }
}
