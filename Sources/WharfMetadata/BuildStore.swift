import Foundation
import WharfCore

/// Which git refs a repository builds, and how: Docker Hub's build rules.
public struct BuildRule: Sendable, Equatable, Codable {
    /// `branch` or `tag`.
    public var sourceType: String
    /// The branch or tag name, or a regular expression between slashes (`/^v[0-9.]+$/`).
    public var source: String
    /// The Dockerfile, relative to the repository's root.
    public var dockerfile: String
    /// The build context, relative to the repository's root.
    public var context: String
    /// The image tag: `latest`, or a template with `{sourceref}` (the branch or tag name) and `{\1}`… (regex groups).
    public var tag: String
    /// `--build-arg` values.
    public var buildArgs: [String: String]

    public init(sourceType: String, source: String, dockerfile: String = "Dockerfile", context: String = ".", tag: String,
                buildArgs: [String: String] = [:]) {
        self.sourceType = sourceType
        self.source = source
        self.dockerfile = dockerfile
        self.context = context
        self.tag = tag
        self.buildArgs = buildArgs
    }
}

/// A repository's automated-build settings.
public struct BuildSettings: Sendable, Equatable {
    public var repository: RepositoryName
    public var gitURL: String
    /// The deploy key or token, encrypted (`SecretBox`); nil for a public git URL.
    public var sealedCredentials: String?
    /// Builds start on pushes to matching refs (the inbound trigger and polling); off: only by hand.
    public var autobuild: Bool
    public var rules: [BuildRule]
    /// The id in the inbound trigger URL `/api/build-triggers/{triggerID}`.
    public var triggerID: String
    /// The key that signs (GitHub, Gitea) or is sent with (GitLab) the git server's push events, encrypted.
    public var sealedTriggerSecret: String
    public var updatedBy: String?
    public var updatedAt: Date
    /// With autobuild, the git URL is also polled for new commits (for git servers that cannot send push events).
    public var poll: Bool
    /// What the last poll saw: ref (`refs/heads/main`) → commit.
    public var polledRefs: [String: String]?

    public init(repository: RepositoryName, gitURL: String, sealedCredentials: String?, autobuild: Bool, rules: [BuildRule],
                triggerID: String, sealedTriggerSecret: String, updatedBy: String?, updatedAt: Date, poll: Bool = false,
                polledRefs: [String: String]? = nil) {
        self.poll = poll
        self.polledRefs = polledRefs
        self.repository = repository
        self.gitURL = gitURL
        self.sealedCredentials = sealedCredentials
        self.autobuild = autobuild
        self.rules = rules
        self.triggerID = triggerID
        self.sealedTriggerSecret = sealedTriggerSecret
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }
}

/// One build of one git ref by one rule.
public struct Build: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        case queued, running, success, failed, cancelled

        /// Whether the build has ended.
        public var isFinished: Bool { self != .queued && self != .running }
    }

    public var id: Int64
    public var repository: RepositoryName
    /// `branch` or `tag`, and its name.
    public var sourceType: String
    public var ref: String
    public var rule: BuildRule
    /// The tag the image is pushed as.
    public var imageTag: String
    public var status: Status
    /// The commit built, once cloned.
    public var commit: String?
    /// Why it failed, in one line.
    public var error: String?
    /// Who or what started it: a user, `trigger` or `poll`.
    public var triggeredBy: String
    public var cancelRequested: Bool
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    public init(id: Int64 = 0, repository: RepositoryName, sourceType: String, ref: String, rule: BuildRule, imageTag: String,
                status: Status = .queued, commit: String? = nil, error: String? = nil, triggeredBy: String, cancelRequested: Bool = false,
                createdAt: Date, startedAt: Date? = nil, finishedAt: Date? = nil) {
        self.id = id
        self.repository = repository
        self.sourceType = sourceType
        self.ref = ref
        self.rule = rule
        self.imageTag = imageTag
        self.status = status
        self.commit = commit
        self.error = error
        self.triggeredBy = triggeredBy
        self.cancelRequested = cancelRequested
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// Automated-build settings, builds and their logs.
public protocol BuildStore: Sendable {
    func buildSettings(of repository: RepositoryName) async throws -> BuildSettings?
    func buildSettings(triggerID: String) async throws -> BuildSettings?
    /// Creates or replaces the repository's settings.
    func saveBuildSettings(_ settings: BuildSettings) async throws
    func deleteBuildSettings(of repository: RepositoryName) async throws
    /// The settings whose git URL is polled (autobuild and poll on).
    func polledBuildSettings() async throws -> [BuildSettings]
    /// Remembers what a poll of the repository's git URL saw.
    func savePolledRefs(_ refs: [String: String], of repository: RepositoryName) async throws

    /// Stores a new build (its `id` is ignored) and returns it with its id.
    func createBuild(_ build: Build) async throws -> Build
    func build(_ id: Int64) async throws -> Build?
    /// The repository's builds, newest first.
    func builds(of repository: RepositoryName, limit: Int) async throws -> [Build]
    /// Saves status, commit, error, cancel request and times.
    func updateBuild(_ build: Build) async throws
    /// Asks a build to stop; false when it has finished already (or does not exist).
    func requestCancel(_ id: Int64) async throws -> Bool

    /// Appends text to the build's log.
    func appendLog(_ text: String, to build: Int64) async throws
    /// The build's log from byte offset `offset` on (as stored), and the offset after it.
    func log(of build: Int64, from offset: Int) async throws -> (text: String, next: Int)
}
