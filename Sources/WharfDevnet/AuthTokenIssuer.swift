import Crypto
import Foundation
import WharfLivepeer

/// Issues and checks orchestrator auth tokens: HMAC-SHA256 over the session id and expiry with a
/// secret that lives as long as the orchestrator (so a restart invalidates old tokens, as upstream).
struct AuthTokenIssuer: Sendable {
    /// How long a token is valid; Livepeer orchestrators use 30 minutes.
    static let validity: TimeInterval = 30 * 60
    private let key = SymmetricKey(size: .bits256)

    /// A token for a new session, expiring `validity` after `now` (or already expired when
    /// `expired` is set, for fault injection).
    func issue(now: Date = Date(), expired: Bool = false) -> OrchestratorOffer.AuthToken {
        let sessionID = UUID().uuidString.lowercased()
        let expiration = Date(timeIntervalSince1970: (now.timeIntervalSince1970 + (expired ? -60 : Self.validity)).rounded(.down))
        return OrchestratorOffer.AuthToken(
            token: Data(mac(sessionID: sessionID, expiration: expiration)),
            sessionID: sessionID,
            expiration: expiration
        )
    }

    /// Why a presented token is not acceptable, or `nil` when it is.
    func problem(with token: OrchestratorOffer.AuthToken, now: Date = Date()) -> String? {
        guard token.token == Data(mac(sessionID: token.sessionID, expiration: token.expiration)) else {
            return "invalid auth token"
        }
        return token.expiration > now ? nil : "expired auth token"
    }

    private func mac(sessionID: String, expiration: Date) -> [UInt8] {
        let message = "\(sessionID)|\(Int64(expiration.timeIntervalSince1970))"
        return Array(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key))
    }
}
