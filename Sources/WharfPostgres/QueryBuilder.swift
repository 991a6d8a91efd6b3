import Foundation
import PostgresNIO

/// A statement put together from optional parts (filters), each value bound as a parameter, never
/// spelled into the SQL.
struct QueryBuilder {
    private var sql: String
    private var binds = PostgresBindings()

    init(_ sql: String) {
        self.sql = sql
    }

    /// Appends `fragment`, whose `$?` stands for `value`'s parameter.
    mutating func append<Value: PostgresThrowingDynamicTypeEncodable>(_ fragment: String, _ value: Value) throws {
        try binds.append(value)
        sql += fragment.replacingOccurrences(of: "$?", with: "$\(binds.count)")
    }

    /// Appends SQL without a parameter.
    mutating func append(_ fragment: String) {
        sql += fragment
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}
