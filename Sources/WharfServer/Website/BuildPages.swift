import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// A repository's Builds tab: the settings (git URL, credentials, rules, autobuild, the trigger
/// URL and secret for the git server), a form to build a branch or tag now, the history, and each
/// build's page with its log (live while it runs) and a cancel button. `BuildService` holds every rule.
struct BuildPages: Sendable {
    let site: Website

    var hub: Hub { site.hub }

    func register(on router: Router<WharfRequestContext>) {
        router.get("/r/:namespace/:name/builds") { request, context in
            try await site.page(request, context: context) { visit in
                let notice = Website.notice(request, from: Self.notices)
                return try await overview(try Website.repository(context), visit, notice: notice)
            }
        }
        router.post("/r/:namespace/:name/builds/settings") { request, context in
            try await site.submit(request, context: context) { visit, form in
                let name = try Website.repository(context)
                do {
                    let (credentials, rules) = try Self.parse(form)
                    _ = try await hub.builds.saveSettings(of: name, gitURL: form["git_url"] ?? "", credentials: credentials,
                                                          autobuild: form.checked("autobuild"), poll: form.checked("poll"), rules: rules,
                                                          by: try visit.requirePrincipal())
                    return PageRenderer.redirect("/r/\(name.value)/builds?notice=saved")
                } catch let error as HubError where error.kind == .invalid {
                    return try await overview(name, visit, error: error.message, form: form)
                }
            }
        }
        router.post("/r/:namespace/:name/builds/trigger") { request, context in
            try await site.submit(request, context: context) { visit, form in
                let name = try Website.repository(context)
                do {
                    let queued = try await hub.builds.trigger(name, ref: form.text("ref") ?? "", by: try visit.requirePrincipal())
                    return PageRenderer.redirect("/r/\(name.value)/builds/\(queued[0].id)")
                } catch let error as HubError where [.invalid, .unavailable].contains(error.kind) || error.field == "ref" {
                    return try await overview(name, visit, error: error.message)
                }
            }
        }
        router.get("/r/:namespace/:name/builds/:id") { request, context in
            try await site.page(request, context: context) { try await show(try Website.repository(context), try Website.numericID(context), $0) }
        }
        router.get("/r/:namespace/:name/builds/:id/log") { request, context in
            try await site.page(request, context: context) { visit in
                try await BuildRoutes.logResponse(hub.builds, id: try Website.numericID(context), in: try Website.repository(context),
                                                  follow: request.uri.queryParameters.get("follow") != "false", principal: try visit.requirePrincipal())
            }
        }
        router.post("/r/:namespace/:name/builds/:id/cancel") { request, context in
            try await site.submit(request, context: context) { visit, _ in
                let name = try Website.repository(context)
                let id = try Website.numericID(context)
                do {
                    _ = try await hub.builds.cancel(id, in: name, by: try visit.requirePrincipal())
                } catch let error as HubError where error.kind == .conflict {
                    return try await show(name, id, visit, error: error.message)
                }
                return PageRenderer.redirect("/r/\(name.value)/builds/\(id)")
            }
        }
    }

    static let notices = ["saved": "Build settings saved."]

    /// The credentials change and the rules a settings form gives: rows `rule_N_…`, empty rows left out.
    static func parse(_ form: WebForm) throws -> (BuildService.CredentialsChange, [BuildRule]) {
        let credentials: BuildService.CredentialsChange
        switch form["credentials_kind"] ?? "keep" {
        case "remove": credentials = .remove
        case "token":
            guard let token = form.text("token") else { throw HubError.invalid("token", "give the access token, or keep the stored credentials") }
            credentials = .set(.token(username: form.text("token_username") ?? "x-access-token", token: token))
        case "ssh_key":
            guard let key = form["ssh_key"], !key.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw HubError.invalid("ssh_key", "paste the deploy key, or keep the stored credentials")
            }
            credentials = .set(.sshKey(key.replacingOccurrences(of: "\r\n", with: "\n")))
        default: credentials = .keep
        }
        var rules: [BuildRule] = []
        for index in 0..<21 {
            guard let source = form.text("rule_\(index)_source") else { continue }
            var arguments: [String: String] = [:]
            for pair in (form.text("rule_\(index)_args") ?? "").split(whereSeparator: { $0 == "," || $0 == "\n" }) {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty else { throw HubError.invalid("build_args", "build arguments are NAME=value, separated by commas") }
                arguments[parts[0]] = parts[1]
            }
            rules.append(BuildRule(sourceType: form["rule_\(index)_type"] ?? "branch", source: source,
                                   dockerfile: form.text("rule_\(index)_dockerfile") ?? "Dockerfile", context: form.text("rule_\(index)_context") ?? ".",
                                   tag: form.text("rule_\(index)_tag") ?? "{sourceref}", buildArgs: arguments))
        }
        return (credentials, rules)
    }

    func overview(_ name: RepositoryName, _ visit: Website.Visit, notice: String? = nil, error: String? = nil,
                  form: WebForm? = nil) async throws -> Response {
        let principal = try visit.requirePrincipal()
        let view = try await hub.builds.settings(of: name, by: principal)
        let history = try await hub.builds.builds(of: name, limit: 30, by: principal)
        let now = hub.stores.clock.now
        var data = try await site.adminTabHeader(name, principal: principal, tab: "builds")
        data["engine"] = hub.builds.engineName as Any
        data["noEngine"] = hub.builds.engineName == nil ? BuildService.noEngine : nil
        data["configured"] = view != nil
        data["gitURL"] = form?["git_url"] ?? view?.settings.gitURL ?? ""
        data["autobuild"] = form.map { $0.checked("autobuild") } ?? view?.settings.autobuild ?? true
        data["hasCredentials"] = view?.hasCredentials ?? false
        data["poll"] = form.map { $0.checked("poll") } ?? view?.settings.poll ?? false
        if let view { data["trigger"] = ["url": view.triggerURL, "secret": view.triggerSecret] }
        let rules = view?.settings.rules ?? [BuildRule(sourceType: "branch", source: "main", tag: "latest")]
        data["rules"] = (rules + [BuildRule(sourceType: "branch", source: "", tag: "")]).prefix(20).enumerated().map { index, rule in
            [
                "index": index, "source": rule.source, "dockerfile": rule.source.isEmpty ? "" : rule.dockerfile,
                "context": rule.source.isEmpty ? "" : rule.context, "tag": rule.tag,
                "args": rule.buildArgs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "),
                "branch": rule.sourceType == "branch", "tagType": rule.sourceType == "tag",
            ] as [String: Any]
        }
        data["builds"] = history.map { Self.row($0, now: now) }
        data["notice"] = notice
        data["error"] = error
        return site.renderer.page("builds", title: "Builds – \(name.value)", data: data, viewer: visit.viewer,
                                  status: error == nil ? .ok : .badRequest)
    }

    func show(_ name: RepositoryName, _ id: Int64, _ visit: Website.Visit, error: String? = nil) async throws -> Response {
        let principal = try visit.requirePrincipal()
        let build = try await hub.builds.build(id, in: name, by: principal)
        let log = try await hub.builds.log(of: id, in: name, from: 0, by: principal)
        var data = try await site.adminTabHeader(name, principal: principal, tab: "builds")
        data["build"] = Self.row(build, now: hub.stores.clock.now)
        data["log"] = log.text
        data["running"] = !build.status.isFinished
        data["error"] = error
        return site.renderer.page("build", title: "Build \(id) – \(name.value)", data: data, viewer: visit.viewer,
                                  status: error == nil ? .ok : .badRequest)
    }

    /// A build as the pages show it (keys apart from the page's own: `failure`, not `error`).
    static func row(_ build: Build, now: Date) -> [String: Any] {
        var row: [String: Any] = [
            "id": build.id, "status": build.status.rawValue, "sourceType": build.sourceType, "ref": build.ref, "imageTag": build.imageTag,
            "triggeredBy": build.triggeredBy, "created": WebViews.time(build.createdAt, now: now) as Any,
            "finished": build.status.isFinished, "cancelRequested": build.cancelRequested,
        ]
        if let commit = build.commit { row["commit"] = String(commit.prefix(12)) }
        if let failure = build.error { row["failure"] = failure }
        if let started = build.startedAt {
            let seconds = Int((build.finishedAt ?? now).timeIntervalSince(started).rounded())
            row["duration"] = seconds < 60 ? "\(seconds) s" : "\(seconds / 60) min \(seconds % 60) s"
        }
        return row
    }

}
