public import Foundation
import GRDB

/// One value of a row, as the SQLite store holds it, for copying to another engine.
public enum StoredValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
    /// A value of a `DATETIME` column, read as the date it stands for.
    case date(Date)
}

extension SQLiteStore {
    /// The tables this store keeps, as its migrations made them.
    public func tableNames() async throws -> Set<String> {
        try await read { db in
            Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
        }
    }

    /// A page of a table's rows in `order` (a column list of the table), for copying: at most
    /// `limit` rows after the first `offset`.
    /// - Returns: The column names and each row's values in that order.
    public func rows(
        of table: String,
        orderedBy order: String,
        offset: Int,
        limit: Int
    ) async throws -> (columns: [String], rows: [[StoredValue]]) {
        try await read { db in
            guard try db.tableExists(table) else { throw CocoaError(.fileNoSuchFile) }
            let dateColumns = Set(try db.columns(in: table).filter { $0.type.uppercased() == "DATETIME" }.map(\.name))
            let statement = try db.makeStatement(sql: "SELECT * FROM \(table) ORDER BY \(order) LIMIT ? OFFSET ?")
            let columns = statement.columnNames
            let rows = try Row.fetchAll(statement, arguments: [limit, offset]).map { row in
                columns.map { column -> StoredValue in
                    let value: DatabaseValue = row[column]
                    if dateColumns.contains(column), let date = Date.fromDatabaseValue(value) { return .date(date) }
                    switch value.storage {
                    case .null: return .null
                    case .int64(let integer): return .integer(integer)
                    case .double(let real): return .real(real)
                    case .string(let text): return .text(text)
                    case .blob(let data): return .blob(data)
                    }
                }
            }
            return (columns, rows)
        }
    }
}
