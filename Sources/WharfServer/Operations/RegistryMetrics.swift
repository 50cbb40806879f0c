import Prometheus
import WharfHub
import WharfMetadata

/// Wharf's Prometheus metrics, kept in their own collector registry (no global state).
public final class RegistryMetrics: Sendable {
    let collector = PrometheusCollectorRegistry()
    private let received: Counter
    private let sent: Counter
    private let uploadsOpen: Gauge
    private let storedBytes: Gauge
    private static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    public init() {
        received = collector.makeCounter(name: "wharf_http_received_bytes_total", help: "Request body bytes received.")
        sent = collector.makeCounter(name: "wharf_http_sent_bytes_total", help: "Response body bytes sent.")
        uploadsOpen = collector.makeGauge(name: "wharf_upload_sessions_open", help: "Blob upload sessions in progress.")
        storedBytes = collector.makeGauge(name: "wharf_storage_bytes", help: "Bytes of all stored blobs, each counted once.")
    }

    /// Counts one finished request.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        collector.makeCounter(
            name: "wharf_http_requests_total",
            labels: [("route", route), ("method", method), ("status", String(status))],
            help: "HTTP requests by route, method and status."
        ).increment()
        collector.makeDurationHistogram(
            name: "wharf_http_request_duration_seconds", labels: [("route", route)],
            buckets: Self.buckets, help: "HTTP request latency by route."
        ).record(duration)
    }

    func recordReceived(_ bytes: Int) { received.increment(by: Int64(bytes)) }
    func recordSent(_ bytes: Int) { sent.increment(by: Int64(bytes)) }

    /// The Prometheus text exposition, with gauges refreshed from the metadata store.
    func exposition(registry: Registry) async throws -> [UInt8] {
        uploadsOpen.set(Int64(try await registry.openUploadCount()))
        storedBytes.set(try await registry.storedBytes())
        return collector.emitToBuffer()
    }
}
