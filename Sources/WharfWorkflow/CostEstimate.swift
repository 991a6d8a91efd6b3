import Foundation
public import WharfCore
public import WharfModel

/// What one network step of a preset is expected to cost.
public struct StepCostEstimate: Sendable, Hashable {
    public var stepID: String
    public var pipeline: Pipeline
    /// The lowest price on offer now, or `nil` when nobody offers the step.
    public var price: UnitPrice?
    /// The units the step is priced on.
    public var units: Int64
    /// `price` for `units`, in wei (0 without a price).
    public var cost: Int64
}

/// Estimates what a preset costs before it runs: each network step at the lowest price on offer,
/// for the units its request implies.
public enum CostEstimate {
    /// Network steps are priced on the bytes they send: their fields, and the input file when the
    /// pipeline takes one. A step whose input is an earlier step's output can only be guessed at (its
    /// fields are counted); the runner checks each step again with its real size before it is sent.
    public static func networkSteps(
        of preset: Preset,
        fromPlugin: Bool,
        parameters: [String: String],
        inputBytes: Int64,
        offers: any NetworkOffers
    ) async -> [StepCostEstimate] {
        var estimates: [StepCostEstimate] = []
        for step in preset.steps where step.kind == .network {
            guard let pipeline = Pipeline(rawValue: step.uses) else { continue }
            var fields = fromPlugin ? step.with.mapValues { PresetInterpolation.interpolate($0, parameters) } : parameters
            for name in PresetInterpolation.runnerSettings { fields.removeValue(forKey: name) }
            let requested = fields["model_id"] ?? ""
            let model = requested.isEmpty ? await offers.mostOfferedModel(for: pipeline) : requested
            fields["model_id"] = model ?? ""
            let fieldBytes = Int64((try? JSONEncoder.sortedCompact.encode(fields))?.count ?? 0)
            let takesJobInput = step.after.isEmpty
            let units = max(1, pipeline.takesFile && takesJobInput ? fieldBytes + inputBytes : fieldBytes)
            var price: UnitPrice?
            if let model { price = await offers.lowestPrice(for: pipeline, model: model) }
            estimates.append(
                StepCostEstimate(
                    stepID: step.id,
                    pipeline: pipeline,
                    price: price,
                    units: units,
                    cost: price.map { $0.cost(units: units) ?? .max } ?? 0
                )
            )
        }
        return estimates
    }

    /// The sum of the steps' costs (saturating at `Int64.max`).
    public static func total(_ steps: [StepCostEstimate]) -> Int64 {
        steps.reduce(Int64(0)) { $0.addingReportingOverflow($1.cost).overflow ? .max : $0 + $1.cost }
    }
}

extension Pipeline {
    /// Whether the pipeline's request carries a file (multipart) rather than only fields.
    public var takesFile: Bool {
        switch self {
        case .textToImage, .llm, .textToSpeech, .liveVideoToVideo: false
        default: true
        }
    }
}
