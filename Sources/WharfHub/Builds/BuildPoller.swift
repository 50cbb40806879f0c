import Foundation
import Logging
import WharfCore
import WharfMetadata

/// Polls the git URLs of repositories that asked for it (autobuild and poll on), for git servers
/// that cannot send push events: a branch or tag whose commit changed since the last poll is
/// built by the rules that match it. The first poll only remembers what it sees. A recurring
/// job, single however many replicas start.
public struct BuildPoller: JobHandler {
    public static let kind = "build-poller"
    public var kind: String { Self.kind }

    let builds: BuildService
    let interval: TimeInterval
    let logger: Logger

    public init(builds: BuildService, interval: TimeInterval, logger: Logger) {
        self.builds = builds
        self.interval = interval
        self.logger = logger
    }

    private var stores: Stores { builds.stores }

    /// Queues the first poll unless one is queued already.
    public func schedule(at time: Date) async throws {
        try await stores.jobs.scheduleRecurring(Self.kind, at: time)
    }

    public func run(_ job: Job) async throws -> Date? {
        for settings in try await stores.builds.polledBuildSettings() {
            do {
                let queued = try await poll(settings)
                if !queued.isEmpty {
                    logger.info("builds queued by polling", metadata: ["wharf.repository": "\(settings.repository.value)", "wharf.count": "\(queued.count)"])
                }
            } catch {
                logger.warning("git poll failed", metadata: ["wharf.repository": "\(settings.repository.value)", "error": "\(error)"])
            }
        }
        return stores.clock.now.addingTimeInterval(interval)
    }

    /// Polls one repository's git URL; returns the builds it queued.
    func poll(_ settings: BuildSettings) async throws -> [Build] {
        let work = try BuildRunner.makeWorkDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let box = try await SecretBox.open(stores)
        let credentials = try settings.sealedCredentials.map { try GitCredentials.decode(try box.unseal($0)) }
        let refs = try await GitCheckout.remoteRefs(settings.gitURL, credentials: credentials, work: work)
        guard let before = settings.polledRefs else {
            try await stores.builds.savePolledRefs(refs, of: settings.repository)
            return []
        }
        var queued: [Build] = []
        for (ref, commit) in refs.sorted(by: { $0.key < $1.key }) where before[ref] != commit {
            let (type, name): (String, String) = ref.hasPrefix("refs/tags/") ? ("tag", String(ref.dropFirst("refs/tags/".count)))
                : ("branch", String(ref.dropFirst("refs/heads/".count)))
            queued += try await builds.queue(settings, sourceType: type, name: name, by: Build.pollActor)
        }
        // Remembered once the builds are queued: a poll that failed half-way sees the same changes again.
        try await stores.builds.savePolledRefs(refs, of: settings.repository)
        return queued
    }
}

extension Build {
    /// Who started a build that polling started.
    public static let pollActor = "poll"
}
