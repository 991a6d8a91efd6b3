import Foundation
public import Hummingbird
public import WharfCore

/// `GET /media/<job id>/<name>`: the files jobs produced (images, audio, video), served by the gateway
/// so customers never fetch anything from an orchestrator.
///
/// Like the result links of Livepeer gateways, the links need no key: a job id carries 80 random bits,
/// so a link is as hard to guess as a key, and it can be handed to a browser or an `<img>` tag.
///
/// With `media.signed_urls`, a link must also carry the expiry and signature the gateway gave it
/// (``MediaLinks``); without them, altered or expired, it is refused with 403.
public struct MediaController<Store: ArtifactStore>: Sendable {
    private let store: Store
    private let links: MediaLinks

    public init(store: Store, links: MediaLinks = .plain) {
        self.store = store
        self.links = links
    }

    public func addRoutes(to router: Router<WharfRequestContext>) {
        router.get("media/:job/:name") { request, context in
            let jobID = try context.parameters.require("job")
            let name = try context.parameters.require("name")
            let query = request.uri.queryParameters
            guard
                links.permits(
                    jobID: jobID,
                    name: name,
                    expires: query["expires"].map(String.init),
                    signature: query["signature"].map(String.init)
                )
            else {
                throw ProblemError(
                    status: .forbidden,
                    kind: "media-link-not-valid",
                    title: "Forbidden",
                    detail: "this media link is not signed, was altered or has expired; get a fresh one from the job"
                )
            }
            guard Artifact.isValidName(name), let found = try await store.artifact(jobID: jobID, name: name) else {
                throw ProblemError(
                    status: .notFound,
                    kind: "not-found",
                    title: "Not Found",
                    detail: "no result file \(name) for job \(jobID)"
                )
            }
            let etag = "\"\(found.artifact.byteCount)-\(Int(found.artifact.createdAt.timeIntervalSince1970 * 1000))\""
            var headers: HTTPFields = [
                .contentType: found.artifact.contentType,
                .eTag: etag,
                // A job's files never change once stored.
                .cacheControl: "private, max-age=86400, immutable",
            ]
            if request.headers[.ifNoneMatch] == etag {
                headers[.contentType] = nil
                return Response(status: .notModified, headers: headers)
            }
            do {
                return try BlobResponse.make(found.blob, from: store.blobs, request: request, headers: headers)
            } catch let unsatisfiable as BlobResponse.RangeNotSatisfiable {
                throw ProblemError(
                    status: .rangeNotSatisfiable,
                    kind: "range-not-satisfiable",
                    title: "Range Not Satisfiable",
                    detail: "the file has \(unsatisfiable.size) bytes; '\(unsatisfiable.header.prefix(80))' selects none of them"
                )
            }
        }
    }
}
