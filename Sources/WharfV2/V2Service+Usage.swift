import Foundation
package import WharfAPIv2
import WharfCore

// `GET /v2/usage`: the caller's tenant's charges by day and pipeline, and its budgets' standing.
extension V2Service {
    /// The most days one question spans.
    static var maximumUsageDays: Int { 366 }

    package func getUsage(_ input: Operations.GetUsage.Input) async throws -> Operations.GetUsage.Output {
        let caller = try caller()
        let now = Date()
        let today = SpendPeriod.day(containing: now).start
        let first = try input.query.from.map { try Self.day($0, parameter: "from") } ?? SpendPeriod.month(containing: now).start
        let last = try input.query.to.map { try Self.day($0, parameter: "to") } ?? today
        guard first <= last else { throw V2Problem.invalid("/from", "from must not be after to") }
        guard last.timeIntervalSince(first) <= Double(Self.maximumUsageDays) * 86_400 else {
            throw V2Problem.invalid("/to", "to must be at most \(Self.maximumUsageDays) days after from")
        }
        let rows = try await store.spendSummary(
            tenantID: caller.tenantID,
            keyPrefix: nil,
            from: first,
            to: last.addingTimeInterval(86_400),
            by: [.day, .pipeline]
        )
        var days: [Components.Schemas.UsageDay] = []
        for row in rows {
            let pipeline = Components.Schemas.UsagePipeline(
                pipeline: row.pipeline,
                charges: row.charges,
                units: row.units,
                amount: row.amount
            )
            if days.last?.day == row.day {
                days[days.count - 1].pipelines.append(pipeline)
                days[days.count - 1].amount = days[days.count - 1].amount.addingClamped(row.amount)
            } else {
                days.append(.init(day: row.day, amount: row.amount, pipelines: [pipeline]))
            }
        }
        var budgets: [Components.Schemas.BudgetStanding] = []
        let (day, month) = (SpendPeriod.day(containing: now), SpendPeriod.month(containing: now))
        for (subject, keyPrefix) in [(PolicySubject.tenant(caller.tenantID), nil), (.key(caller.keyPrefix), caller.keyPrefix)] {
            let budget = try await store.limits(for: subject)?.budget
            for (period, limit) in [(day, budget?.daily), (month, budget?.monthly)] {
                budgets.append(
                    .init(
                        subject: keyPrefix == nil ? .tenant : .key,
                        period: period == day ? .day : .month,
                        since: period.start,
                        spent: try await store.spent(tenantID: caller.tenantID, keyPrefix: keyPrefix, in: period),
                        limit: limit
                    )
                )
            }
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        currency: settings.currency,
                        from: Self.dayText(first),
                        to: Self.dayText(last),
                        days: days,
                        total: days.reduce(Int64(0)) { $0.addingClamped($1.amount) },
                        budgets: budgets
                    )
                )
            )
        )
    }

    /// The start of the UTC day `text` (`yyyy-mm-dd`) names. - Throws: 422 naming `parameter`.
    private static func day(_ text: String, parameter: String) throws -> Date {
        guard let date = try? Date("\(text)T00:00:00Z", strategy: .iso8601), dayText(date) == text else {
            throw V2Problem.invalid("/\(parameter)", "\(parameter) must be a day, yyyy-mm-dd")
        }
        return date
    }

    private static func dayText(_ date: Date) -> String {
        String(date.formatted(.iso8601).prefix(10))
    }
}
