import Hummingbird
import WharfHub

/// `/healthz` (the process is up), `/readyz` (metadata and blob stores reachable), `/metrics`.
struct OperationsRoutes: Sendable {
    let registry: Registry
    let metrics: RegistryMetrics

    func register(on router: Router<WharfRequestContext>) {
        router.get("/healthz") { _, _ in Response.json("{\"status\":\"ok\"}") }
        router.get("/readyz") { _, context in try await self.ready(context: context) }
        router.get("/metrics") { _, _ in
            let body = try await self.metrics.exposition(registry: self.registry)
            return Response.json(body, contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }

    private func ready(context: WharfRequestContext) async throws -> Response {
        var problems: [String] = []
        do { try await registry.stores.checkHealth() } catch {
            context.logger.warning("metadata store not ready", metadata: ["error": "\(error)"])
            problems.append("metadata")
        }
        do { try await registry.blobs.checkHealth() } catch {
            context.logger.warning("blob store not ready", metadata: ["error": "\(error)"])
            problems.append("blobs")
        }
        if problems.isEmpty { return .json("{\"status\":\"ready\"}") }
        let failing = problems.map { "\"\($0)\"" }.joined(separator: ",")
        return .json("{\"status\":\"unavailable\",\"failing\":[\(failing)]}", status: .serviceUnavailable)
    }
}
