import Foundation
import PostgresNIO
public import WharfCore

extension PostgresStore: PriceBookStore {
    public func savePriceBook(_ book: PriceBook) async throws {
        let document = try PriceBook.storedJSON(book)
        _ = try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO price_books (name, document, updated_at) VALUES (\(book.name), \(document), \(book.updatedAt))
                ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at
                """,
                logger: self.logger
            )
        }
    }

    public func priceBook(named name: String) async throws -> PriceBook? {
        let rows = try await rows("SELECT document FROM price_books WHERE name = \(name)")
        return try rows.first.map { try PriceBook(storedJSON: try $0.value("document")) }
    }

    public func listPriceBooks() async throws -> [PriceBook] {
        try await rows("SELECT document FROM price_books ORDER BY name").map { try PriceBook(storedJSON: try $0.value("document")) }
    }

    public func assignPriceBook(_ name: String?, tenantID: String) async throws {
        try await transaction { connection in
            guard try await !connection.rows("SELECT 1 FROM tenants WHERE id = \(tenantID)", logger: self.logger).isEmpty else {
                throw WharfError(.notFound, "no tenant with id '\(tenantID)'")
            }
            guard let name else {
                try await connection.query("DELETE FROM tenant_price_books WHERE tenant_id = \(tenantID)", logger: self.logger)
                return
            }
            // Locks the book's row: a book cannot be removed between this check and the insert.
            guard try await !connection.rows("SELECT 1 FROM price_books WHERE name = \(name) FOR SHARE", logger: self.logger).isEmpty
            else {
                throw WharfError(.notFound, "no price book named '\(name)'")
            }
            try await connection.query(
                """
                INSERT INTO tenant_price_books (tenant_id, book) VALUES (\(tenantID), \(name))
                ON CONFLICT (tenant_id) DO UPDATE SET book = excluded.book
                """,
                logger: self.logger
            )
        }
    }

    public func priceBookName(tenantID: String) async throws -> String? {
        try await rows("SELECT book FROM tenant_price_books WHERE tenant_id = \(tenantID)").first.map { try $0.value("book") }
    }
}
