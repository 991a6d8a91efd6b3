public import Foundation
public import WharfCore
public import WharfLivepeer

/// One AI step to run on the Livepeer network: which pipeline and model, the body the orchestrator
/// receives, and the constraints on who may run it.
public struct NetworkStep: Sendable {
    public var pipeline: Pipeline
    /// The model id (`model_id`); orchestrators are chosen among those that serve it.
    public var model: String
    /// The body sent to the orchestrator's pipeline path (an input file in it is read from the blob
    /// store as it is sent).
    public var body: OutgoingBody
    /// `application/json` or `multipart/form-data; boundary=…`.
    public var contentType: String
    /// The highest price the customer accepts, if any.
    public var priceCap: OrchestratorOffer.Price?
    /// Only orchestrators in this region, if given.
    public var region: String?
    /// Where the client is: orchestrators there are preferred, then the nearest regions.
    public var clientRegion: String?
    /// Relay a `text/event-stream` reply as it arrives.
    public var streamsEvents: Bool
    /// What the step is priced on (pixels, audio milliseconds, tokens), which an on-chain payment
    /// covers; an estimate made from the request.
    public var units: Int64
    /// Makes the orchestrator choice repeatable (`Wharf-Routing-Seed`); `nil` for a random draw.
    public var routingSeed: UInt64?
    /// Whether the step may be hedged (`Wharf-Hedge: off` says no); the routing policy decides
    /// whether it is.
    public var hedge = true

    public init(
        pipeline: Pipeline,
        model: String,
        body: OutgoingBody,
        contentType: String,
        priceCap: OrchestratorOffer.Price? = nil,
        region: String? = nil,
        streamsEvents: Bool = false,
        units: Int64 = 1,
        routingSeed: UInt64? = nil,
        hedge: Bool = true
    ) {
        self.routingSeed = routingSeed
        self.hedge = hedge
        self.pipeline = pipeline
        self.model = model
        self.body = body
        self.contentType = contentType
        self.priceCap = priceCap
        self.region = region
        self.streamsEvents = streamsEvents
        self.units = units
    }

    /// A step whose body is all in memory (a JSON request, a `/v1` form).
    public init(
        pipeline: Pipeline,
        model: String,
        body: Data,
        contentType: String,
        priceCap: OrchestratorOffer.Price? = nil,
        region: String? = nil,
        streamsEvents: Bool = false,
        units: Int64 = 1,
        routingSeed: UInt64? = nil,
        hedge: Bool = true
    ) {
        self.init(
            pipeline: pipeline,
            model: model,
            body: OutgoingBody(body),
            contentType: contentType,
            priceCap: priceCap,
            region: region,
            streamsEvents: streamsEvents,
            units: units,
            routingSeed: routingSeed,
            hedge: hedge
        )
    }
}

/// What a completed network step produced.
public enum StepOutput: Sendable {
    /// A JSON document, with every result file the orchestrator made re-hosted on the gateway.
    case document(Data)
    /// Server-sent events relayed as they arrive. The job is finished when the stream ends.
    case events(AsyncThrowingStream<Data, any Error>)
}
