import Hummingbird
import Logging
import NIOCore
import WharfCore

/// One access-log line and the request metrics for every request; also counts body bytes.
struct ObservabilityMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    let metrics: RegistryMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var request = request
        let metrics = self.metrics
        request.body = RequestBody(asyncSequence: request.body.map { buffer in
            metrics.recordReceived(buffer.readableBytes)
            return buffer
        })
        let route = Self.routeLabel(request.uri.path)
        do {
            let response = try await next(request, context)
            let bytes = request.method == .head ? 0 : response.headers[.contentLength].flatMap { Int($0) } ?? 0
            finish(request, context: context, route: route, status: response.status.code, bytes: bytes, start: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            finish(request, context: context, route: route, status: status, bytes: 0, start: start)
            throw error
        }
    }

    private func finish(_ request: Request, context: Context, route: String, status: Int, bytes: Int, start: ContinuousClock.Instant) {
        let duration = ContinuousClock.now - start
        metrics.recordSent(bytes)
        metrics.recordRequest(route: route, method: request.method.rawValue, status: status, duration: duration)
        let ms = Double(duration.components.attoseconds / 1_000_000_000_000) / 1000 + Double(duration.components.seconds) * 1000
        context.logger.info("request", metadata: [
            "http.method": .string(request.method.rawValue),
            "http.path": .string(request.uri.path),
            "http.status": .stringConvertible(status),
            "http.bytes": .stringConvertible(bytes),
            "http.duration_ms": .string(String(format: "%.2f", ms)),
        ])
    }

    /// A low-cardinality label for the request's route.
    static func routeLabel(_ path: String) -> String {
        if let parsed = try? RegistryPath.parse(path) { return parsed.label }
        switch path {
        case "/healthz", "/readyz", "/metrics": return String(path.dropFirst())
        default: return path.hasPrefix("/v2") ? "v2_other" : "other"
        }
    }
}
