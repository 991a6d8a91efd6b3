import HTTPTypes

extension HTTPField.Name {
    /// `Wharf-Version`: the `/v2` revision asked for, and the one that answered.
    static let wharfVersion = HTTPField.Name("Wharf-Version")!
    /// `Idempotency-Key` on a POST.
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// `Idempotent-Replayed: true` on an answer given again for a retried request.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}

extension HTTPField.Name {
    /// `Forwarded` (RFC 7239).
    static let forwarded = HTTPField.Name("Forwarded")!
    /// `X-Forwarded-For`.
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    /// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
    static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
    /// `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
    static let rateLimit = HTTPField.Name("RateLimit")!
}
