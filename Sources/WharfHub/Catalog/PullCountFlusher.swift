import Foundation
import Logging
import ServiceLifecycle

/// Writes counted pulls to the database every `interval`, and once more when the server stops.
public struct PullCountFlusher: Service {
    let registry: Registry
    let interval: Duration
    let logger: Logger

    public init(registry: Registry, interval: Duration, logger: Logger) {
        self.registry = registry
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await flush()
        }
        await flush()
    }

    private func flush() async {
        do {
            try await registry.flushPulls()
        } catch {
            logger.warning("writing pull counts failed; they are kept for the next try", metadata: ["error": "\(error)"])
        }
    }
}
