import Foundation
import WharfAuth
import WharfCore
import WharfMetadata

/// Automated builds of a repository: its settings (git URL, sealed credentials, rules,
/// autobuild), builds started by hand or by the git server's push events, their history, logs
/// and cancellation. Admins of the repository change the settings; those who may push to it
/// start, follow and cancel builds.
public struct BuildService: Sendable {
    let stores: Stores
    let access: Access
    let publicURL: String
    /// The engine's name, nil when there is none (builds are refused).
    public let engineName: String?

    init(stores: Stores, access: Access, settings: HubSettings) {
        self.stores = stores
        self.access = access
        publicURL = settings.publicURL
        engineName = settings.buildEngine
    }

    /// Why builds are refused on a server without an engine.
    public static let noEngine = "builds are off on this server: no build engine was found at start (install buildah, or start Wharf with --build-engine docker --docker-host …)"

    /// A change of the stored git credentials.
    public enum CredentialsChange: Sendable {
        case keep, remove
        case set(GitCredentials)
    }

    /// The settings as their admins see them: never the credentials, but the trigger's URL and secret (to paste into the git server).
    public struct SettingsView: Sendable {
        public var settings: BuildSettings
        public var hasCredentials: Bool
        public var triggerURL: String
        public var triggerSecret: String
    }

    public func settings(of repository: RepositoryName, by principal: Principal?) async throws -> SettingsView? {
        try await access.require(principal, .manage, on: repository)
        guard let settings = try await stores.builds.buildSettings(of: repository) else { return nil }
        return try await view(settings)
    }

    public func saveSettings(of repository: RepositoryName, gitURL: String, credentials: CredentialsChange, autobuild: Bool,
                             poll: Bool = false, rules: [BuildRule], by principal: Principal?) async throws -> SettingsView {
        try await access.require(principal, .manage, on: repository)
        let url = gitURL.trimmingCharacters(in: .whitespacesAndNewlines)
        guard url.count <= 2000, GitCheckout.isRemote(url), url.range(of: Self.gitURLPattern, options: .regularExpression) != nil else {
            throw HubError.invalid("git_url", "git_url must be a git server's URL: https://, ssh://, git:// or user@host:path")
        }
        try Self.check(rules)
        let box = try await SecretBox.open(stores)
        let existing = try await stores.builds.buildSettings(of: repository)
        let sealedCredentials: String? = switch credentials {
        case .keep: existing?.sealedCredentials
        case .remove: nil
        case .set(let given): try box.seal(try given.encoded())
        }
        let settings = BuildSettings(
            repository: repository, gitURL: url, sealedCredentials: sealedCredentials, autobuild: autobuild, rules: rules,
            triggerID: existing?.triggerID ?? SecretToken.randomHex(), sealedTriggerSecret: try existing?.sealedTriggerSecret ?? box.seal(SecretToken.randomHex()),
            updatedBy: principal?.name, updatedAt: stores.clock.now, poll: poll,
            // Polling starts afresh from the URL it polls.
            polledRefs: existing?.gitURL == url ? existing?.polledRefs : nil
        )
        try await stores.builds.saveBuildSettings(settings)
        return try await view(settings)
    }

    public func deleteSettings(of repository: RepositoryName, by principal: Principal?) async throws {
        try await access.require(principal, .manage, on: repository)
        try await stores.builds.deleteBuildSettings(of: repository)
    }

    /// Queues a build of `ref` (`main`, `v1.2`, `refs/heads/main`, `refs/tags/v1.2`) for every rule that matches it.
    public func trigger(_ repository: RepositoryName, ref: String, by principal: Principal?) async throws -> [Build] {
        try await access.require(principal, .push, on: repository)
        guard let settings = try await stores.builds.buildSettings(of: repository) else {
            throw HubError.notFound("build settings")
        }
        let trimmed = ref.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count <= 255, trimmed.range(of: Self.refPattern, options: .regularExpression) != nil else {
            throw HubError.invalid("ref", "ref must name a branch or a tag (letters, digits, ., _, - and /)")
        }
        let candidates: [(String, String)] = if trimmed.hasPrefix("refs/heads/") {
            [("branch", String(trimmed.dropFirst("refs/heads/".count)))]
        } else if trimmed.hasPrefix("refs/tags/") {
            [("tag", String(trimmed.dropFirst("refs/tags/".count)))]
        } else {
            [("branch", trimmed), ("tag", trimmed)]
        }
        for (type, name) in candidates {
            let queued = try await queue(settings, sourceType: type, name: name, by: principal?.name ?? "")
            if !queued.isEmpty { return queued }
        }
        throw HubError(.notFound, "no build rule of \(repository.value) matches \(trimmed)", field: "ref")
    }

    public func builds(of repository: RepositoryName, limit: Int, by principal: Principal?) async throws -> [Build] {
        try await access.require(principal, .push, on: repository)
        return try await stores.builds.builds(of: repository, limit: min(max(limit, 1), 100))
    }

    public func build(_ id: Int64, in repository: RepositoryName, by principal: Principal?) async throws -> Build {
        try await access.require(principal, .push, on: repository)
        guard let build = try await stores.builds.build(id), build.repository == repository else { throw HubError.notFound("build") }
        return build
    }

    /// The log from byte `offset` on, the offset after it, and whether the build has finished (nothing more will come).
    public func log(of id: Int64, in repository: RepositoryName, from offset: Int, by principal: Principal?) async throws
        -> (text: String, next: Int, finished: Bool) {
        let build = try await build(id, in: repository, by: principal)
        let part = try await stores.builds.log(of: id, from: offset)
        return (part.text, part.next, build.status.isFinished)
    }

    /// Asks a queued or running build to stop.
    public func cancel(_ id: Int64, in repository: RepositoryName, by principal: Principal?) async throws -> Build {
        _ = try await build(id, in: repository, by: principal)
        guard try await stores.builds.requestCancel(id) else { throw HubError.conflict("status", "the build has finished already") }
        return try await build(id, in: repository, by: principal)
    }

    /// A git server's push event to `/api/build-triggers/{triggerID}`: checked against the trigger's
    /// secret (GitHub's and Gitea's HMAC-SHA256 signatures, GitLab's token), then the pushed ref is
    /// built by every rule that matches it when autobuild is on. `headers` are lower-cased.
    public func receivePush(triggerID: String, headers: [String: String], body: [UInt8]) async throws -> [Build] {
        guard triggerID.count == 32, let settings = try await stores.builds.buildSettings(triggerID: triggerID) else {
            throw HubError.notFound("build trigger")
        }
        let secret = try await SecretBox.open(stores).unseal(settings.sealedTriggerSecret)
        guard PushEventSignature.verify(headers: headers, body: body, secret: secret) else {
            throw HubError.forbidden("the push event's signature does not match the trigger's secret")
        }
        if headers["x-github-event"] == "ping" { return [] }
        guard let event = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let ref = event["ref"] as? String else {
            throw HubError.invalid("ref", "the push event has no ref")
        }
        if let after = event["after"] as? String, !after.isEmpty, after.allSatisfy({ $0 == "0" }) { return [] }
        guard settings.autobuild else { return [] }
        let (type, name): (String, String) = if ref.hasPrefix("refs/tags/") {
            ("tag", String(ref.dropFirst("refs/tags/".count)))
        } else if ref.hasPrefix("refs/heads/") {
            ("branch", String(ref.dropFirst("refs/heads/".count)))
        } else {
            ("", "")
        }
        guard !type.isEmpty, name.count <= 255, name.range(of: Self.refPattern, options: .regularExpression) != nil else { return [] }
        return try await queue(settings, sourceType: type, name: name, by: Build.triggerActor)
    }

    /// Queues one build per matching rule, each a job any build worker may take.
    func queue(_ settings: BuildSettings, sourceType: String, name: String, by actor: String) async throws -> [Build] {
        let matches = settings.rules.compactMap { rule in
            BuildRuleMatcher.imageTag(for: rule, sourceType: sourceType, name: name).map { (rule, $0) }
        }
        guard !matches.isEmpty else { return [] }
        guard engineName != nil else { throw HubError(.unavailable, Self.noEngine) }
        let now = stores.clock.now
        return try await stores.transaction { tx in
            var queued: [Build] = []
            for (rule, tag) in matches {
                let build = try await tx.builds.createBuild(Build(repository: settings.repository, sourceType: sourceType, ref: name, rule: rule,
                                                                  imageTag: tag, triggeredBy: actor, createdAt: now))
                try await tx.jobs.enqueue(kind: BuildRunner.kind, payload: String(build.id), runAt: now, maxAttempts: 3,
                                          uniqueKey: "build:\(build.id)")
                queued.append(build)
            }
            return queued
        }
    }

    private func view(_ settings: BuildSettings) async throws -> SettingsView {
        let secret = try await SecretBox.open(stores).unseal(settings.sealedTriggerSecret)
        let base = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        return SettingsView(settings: settings, hasCredentials: settings.sealedCredentials != nil,
                            triggerURL: "\(base)/api/build-triggers/\(settings.triggerID)", triggerSecret: secret)
    }

    static func check(_ rules: [BuildRule]) throws {
        guard (1...20).contains(rules.count) else { throw HubError.invalid("rules", "give 1 to 20 build rules") }
        for (index, rule) in rules.enumerated() {
            let field = "rules[\(index)]"
            guard ["branch", "tag"].contains(rule.sourceType) else { throw HubError.invalid("\(field).source_type", "source_type must be branch or tag") }
            guard !rule.source.isEmpty, rule.source.count <= 255 else { throw HubError.invalid("\(field).source", "source must be 1 to 255 characters") }
            if rule.source.hasPrefix("/"), rule.source.count >= 2, rule.source.hasSuffix("/"), BuildRuleMatcher.regex(rule.source) == nil {
                throw HubError.invalid("\(field).source", "source \(rule.source) is not a valid regular expression")
            }
            for (key, path) in [("dockerfile", rule.dockerfile), ("context", rule.context)] {
                guard path.count <= 255, path.range(of: Self.pathPattern, options: .regularExpression) != nil else {
                    throw HubError.invalid("\(field).\(key)", "\(key) must be a relative path inside the git repository (no .. or leading /)")
                }
            }
            guard rule.tag.count <= 128, rule.tag.range(of: Self.tagTemplatePattern, options: .regularExpression) != nil else {
                throw HubError.invalid("\(field).tag", "tag must be a tag or a template such as {sourceref} or v{\\1}")
            }
            guard rule.buildArgs.count <= 50,
                  rule.buildArgs.keys.allSatisfy({ $0.range(of: Self.buildArgPattern, options: .regularExpression) != nil }),
                  rule.buildArgs.values.allSatisfy({ $0.count <= 4096 && !TextRules.hasControlCharacters($0) }) else {
                throw HubError.invalid("\(field).build_args", "build_args are at most 50 NAME: value pairs, names of letters, digits and _")
            }
        }
    }

    /// A git server's URL (the OpenAPI description says the same).
    static let gitURLPattern = #"^((https?|ssh|git)://([A-Za-z0-9_][A-Za-z0-9._-]*@)?[A-Za-z0-9][A-Za-z0-9.-]{0,62}(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?(/[A-Za-z0-9._~/-]*)?|[A-Za-z0-9_][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]{0,62}:[A-Za-z0-9._~/-]+)$"#
    /// A path inside the checkout: components that do not start with a dot (so no `..`), or `.` itself.
    static let pathPattern = #"^([A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*|\.)$"#
    /// An image tag, or a template of one with `{sourceref}` and `{\1}`….
    static let tagTemplatePattern = #"^[A-Za-z0-9_.{}\\-]+$"#
    static let buildArgPattern = #"^[A-Za-z_][A-Za-z0-9_]{0,99}$"#
    /// A branch or tag name as Wharf takes it.
    static let refPattern = #"^[A-Za-z0-9._/-]+$"#

}

extension Build {
    /// Who started a build that a git server's push event started.
    public static let triggerActor = "trigger"
}

/// The signatures git servers put on their push events.
enum PushEventSignature {
    /// GitHub (`X-Hub-Signature-256: sha256=…`), Gitea (`X-Gitea-Signature: …`, hex) and GitLab (`X-Gitlab-Token`).
    static func verify(headers: [String: String], body: [UInt8], secret: String) -> Bool {
        let hex = SecretToken.hmacSHA256Hex(body, key: secret)
        if let github = headers["x-hub-signature-256"], SecretToken.constantTimeEquals(github.lowercased(), "sha256=" + hex) { return true }
        if let gitea = headers["x-gitea-signature"], SecretToken.constantTimeEquals(gitea.lowercased(), hex) { return true }
        if let gitlab = headers["x-gitlab-token"], SecretToken.constantTimeEquals(gitlab, secret) { return true }
        return false
    }
}
