import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: PriceBookStore {
    public func savePriceBook(_ book: PriceBook) async throws {
        let document = try PriceBook.storedJSON(book)
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO price_books (name, document, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at
                    """,
                arguments: [book.name, document, book.updatedAt]
            )
        }
    }

    public func priceBook(named name: String) async throws -> PriceBook? {
        let document = try await read { db in
            try String.fetchOne(db, sql: "SELECT document FROM price_books WHERE name = ?", arguments: [name])
        }
        return try document.map(PriceBook.init(storedJSON:))
    }

    public func listPriceBooks() async throws -> [PriceBook] {
        try await read { db in try String.fetchAll(db, sql: "SELECT document FROM price_books ORDER BY name") }
            .map(PriceBook.init(storedJSON:))
    }

    public func assignPriceBook(_ name: String?, tenantID: String) async throws {
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM tenants WHERE id = ?", arguments: [tenantID]) != nil else {
                throw WharfError(.notFound, "no tenant with id '\(tenantID)'")
            }
            guard let name else {
                try db.execute(sql: "DELETE FROM tenant_price_books WHERE tenant_id = ?", arguments: [tenantID])
                return
            }
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM price_books WHERE name = ?", arguments: [name]) != nil else {
                throw WharfError(.notFound, "no price book named '\(name)'")
            }
            try db.execute(
                sql:
                    "INSERT INTO tenant_price_books (tenant_id, book) VALUES (?, ?) ON CONFLICT (tenant_id) DO UPDATE SET book = excluded.book",
                arguments: [tenantID, name]
            )
        }
    }

    public func priceBookName(tenantID: String) async throws -> String? {
        try await read { db in
            try String.fetchOne(db, sql: "SELECT book FROM tenant_price_books WHERE tenant_id = ?", arguments: [tenantID])
        }
    }
}
