package import Foundation
package import WharfCore
package import WharfModel

/// One breaking change of `/v2`, made in ``revision``: how to bring a request from the revision
/// before it up to this one, and how to take a response from this one back down.
///
/// Handlers only know the newest shape. A request pinned to an older revision goes through the
/// ``request`` of every change newer than its pin, oldest first; the answer goes through their
/// ``response``s, newest first. Objects are recognised by their `object` field (`"job"`), so the
/// same change serves single answers, lists and webhook bodies.
package struct RevisionChange: Sendable {
    package var revision: APIRevision
    /// For docs/API-VERSIONS.md and the logs.
    package var summary: String
    /// Rewrites a request body of the previous revision (a JSON object) into this revision's shape.
    package var request: @Sendable (_ path: String, _ body: inout [String: JSONValue]) -> Void
    /// Rewrites one object of this revision's shape into the previous revision's.
    package var response: @Sendable (_ object: inout [String: JSONValue]) -> Void

    /// Every change, oldest first.
    package static let all: [RevisionChange] = [
        RevisionChange(
            revision: .r2026_11_01,
            summary:
                "Job `params` is renamed `parameters`; job `artifacts` (file names) becomes `outputs` (objects with url, content type and size).",
            request: { path, body in
                guard path.hasSuffix("/jobs") || path.hasSuffix("/estimates"), let old = body.removeValue(forKey: "params") else { return }
                if body["parameters"] == nil { body["parameters"] = old }
            },
            response: { object in
                guard object["object"] == .string("job") else { return }
                if let parameters = object.removeValue(forKey: "parameters") { object["params"] = parameters }
                if case .array(let outputs) = object.removeValue(forKey: "outputs") {
                    object["artifacts"] = .array(
                        outputs.compactMap { output in
                            guard case .object(let fields) = output, case .string(let name) = fields["name"] else { return nil }
                            return .string(name)
                        }
                    )
                }
            }
        )
    ]

    /// The changes a client on `revision` does not have, oldest first.
    package static func newer(than revision: APIRevision) -> [RevisionChange] {
        all.filter { $0.revision > revision }
    }

    /// Brings a request body of `revision` to the newest shape; `nil` when nothing changes (or the
    /// body is not a JSON object, which the handler then refuses itself).
    package static func upgradeRequest(_ body: Data, path: String, from revision: APIRevision) -> Data? {
        let changes = newer(than: revision)
        guard !changes.isEmpty, case .object(var object) = JSONValue(parsing: body) else { return nil }
        for change in changes { change.request(path, &object) }
        return try? JSONValue.object(object).encoded()
    }

    /// Takes a JSON answer of the newest shape down to `revision`; `nil` when nothing changes.
    package static func downgradeResponse(_ body: Data, to revision: APIRevision) -> Data? {
        let changes = newer(than: revision).reversed()
        guard !changes.isEmpty, let value = JSONValue(parsing: body) else { return nil }
        let rewritten = rewrite(value) { object in for change in changes { change.response(&object) } }
        return try? rewritten.encoded()
    }

    /// Applies `transform` to every object in a JSON value, innermost first.
    private static func rewrite(_ value: JSONValue, _ transform: (inout [String: JSONValue]) -> Void) -> JSONValue {
        switch value {
        case .object(var object):
            for (key, inner) in object { object[key] = rewrite(inner, transform) }
            transform(&object)
            return .object(object)
        case .array(let array):
            return .array(array.map { rewrite($0, transform) })
        default:
            return value
        }
    }
}
