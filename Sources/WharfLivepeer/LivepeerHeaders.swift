import Foundation
import SwiftProtobuf

/// The HTTP headers of a job request to an orchestrator.
public enum LivepeerHeaders {
    /// `Livepeer-Segment`: base64 of a protobuf `SegData` carrying the auth token.
    public static let segment = "Livepeer-Segment"
    /// `Livepeer-Payment`: base64 of a protobuf `Payment`; absent offchain.
    public static let payment = "Livepeer-Payment"
    /// `Livepeer-Balance`: the gateway's credit with the orchestrator, in some replies.
    public static let balance = "Livepeer-Balance"
    /// The `Authorization` value orchestrators expect on AI requests.
    public static let aiWorkerAuthorization = "Livepeer-AI-Worker-1.0"

    /// The `Livepeer-Segment` value for an AI job: the auth token and a manifest id.
    ///
    /// The token is required offchain too; an orchestrator refuses a job without it.
    public static func segmentCredentials(authToken: OrchestratorOffer.AuthToken, manifestID: String) throws -> String {
        try encode(segmentData(authToken: authToken, manifestID: manifestID))
    }

    /// A `SegData` carrying the auth token and the manifest id, to which a segment adds its own fields.
    static func segmentData(authToken: OrchestratorOffer.AuthToken, manifestID: String) -> Net_SegData {
        var segment = Net_SegData()
        segment.manifestID = Data(manifestID.utf8)
        segment.authToken = Net_AuthToken.with {
            $0.token = authToken.token
            $0.sessionID = authToken.sessionID
            $0.expiration = Int64(authToken.expiration.timeIntervalSince1970)
        }
        return segment
    }

    /// A `SegData` as a `Livepeer-Segment` value: base64 of its protobuf bytes.
    static func encode(_ segment: Net_SegData) throws -> String {
        let bytes: Data = try segment.serializedBytes()
        return bytes.base64EncodedString()
    }
}
