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
    private let gcReclaimedBytes: Counter
    private let gcReclaimedBlobs: Counter
    private let gcDeletedManifests: Counter
    private let gcLastRun: Gauge
    private let gcLastDuration: Gauge
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
        gcReclaimedBytes = collector.makeCounter(name: "wharf_gc_reclaimed_bytes_total", help: "Blob bytes garbage collection deleted.")
        gcReclaimedBlobs = collector.makeCounter(name: "wharf_gc_reclaimed_blobs_total", help: "Blobs garbage collection deleted.")
        gcDeletedManifests = collector.makeCounter(name: "wharf_gc_deleted_manifests_total", help: "Untagged manifests garbage collection deleted.")
        gcLastRun = collector.makeGauge(name: "wharf_gc_last_run_timestamp_seconds", help: "When the last garbage collection on this server started.")
        gcLastDuration = collector.makeGauge(name: "wharf_gc_last_duration_seconds", help: "How long the last garbage collection on this server took.")
    }

    /// Records a garbage collection (dry runs reclaim nothing but still count as runs).
    public func recordGarbageCollection(_ report: GarbageCollectionReport) {
        if !report.dryRun {
            gcReclaimedBytes.increment(by: report.bytes)
            gcReclaimedBlobs.increment(by: Int64(report.blobs))
            gcDeletedManifests.increment(by: Int64(report.manifests))
        }
        gcLastRun.set(report.startedAt.timeIntervalSince1970)
        gcLastDuration.set(report.duration)
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
