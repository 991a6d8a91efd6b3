#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Where an export that pushes records out in order (usage events to a webhook) has got to, kept
/// in the store so a restart, or another node taking the export over, goes on from there.
public protocol ExportCursorStore: Sendable {
    /// The cursor saved under `name`, if any.
    func exportCursor(named name: String) async throws -> String?
    /// Saves `cursor` under `name`, replacing what was there.
    func saveExportCursor(_ cursor: String, named name: String, at date: Date) async throws
}
