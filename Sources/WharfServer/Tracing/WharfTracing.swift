import Foundation
public import Logging
import OTel
public import ServiceLifecycle

/// OpenTelemetry traces of what the gateway does for a request: the HTTP request (a server span,
/// joining the caller's trace from `traceparent`), the policy check, and each orchestrator attempt
/// of its steps (client spans), exported over OTLP/HTTP when `tracing.otlp_endpoint` is set
/// (docs/OBSERVABILITY.md). Logs written inside a trace carry its `trace_id` and `span_id`; routing
/// decisions carry the trace id.
public enum WharfTracing {
    /// Installs the OTLP exporter as the process's tracer. Call once, before the gateway is built.
    /// - Returns: The exporter's service (batches spans and sends them; flushes at shutdown), to run
    ///   beside the gateway; `nil` when tracing is off.
    public static func bootstrap(_ configuration: WharfConfiguration) throws -> (any Service)? {
        guard let tracing = configuration.tracing else { return nil }
        var otel = OTel.Configuration.default
        otel.serviceName = tracing.serviceName
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.traces.enabled = true
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.protocol = tracing.json ? .httpJSON : .httpProtobuf
        // The base URL as OTLP/HTTP defines it: traces go to its `v1/traces`.
        otel.traces.otlpExporter.endpoint =
            tracing.endpoint.absoluteString.hasSuffix("/")
            ? tracing.endpoint.absoluteString + "v1/traces" : tracing.endpoint.absoluteString + "/v1/traces"
        otel.traces.sampler = .parentBasedTraceIDRatio(ratio: min(max(tracing.sampleRatio, 0), 1)) ?? .parentBasedTraceIDRatio
        otel.traces.batchSpanProcessor.scheduleDelay = .seconds(1)
        return try OTel.bootstrap(configuration: otel, environment: [:])
    }

    /// Adds the current span's `trace_id` and `span_id` to log lines written inside a trace.
    public static var loggingMetadataProvider: Logger.MetadataProvider {
        OTel.makeLoggingMetadataProvider()
    }
}
