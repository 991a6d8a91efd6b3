public import WharfStore

/// Opens the store the configuration names (`store.driver`; SQLite is the one engine so far), without
/// migrating it. The server, the CLI and `wharf migrate` all open their store here, so a new engine
/// is chosen in one place (docs/ARCHITECTURE.md, "Where to add a store engine").
/// - Throws: ``WharfCore/WharfError`` when the store cannot be opened.
public func makeStore(_ configuration: WharfConfiguration) throws -> SQLiteStore {
    try SQLiteStore(
        path: configuration.sqlitePath,
        busyTimeout: configuration.sqliteBusyTimeout,
        artifactsDirectory: configuration.artifactsDirectory
    )
}
