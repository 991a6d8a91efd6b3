public import Foundation
import PostgresNIO
public import WharfCore

extension PostgresStore: ExportCursorStore {
    public func exportCursor(named name: String) async throws -> String? {
        try await rows("SELECT cursor FROM export_cursors WHERE name = \(name)").first.map { try $0.value("cursor") }
    }

    public func saveExportCursor(_ cursor: String, named name: String, at date: Date) async throws {
        _ = try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO export_cursors (name, cursor, updated_at) VALUES (\(name), \(cursor), \(date))
                ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
                """,
                logger: self.logger
            )
        }
    }
}
