import Foundation
import Hummingbird
import WharfCore
import WharfHub
import WharfMetadata

/// Storage lifecycle for administrators and owners: garbage collection on demand, immutable tag
/// rules, retention policies, quotas and usage. Every rule is in the lifecycle services; this
/// file only speaks JSON.
struct LifecycleRoutes: Sendable {
    let auth: APIAuthentication
    let hub: Hub
    let metrics: RegistryMetrics

    func register(on router: Router<WharfRequestContext>) {
        router.post("/api/admin/gc") { request, context in try await self.collectGarbage(request, context: context) }
        let repository = "/api/repositories/:namespace/:name"
        router.get("\(repository)/immutable-tags") { request, context in try await self.immutableTags(request, context: context) }
        router.put("\(repository)/immutable-tags") { request, context in try await self.setImmutableTags(request, context: context) }
        router.get("\(repository)/retention") { request, context in try await self.retention(request, context: context) }
        router.put("\(repository)/retention") { request, context in try await self.setRetention(request, context: context) }
        router.delete("\(repository)/retention") { request, context in try await self.removeRetention(request, context: context) }
        router.post("\(repository)/retention/run") { request, context in try await self.runRetention(request, context: context) }
        router.get("/api/namespaces/:username/retention") { request, context in try await self.namespaceRetention(request, context: context) }
        router.put("/api/namespaces/:username/retention") { request, context in try await self.setNamespaceRetention(request, context: context) }
        router.delete("/api/namespaces/:username/retention") { request, context in try await self.removeNamespaceRetention(request, context: context) }
        router.post("/api/namespaces/:username/retention/run") { request, context in try await self.runNamespaceRetention(request, context: context) }
        router.put("/api/admin/namespaces/:username/quota") { request, context in try await self.setQuota(request, context: context) }
        router.delete("/api/admin/namespaces/:username/quota") { request, context in try await self.removeQuota(request, context: context) }
        router.get("/api/namespaces/:username/usage") { request, context in try await self.usage(request, context: context) }
    }


    struct PatternsView: Codable { let patterns: [String] }

    /// `GET …/immutable-tags` → `{"patterns":[…]}`.
    func immutableTags(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.principal(request, context: context)
        return try APIResponse.json(PatternsView(patterns: try await hub.storagePolicies.immutableTags(of: try context.pathRepository(), by: caller)))
    }

    /// `PUT …/immutable-tags {"patterns":["v*"]}` (an empty list removes every rule).
    func setImmutableTags(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.require(request, context: context)
        let body = try await request.decodeJSON(PatternsView.self)
        let saved = try await hub.storagePolicies.setImmutableTags(body.patterns, of: try context.pathRepository(), by: caller)
        return try APIResponse.json(PatternsView(patterns: saved))
    }

    struct RetentionView: Codable {
        @NullWhenAbsent var keep_last: Int?
        let keep_patterns: [String]?
        @NullWhenAbsent var max_age_days: Int?

        var policy: RetentionPolicy { RetentionPolicy(keepLast: keep_last, keepPatterns: keep_patterns ?? [], maxAgeDays: max_age_days) }

        init(_ policy: RetentionPolicy) {
            keep_last = policy.keepLast
            keep_patterns = policy.keepPatterns
            max_age_days = policy.maxAgeDays
        }
    }

    /// `GET …/retention` → the policy, 404 when the repository has none.
    func retention(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.principal(request, context: context)
        guard let policy = try await hub.retention.policy(of: try context.pathRepository(), by: caller) else {
            throw HubError.notFound("retention policy")
        }
        return try APIResponse.json(RetentionView(policy))
    }

    /// `PUT …/retention {"keep_last":N,"keep_patterns":[…],"max_age_days":D}`.
    func setRetention(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.require(request, context: context)
        let policy = try await request.decodeJSON(RetentionView.self, nullable: ["keep_last", "max_age_days"]).policy
        try await hub.retention.setPolicy(policy, of: try context.pathRepository(), by: caller)
        return try APIResponse.json(RetentionView(policy))
    }

    /// `DELETE …/retention`: the repository keeps every tag again.
    func removeRetention(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.require(request, context: context)
        try await hub.retention.setPolicy(nil, of: try context.pathRepository(), by: caller)
        return Response(status: .noContent)
    }

    struct RetentionRunView: Encodable {
        let dry_run: Bool
        let tags: [String]
    }

    /// `POST …/retention/run {"dry_run":bool}` → the tags it deletes (or would).
    func runRetention(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let dry_run: Bool? }
        let caller = try await auth.require(request, context: context)
        let dryRun = try await request.decodeJSON(Body.self).dry_run ?? false
        let tags = try await hub.retention.run(try context.pathRepository(), dryRun: dryRun, by: caller)
        return try APIResponse.json(RetentionRunView(dry_run: dryRun, tags: tags))
    }

    /// `GET /api/namespaces/{namespace}/retention` → the policy of its repositories without their own (404: none).
    func namespaceRetention(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.require(request, context: context)
        guard let policy = try await hub.retention.namespacePolicy(of: try context.parameters.require("username"), by: caller) else {
            throw HubError.notFound("retention policy")
        }
        return try APIResponse.json(RetentionView(policy))
    }

    /// `PUT /api/namespaces/{namespace}/retention {"keep_last","keep_patterns","max_age_days"}`.
    func setNamespaceRetention(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.require(request, context: context)
        let policy = try await request.decodeJSON(RetentionView.self, nullable: ["keep_last", "max_age_days"]).policy
        try await hub.retention.setNamespacePolicy(policy, of: try context.parameters.require("username"), by: caller)
        return try APIResponse.json(RetentionView(policy))
    }

    /// `DELETE /api/namespaces/{namespace}/retention`.
    func removeNamespaceRetention(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.require(request, context: context)
        try await hub.retention.setNamespacePolicy(nil, of: try context.parameters.require("username"), by: caller)
        return Response(status: .noContent)
    }

    struct NamespaceRetentionRunView: Encodable {
        struct Deleted: Encodable { let repository: String; let tags: [String] }
        let dry_run: Bool
        let repositories: [Deleted]
    }

    /// `POST /api/namespaces/{namespace}/retention/run {"dry_run":bool}` → per repository, the tags it deletes (or would).
    func runNamespaceRetention(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let dry_run: Bool? }
        let caller = try await auth.require(request, context: context)
        let dryRun = try await request.decodeJSON(Body.self).dry_run ?? false
        let runs = try await hub.retention.runNamespace(try context.parameters.require("username"), dryRun: dryRun, by: caller)
        return try APIResponse.json(NamespaceRetentionRunView(dry_run: dryRun, repositories: runs.map { .init(repository: $0.repository.value, tags: $0.tags) }))
    }

    struct UsageView: Encodable {
        let namespace: String
        let bytes: Int64
        /// null: unlimited.
        @NullWhenAbsent var quota: Int64?
    }

    /// `PUT /api/admin/namespaces/{namespace}/quota {"bytes":N}` → the usage view.
    func setQuota(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let bytes: Int64 }
        let caller = try await auth.require(request, context: context)
        let namespace = try context.parameters.require("username")
        let body = try await request.decodeJSON(Body.self)
        let usage = try await hub.storagePolicies.setQuota(body.bytes, of: namespace, by: caller)
        return try APIResponse.json(UsageView(namespace: namespace, bytes: usage.bytes, quota: usage.quota))
    }

    /// `DELETE /api/admin/namespaces/{namespace}/quota`: unlimited again.
    func removeQuota(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.require(request, context: context)
        _ = try await hub.storagePolicies.setQuota(nil, of: try context.parameters.require("username"), by: caller)
        return Response(status: .noContent)
    }

    /// `GET /api/namespaces/{namespace}/usage` → `{"namespace","bytes","quota"}`.
    func usage(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let caller = try await auth.require(request, context: context)
        let namespace = try context.parameters.require("username")
        let usage = try await hub.storagePolicies.usage(of: namespace, by: caller)
        return try APIResponse.json(UsageView(namespace: namespace, bytes: usage.bytes, quota: usage.quota))
    }

    struct GarbageCollectionView: Encodable {
        let dry_run: Bool
        let blobs: Int
        let manifests: Int
        let bytes: Int64
        let links: Int
        let started_at: Date
        let duration_seconds: Double

        init(_ report: GarbageCollectionReport) {
            dry_run = report.dryRun
            blobs = report.blobs
            manifests = report.manifests
            bytes = report.bytes
            links = report.links
            started_at = report.startedAt
            duration_seconds = report.duration
        }
    }

    /// `POST /api/admin/gc {"dry_run":bool,"grace_period":SECONDS}`: runs a collection now.
    func collectGarbage(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let dry_run: Bool?; let grace_period: Double? }
        let principal = try await auth.require(request, context: context)
        let body = try await request.decodeJSON(Body.self)
        let report = try await hub.garbageCollector.run(dryRun: body.dry_run ?? false, gracePeriod: body.grace_period, by: principal)
        metrics.recordGarbageCollection(report)
        return try APIResponse.json(GarbageCollectionView(report))
    }
}
