public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: ExportCursorStore {
    public func exportCursor(named name: String) async throws -> String? {
        try await read { db in try String.fetchOne(db, sql: "SELECT cursor FROM export_cursors WHERE name = ?", arguments: [name]) }
    }

    public func saveExportCursor(_ cursor: String, named name: String, at date: Date) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO export_cursors (name, cursor, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
                    """,
                arguments: [name, cursor, date]
            )
        }
    }
}
