import Foundation
package import WharfAPIAdmin
import WharfCore
import WharfPolicy

// Price books: customer prices independent of network cost, and which tenant pays by which.
extension AdminService {
    package func listPriceBooks(_ input: Operations.ListPriceBooks.Input) async throws -> Operations.ListPriceBooks.Output {
        let books = try await store.listPriceBooks()
        return .ok(.init(body: .json(.init(currency: currency.map(Components.Schemas.BillingCurrency.init), data: books.map(shown)))))
    }

    package func getPriceBook(_ input: Operations.GetPriceBook.Input) async throws -> Operations.GetPriceBook.Output {
        guard let book = try await store.priceBook(named: input.path.book) else {
            throw AdminProblem.notFound("price-book-not-found", "no price book named '\(input.path.book)'")
        }
        return .ok(.init(body: .json(shown(book))))
    }

    package func putPriceBook(_ input: Operations.PutPriceBook.Input) async throws -> Operations.PutPriceBook.Output {
        guard case .json(let document) = input.body else { throw AdminProblem.badRequest("the body must be JSON") }
        let book = PriceBook(
            name: input.path.book,
            entries: document.entries.map { entry in
                PriceBook.Entry(
                    pipeline: entry.pipeline,
                    model: entry.model,
                    basis: PriceBook.Basis(rawValue: entry.basis.rawValue) ?? .request,
                    price: entry.price,
                    per: entry.per ?? 1
                )
            }
        )
        do {
            let saved = try await auditedOperations().savePriceBook(book, currency: currency)
            return .ok(.init(body: .json(shown(saved))))
        } catch {
            throw AdminProblem.translating(error, notFoundKind: "price-book-not-found", field: "/entries")
        }
    }

    package func getTenantPriceBook(_ input: Operations.GetTenantPriceBook.Input) async throws -> Operations.GetTenantPriceBook.Output {
        let book = try await tenantPriceBook(named: input.path.name)
        return .ok(.init(body: .json(book)))
    }

    package func setTenantPriceBook(_ input: Operations.SetTenantPriceBook.Input) async throws -> Operations.SetTenantPriceBook.Output {
        guard case .json(let document) = input.body else { throw AdminProblem.badRequest("the body must be JSON") }
        try await assign(document.book, to: input.path.name)
        let now = try await tenantPriceBook(named: input.path.name)
        return .ok(.init(body: .json(now)))
    }

    package func clearTenantPriceBook(_ input: Operations.ClearTenantPriceBook.Input) async throws -> Operations.ClearTenantPriceBook.Output
    {
        try await assign(nil, to: input.path.name)
        let now = try await tenantPriceBook(named: input.path.name)
        return .ok(.init(body: .json(now)))
    }

    private func assign(_ book: String?, to tenant: String) async throws {
        do {
            try await auditedOperations().assignPriceBook(book, tenantName: tenant)
        } catch {
            let kind = (error as? WharfError)?.message.contains("price book") == true ? "price-book-not-found" : "tenant-not-found"
            throw AdminProblem.translating(error, notFoundKind: kind, field: "/book")
        }
    }

    private func tenantPriceBook(named name: String) async throws -> Components.Schemas.TenantPriceBook {
        guard let tenant = try await store.tenant(named: name) else {
            throw AdminProblem.notFound("tenant-not-found", "no tenant named '\(name)'")
        }
        let book = try await store.priceBookName(tenantID: tenant.id)
        return .init(tenant: tenant.name, book: book)
    }

    private func shown(_ book: PriceBook) -> Components.Schemas.PriceBook {
        .init(
            name: book.name,
            currency: currency.map(Components.Schemas.BillingCurrency.init),
            entries: book.entries.map { entry in
                .init(
                    pipeline: entry.pipeline,
                    model: entry.model,
                    basis: .init(rawValue: entry.basis.rawValue) ?? .request,
                    price: entry.price,
                    per: entry.per
                )
            },
            updatedAt: book.updatedAt
        )
    }
}

extension Components.Schemas.BillingCurrency {
    init(_ currency: BillingCurrency) {
        self.init(
            code: currency.code,
            minorUnitDigits: currency.minorUnitDigits,
            weiPerMinorUnit: currency.weiPerMinorUnit,
            rateSetAt: currency.rateSetAt
        )
    }
}
