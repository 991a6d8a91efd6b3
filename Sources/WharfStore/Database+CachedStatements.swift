import GRDB

extension Database {
    /// Runs one SQL statement through the connection's statement cache: it is compiled the first
    /// time and reused after, instead of being parsed and authorized on every call (which cost more
    /// than the write itself on the request path). For single statements only; migrations, which run
    /// once, keep `execute(sql:)`.
    func execute(cached sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
