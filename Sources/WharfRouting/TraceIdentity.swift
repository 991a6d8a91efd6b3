import Tracing

/// The W3C trace id of the trace the current task is in (32 hex digits), or `nil` when nothing is
/// traced: read through whichever instrument the process bootstrapped, as the `traceparent` it would
/// send, so no tracer's own types are needed here.
public enum TraceIdentity {
    public static var current: String? {
        guard let context = ServiceContext.current else { return nil }
        var headers: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &headers, using: HeaderInjector())
        // traceparent: version-traceid-spanid-flags
        guard let parent = headers["traceparent"] else { return nil }
        let parts = parent.split(separator: "-")
        guard parts.count == 4, parts[1].utf8.count == 32, parts[1] != String(repeating: "0", count: 32) else { return nil }
        return String(parts[1])
    }

    private struct HeaderInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
            carrier[key.lowercased()] = value
        }
    }
}
