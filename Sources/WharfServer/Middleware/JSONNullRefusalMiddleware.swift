import Foundation
import Hummingbird
import WharfAdmin
import WharfCore
import WharfModel

/// Refuses a JSON request body with a `null` anywhere in it, naming where (422
/// `validation-failed`). The admin API gives `null` no meaning (a field left out means no limit of
/// that kind), so a `null` is a mistake to point out, not something to read as "left out".
struct JSONNullRefusalMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard [.post, .put, .patch].contains(request.method) else { return try await next(request, context) }
        var request = request
        // Already read whole (and bounded) by `JSONBodyLimitMiddleware`.
        let body = try await request.collectBody(upTo: JSONBodyLimitMiddleware<Context>.defaultLimit)
        if let document = JSONValue(parsing: Data(body.readableBytesView)), let pointer = Self.firstNull(in: document, at: "") {
            throw AdminProblem.invalid(field: pointer, "\(pointer) may not be null; leave the field out instead")
        }
        return try await next(request, context)
    }

    /// The JSON pointer of the first `null` in `value` (object members in name order), if any.
    static func firstNull(in value: JSONValue, at pointer: String) -> String? {
        switch value {
        case .null:
            return pointer.isEmpty ? "/" : pointer
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = firstNull(in: item, at: "\(pointer)/\(index)") { return found }
            }
            return nil
        case .object(let members):
            for name in members.keys.sorted() {
                guard let member = members[name] else { continue }
                let escaped = name.replacing("~", with: "~0").replacing("/", with: "~1")
                if let found = firstNull(in: member, at: "\(pointer)/\(escaped)") { return found }
            }
            return nil
        case .bool, .integer, .number, .string:
            return nil
        }
    }
}
