/// The dated revisions of `/v2`. A key is pinned to the newest when it is created; a request may ask
/// for another with `Wharf-Version`. The adapter serves the newest shape and older revisions are
/// transformations of it (WharfV2's `RevisionChange`s), documented in docs/API-VERSIONS.md.
public enum APIRevision: String, Sendable, Hashable, CaseIterable, Comparable {
    case r2026_09_01 = "2026-09-01"
    case r2026_11_01 = "2026-11-01"

    /// What new keys are pinned to.
    public static var newest: APIRevision { allCases.last! }

    public static func < (lhs: APIRevision, rhs: APIRevision) -> Bool { lhs.rawValue < rhs.rawValue }
}
