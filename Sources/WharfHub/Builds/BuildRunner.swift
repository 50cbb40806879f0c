import Foundation
import Logging
import ServiceLifecycle
import WharfCore
import WharfMetadata

/// Runs one queued build (the job `build:<id>`): clones the ref, builds it with the engine and
/// pushes the image into the repository through the registry API with a token that may push
/// there only, so push webhooks fire as for any push. The log goes to the database as it comes;
/// a cancel request or the time limit stops the build; a build found running when its job is
/// claimed again was cut off by a stopped server and is marked failed.
public struct BuildRunner: JobHandler {
    public static let kind = "build"
    public var kind: String { Self.kind }

    let stores: Stores
    let engine: (any BuildEngine)?
    let limits: BuildLimits
    /// Wharf's registry as the engine reaches it (`127.0.0.1:5000`).
    let registryAddress: String
    /// A registry token for `(repository, subject)` that allows push and pull there only.
    let pushToken: @Sendable (RepositoryName, String) async throws -> String
    let logger: Logger

    public init(stores: Stores, engine: (any BuildEngine)?, limits: BuildLimits, registryAddress: String,
                pushToken: @escaping @Sendable (RepositoryName, String) async throws -> String, logger: Logger) {
        self.stores = stores
        self.engine = engine
        self.limits = limits
        self.registryAddress = registryAddress
        self.pushToken = pushToken
        self.logger = logger
    }

    public func run(_ job: Job) async throws -> Date? {
        guard let id = Int64(job.payload), var build = try await stores.builds.build(id) else { return nil }
        switch build.status {
        case .running:
            try await finish(&build, .failed, Self.interrupted)
            return nil
        case .success, .failed, .cancelled:
            return nil
        case .queued:
            break
        }
        if build.cancelRequested {
            try await finish(&build, .cancelled, nil)
            return nil
        }
        guard let engine else {
            try await finish(&build, .failed, BuildService.noEngine)
            return nil
        }
        build.status = .running
        build.startedAt = stores.clock.now
        try await stores.builds.updateBuild(build)
        let log = BuildLog(stores: stores, build: id)
        let started = build
        let work = Task { try await execute(started, engine: engine, log: log) }
        let outcome = await watch(work, build: id, log: log)
        await log.flush()
        switch outcome {
        case .success:
            try await finish(&build, .success, nil)
        case .failure(let error as BuildStop):
            await log.line("==> \(error.description)")
            await log.flush()
            try await finish(&build, error.cancelled ? .cancelled : .failed, error.cancelled ? nil : error.description)
        case .failure(let error):
            await log.line("==> Failed: \(error)")
            await log.flush()
            try await finish(&build, .failed, "\(error)")
        }
        return nil
    }

    /// Why a build that was running when the server stopped failed.
    static let interrupted = "interrupted: the server stopped during the build"

    /// Why a build was stopped from outside.
    struct BuildStop: Error, CustomStringConvertible {
        let cancelled: Bool
        let description: String
    }

    /// Waits for `work`, stopping it when a cancel is requested or the time limit passes; flushes the log every second.
    private func watch(_ work: Task<String?, any Error>, build id: Int64, log: BuildLog) async -> Result<String?, any Error> {
        let deadline = Date().addingTimeInterval(limits.timeout)
        let watcher = Task { () -> BuildStop? in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                await log.flush()
                if Date() > deadline { return BuildStop(cancelled: false, description: "stopped after the time limit of \(Int(limits.timeout)) seconds") }
                if Task.isShuttingDownGracefully { return BuildStop(cancelled: false, description: Self.interrupted) }
                if (try? await stores.builds.build(id))?.cancelRequested == true { return BuildStop(cancelled: true, description: "cancelled") }
            }
            return nil
        }
        let stopper = Task { () -> BuildStop? in
            if let stop = await watcher.value {
                work.cancel()
                return stop
            }
            return nil
        }
        let result = await work.result
        watcher.cancel()
        if let stop = await stopper.value { return .failure(stop) }
        return result
    }

    /// Clone, build, push; returns the commit built.
    private func execute(_ build: Build, engine: any BuildEngine, log: BuildLog) async throws -> String? {
        guard let settings = try await stores.builds.buildSettings(of: build.repository) else {
            throw BuildStop(cancelled: false, description: "the repository has no build settings any more")
        }
        let work = try Self.makeWorkDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let checkout = "\(work)/src"
        let box = try await SecretBox.open(stores)
        let credentials = try settings.sealedCredentials.map { try GitCredentials.decode(try box.unseal($0)) }
        await log.line("==> Cloning \(build.sourceType) \(build.ref) of \(settings.gitURL)")
        try await GitCheckout.clone(settings.gitURL, ref: build.ref, into: checkout, credentials: credentials, work: work, log: log.line)
        let commit = try await GitCheckout.head(of: checkout)
        var withCommit = build
        withCommit.commit = commit
        try await stores.builds.updateBuild(withCommit)
        await log.line("==> Commit \(commit)")
        guard let context = GitCheckout.inside(checkout, build.rule.context),
              let dockerfile = GitCheckout.inside(checkout, build.rule.dockerfile) else {
            throw BuildStop(cancelled: false, description: "the Dockerfile and the context must be inside the repository")
        }
        guard FileManager.default.fileExists(atPath: dockerfile) else {
            throw BuildStop(cancelled: false, description: "there is no \(build.rule.dockerfile) in \(build.ref)")
        }
        // The image is pushed in the name of who started the build; for a push event or a poll, of who saved the settings.
        let byServer = build.triggeredBy == Build.triggerActor || build.triggeredBy == Build.pollActor
        let token = try await pushToken(build.repository, byServer ? settings.updatedBy ?? "" : build.triggeredBy)
        let request = BuildRequest(workDirectory: work, contextPath: context, dockerfilePath: dockerfile, buildArgs: build.rule.buildArgs,
                                   destination: "\(registryAddress)/\(build.repository.value):\(build.imageTag)", pushToken: token,
                                   registryAddress: registryAddress)
        try await engine.buildAndPush(request, log: log.line)
        await log.line("==> Pushed \(build.repository.value):\(build.imageTag)")
        return commit
    }

    /// Ends the build with `status`, on the latest row (the commit and a cancel request written meanwhile stay).
    private func finish(_ build: inout Build, _ status: Build.Status, _ error: String?) async throws {
        build = try await stores.builds.build(build.id) ?? build
        build.status = status
        build.error = error.map { String($0.prefix(500)) }
        build.finishedAt = stores.clock.now
        try await stores.builds.updateBuild(build)
        logger.info("build finished", metadata: [
            "wharf.build": "\(build.id)", "wharf.repository": "\(build.repository.value)", "wharf.status": "\(status.rawValue)",
        ])
    }

    /// A private folder for one build, outside the data directory.
    static func makeWorkDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-build-\(UUID().uuidString.lowercased())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return path
    }
}

/// A build's log on its way to the database: lines are gathered and written in batches (at most
/// about a second late); beyond `limit` bytes the rest is dropped with a note.
actor BuildLog {
    let stores: Stores
    let build: Int64
    private var pending = ""
    private var written = 0
    private var truncated = false
    private var flushing = false
    static let limit = 4 * 1024 * 1024

    init(stores: Stores, build: Int64) {
        self.stores = stores
        self.build = build
    }

    func line(_ text: String) async {
        guard !truncated else { return }
        if written + pending.utf8.count + text.utf8.count > Self.limit {
            pending += "… the log is cut here (more than \(Self.limit / 1024 / 1024) MiB)\n"
            truncated = true
        } else {
            pending += text + "\n"
        }
        if pending.utf8.count >= 16 * 1024 { await flush() }
    }

    /// Writes what has gathered; kept for the next try when the database refuses.
    func flush() async {
        guard !pending.isEmpty, !flushing else { return }
        flushing = true
        defer { flushing = false }
        let text = pending
        do {
            try await stores.builds.appendLog(text, to: build)
            pending.removeFirst(text.count)
            written += text.utf8.count
        } catch {
            // The next flush tries again with this text and what came since.
        }
    }
}
