import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// Automated builds over `/api`: `…/build-settings`, `…/builds` (start, list, show, log, cancel)
/// and the git servers' inbound trigger. Every rule is in `BuildService`.
struct BuildRoutes: Sendable {
    let auth: APIAuthentication
    let builds: BuildService

    func register(on router: Router<WharfRequestContext>) {
        let base = "/api/repositories/:namespace/:name"
        router.get("\(base)/build-settings") { request, context in try await self.settings(request, context: context) }
        router.put("\(base)/build-settings") { request, context in try await self.saveSettings(request, context: context) }
        router.delete("\(base)/build-settings") { request, context in try await self.deleteSettings(request, context: context) }
        router.post("\(base)/builds") { request, context in try await self.trigger(request, context: context) }
        router.get("\(base)/builds") { request, context in try await self.list(request, context: context) }
        router.get("\(base)/builds/:id") { request, context in try await self.show(request, context: context) }
        router.get("\(base)/builds/:id/log") { request, context in try await self.log(request, context: context) }
        router.post("\(base)/builds/:id/cancel") { request, context in try await self.cancel(request, context: context) }
        router.post("/api/build-triggers/:trigger") { request, context in try await self.inbound(request, context: context) }
    }



    private func id(_ context: WharfRequestContext) throws -> Int64 {
        guard let id = Int64(try context.parameters.require("id")) else { throw HubError.notFound("build") }
        return id
    }

    struct RuleBody: Codable {
        let source_type: String
        let source: String
        let dockerfile: String?
        let context: String?
        let tag: String?
        let build_args: [String: String]?

        var rule: BuildRule {
            BuildRule(sourceType: source_type, source: source, dockerfile: dockerfile ?? "Dockerfile", context: context ?? ".",
                      tag: tag ?? "{sourceref}", buildArgs: build_args ?? [:])
        }

        init(_ rule: BuildRule) {
            source_type = rule.sourceType
            source = rule.source
            dockerfile = rule.dockerfile
            context = rule.context
            tag = rule.tag
            build_args = rule.buildArgs
        }
    }

    struct SettingsView: Encodable {
        let git_url: String
        let has_credentials: Bool
        let autobuild: Bool
        let poll: Bool
        let rules: [RuleBody]
        let trigger_url: String
        let trigger_secret: String
        let engine: String?
        let updated_at: Date

        enum Key: String, CodingKey { case git_url, has_credentials, autobuild, poll, rules, trigger_url, trigger_secret, engine, updated_at }

        /// `engine` is `null` on a server without one.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(git_url, forKey: .git_url)
            try c.encode(has_credentials, forKey: .has_credentials)
            try c.encode(autobuild, forKey: .autobuild)
            try c.encode(poll, forKey: .poll)
            try c.encode(rules, forKey: .rules)
            try c.encode(trigger_url, forKey: .trigger_url)
            try c.encode(trigger_secret, forKey: .trigger_secret)
            try c.encode(engine, forKey: .engine)
            try c.encode(updated_at, forKey: .updated_at)
        }

        init(_ view: BuildService.SettingsView, engine: String?) {
            git_url = view.settings.gitURL
            has_credentials = view.hasCredentials
            autobuild = view.settings.autobuild
            poll = view.settings.poll
            rules = view.settings.rules.map(RuleBody.init)
            trigger_url = view.triggerURL
            trigger_secret = view.triggerSecret
            self.engine = engine
            updated_at = view.settings.updatedAt
        }
    }

    struct BuildView: Encodable {
        let build: Build

        enum Key: String, CodingKey {
            case id, repository, source_type, ref, tag, status, commit, error, triggered_by, cancel_requested, created_at, started_at,
                 finished_at, duration_seconds, dockerfile, context
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(build.id, forKey: .id)
            try c.encode(build.repository.value, forKey: .repository)
            try c.encode(build.sourceType, forKey: .source_type)
            try c.encode(build.ref, forKey: .ref)
            try c.encode(build.imageTag, forKey: .tag)
            try c.encode(build.status.rawValue, forKey: .status)
            try c.encode(build.commit, forKey: .commit)
            try c.encode(build.error, forKey: .error)
            try c.encode(build.triggeredBy, forKey: .triggered_by)
            try c.encode(build.cancelRequested, forKey: .cancel_requested)
            try c.encode(build.createdAt, forKey: .created_at)
            try c.encode(build.startedAt, forKey: .started_at)
            try c.encode(build.finishedAt, forKey: .finished_at)
            let duration = build.startedAt.map { (build.finishedAt ?? Date()).timeIntervalSince($0) }
            try c.encode(duration.map { ($0 * 10).rounded() / 10 }, forKey: .duration_seconds)
            try c.encode(build.rule.dockerfile, forKey: .dockerfile)
            try c.encode(build.rule.context, forKey: .context)
        }
    }

    func settings(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        guard let view = try await builds.settings(of: try context.pathRepository(), by: principal) else { throw HubError.notFound("build settings") }
        return try APIResponse.json(SettingsView(view, engine: builds.engineName))
    }

    /// `PUT …/build-settings {"git_url","credentials"?,"autobuild","rules"}`: `credentials` is
    /// `{"token","username"?}` or `{"ssh_key"}`; left out keeps the stored ones, `null` removes them.
    func saveSettings(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Credentials: Decodable { let token: String?; let username: String?; let ssh_key: String? }
        struct Body: Decodable {
            let git_url: String
            let credentials: Credentials??
            let autobuild: Bool?
            let poll: Bool?
            let rules: [RuleBody]

            enum CodingKeys: String, CodingKey { case git_url, credentials, autobuild, poll, rules }

            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                git_url = try c.decode(String.self, forKey: .git_url)
                credentials = c.contains(.credentials) ? .some(try c.decodeNil(forKey: .credentials) ? nil : try c.decode(Credentials.self, forKey: .credentials)) : nil
                autobuild = try c.decodeIfPresent(Bool.self, forKey: .autobuild)
                poll = try c.decodeIfPresent(Bool.self, forKey: .poll)
                rules = try c.decode([RuleBody].self, forKey: .rules)
            }
        }
        let principal = try await auth.require(request, context: context)
        let name = try context.pathRepository()
        let body = try await request.decodeJSON(Body.self, nullable: ["credentials"])
        let change: BuildService.CredentialsChange
        switch body.credentials {
        case .none: change = .keep
        case .some(.none): change = .remove
        case .some(.some(let given)):
            if let key = given.ssh_key, !key.isEmpty, given.token == nil {
                change = .set(.sshKey(key))
            } else if let token = given.token, !token.isEmpty, given.ssh_key == nil {
                change = .set(.token(username: given.username ?? "x-access-token", token: token))
            } else {
                throw APIError.invalid("credentials", "credentials are {\"token\", \"username\"} or {\"ssh_key\"}")
            }
        }
        let saved = try await builds.saveSettings(of: name, gitURL: body.git_url, credentials: change, autobuild: body.autobuild ?? true,
                                                  poll: body.poll ?? false, rules: body.rules.map(\.rule), by: principal)
        return try APIResponse.json(SettingsView(saved, engine: builds.engineName))
    }

    func deleteSettings(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        try await builds.deleteSettings(of: try context.pathRepository(), by: principal)
        return .empty(.noContent)
    }

    /// `POST …/builds {"ref"}` → 202 `{"id", "builds"}` (one build per matching rule; `id` is the first).
    func trigger(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Body: Decodable { let ref: String }
        struct Queued: Encodable { let id: Int64; let builds: [BuildView] }
        let principal = try await auth.require(request, context: context)
        let name = try context.pathRepository()
        let body = try await request.decodeJSON(Body.self)
        let queued = try await builds.trigger(name, ref: body.ref, by: principal)
        return try APIResponse.json(Queued(id: queued.first?.id ?? 0, builds: queued.map(BuildView.init)), status: .accepted)
    }

    func list(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 50
        return try APIResponse.json(try await builds.builds(of: try context.pathRepository(), limit: limit, by: principal).map(BuildView.init))
    }

    func show(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        return try APIResponse.json(BuildView(build: try await builds.build(try id(context), in: try context.pathRepository(), by: principal)))
    }

    func cancel(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        return try APIResponse.json(BuildView(build: try await builds.cancel(try id(context), in: try context.pathRepository(), by: principal)),
                                    status: .accepted)
    }

    /// `GET …/builds/{id}/log`: the log as plain text; while the build runs the response stays
    /// open and the log streams as it grows (`?follow=false` answers with what there is now).
    func log(_ request: Request, context: WharfRequestContext) async throws -> Response {
        let principal = try await auth.require(request, context: context)
        let name = try context.pathRepository()
        let id = try id(context)
        return try await Self.logResponse(builds, id: id, in: name, follow: request.uri.queryParameters.get("follow") != "false",
                                          principal: principal)
    }

    /// A build's log as plain text; while it runs and `follow` is set, the body stays open and
    /// streams the log as it grows (the API and the website's live log both use it).
    static func logResponse(_ builds: BuildService, id: Int64, in name: RepositoryName, follow: Bool,
                            principal: Principal?) async throws -> Response {
        let first = try await builds.log(of: id, in: name, from: 0, by: principal)
        var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"]
        headers[HTTPField.Name("X-Wharf-Build-Finished")!] = first.finished ? "true" : "false"
        guard follow, !first.finished else {
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: first.text)))
        }
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(string: first.text))
            var offset = first.next
            while true {
                try await Task.sleep(for: .milliseconds(500))
                let part = try await builds.log(of: id, in: name, from: offset, by: principal)
                if !part.text.isEmpty { try await writer.write(ByteBuffer(string: part.text)) }
                offset = part.next
                if part.finished {
                    let rest = try await builds.log(of: id, in: name, from: offset, by: principal)
                    if !rest.text.isEmpty { try await writer.write(ByteBuffer(string: rest.text)) }
                    break
                }
            }
            try await writer.finish(nil)
        })
    }

    /// `POST /api/build-triggers/{trigger}`: a git server's push event (GitHub, GitLab, Gitea), signed with the trigger's secret.
    func inbound(_ request: Request, context: WharfRequestContext) async throws -> Response {
        struct Queued: Encodable { let builds: [BuildView] }
        let body = try await request.body.collect(upTo: 5 * 1024 * 1024)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let queued = try await builds.receivePush(triggerID: try context.parameters.require("trigger"), headers: headers,
                                                  body: Array(buffer: body))
        return try APIResponse.json(Queued(builds: queued.map(BuildView.init)), status: queued.isEmpty ? .ok : .accepted)
    }
}
