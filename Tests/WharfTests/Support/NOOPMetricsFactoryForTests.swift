import CoreMetrics

/// Metrics that go nowhere, for routers tested without a registry.
func NOOPMetricsFactoryForTests() -> any MetricsFactory {
    NOOPMetricsHandler.instance
}
