import Foundation
import SQLKit
import WharfCore

/// `BuildStore` over `build_settings`, `builds` and `build_logs` (the log as numbered chunks).
struct SQLBuildStore: BuildStore {
    let access: any SQLDatabaseAccess

    func buildSettings(of repository: RepositoryName) async throws -> BuildSettings? {
        try await access.reader.raw("SELECT * FROM build_settings WHERE repository = \(bind: repository.value)").first()
            .flatMap(Self.decodeSettings)
    }

    func buildSettings(triggerID: String) async throws -> BuildSettings? {
        try await access.reader.raw("SELECT * FROM build_settings WHERE trigger_id = \(bind: triggerID)").first().flatMap(Self.decodeSettings)
    }

    func saveBuildSettings(_ settings: BuildSettings) async throws {
        let rules = String(decoding: try JSONEncoder().encode(settings.rules), as: UTF8.self)
        try await access.transaction { db in
            try await db.raw("DELETE FROM build_settings WHERE repository = \(bind: settings.repository.value)").run()
            try await db.raw("""
                INSERT INTO build_settings (repository, git_url, credentials, autobuild, rules, trigger_id, trigger_secret, updated_by, updated_at,
                                            poll, polled_refs)
                VALUES (\(bind: settings.repository.value), \(bind: settings.gitURL), \(bind: settings.sealedCredentials),
                        \(bind: settings.autobuild), \(bind: rules), \(bind: settings.triggerID), \(bind: settings.sealedTriggerSecret),
                        \(bind: settings.updatedBy), \(bind: settings.updatedAt.timeIntervalSince1970), \(bind: settings.poll),
                        \(bind: try settings.polledRefs.map(Self.encode)))
                """).run()
        }
    }

    func deleteBuildSettings(of repository: RepositoryName) async throws {
        try await access.transaction { db in
            try await db.raw("DELETE FROM build_settings WHERE repository = \(bind: repository.value)").run()
        }
    }

    func polledBuildSettings() async throws -> [BuildSettings] {
        try await access.reader.raw("SELECT * FROM build_settings WHERE poll AND autobuild ORDER BY repository").all()
            .compactMap(Self.decodeSettings)
    }

    func savePolledRefs(_ refs: [String: String], of repository: RepositoryName) async throws {
        let encoded = try Self.encode(refs)
        try await access.transaction(.relaxed) { db in
            try await db.raw("UPDATE build_settings SET polled_refs = \(bind: encoded) WHERE repository = \(bind: repository.value)").run()
        }
    }

    private static func encode(_ refs: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(refs), as: UTF8.self)
    }

    func createBuild(_ build: Build) async throws -> Build {
        let rule = String(decoding: try JSONEncoder().encode(build.rule), as: UTF8.self)
        return try await access.transaction { db in
            let row = try await db.raw("""
                INSERT INTO builds (repository, source_type, ref, rule, image_tag, status, commit_sha, error, triggered_by,
                                    cancel_requested, created_at, started_at, finished_at)
                VALUES (\(bind: build.repository.value), \(bind: build.sourceType), \(bind: build.ref), \(bind: rule), \(bind: build.imageTag),
                        \(bind: build.status.rawValue), \(bind: build.commit), \(bind: build.error), \(bind: build.triggeredBy),
                        \(bind: build.cancelRequested), \(bind: build.createdAt.timeIntervalSince1970),
                        \(bind: build.startedAt?.timeIntervalSince1970), \(bind: build.finishedAt?.timeIntervalSince1970))
                RETURNING id
                """).first()
            var created = build
            created.id = try row?.decode(column: "id", as: Int64.self) ?? 0
            return created
        }
    }

    func build(_ id: Int64) async throws -> Build? {
        try await access.reader.raw("SELECT * FROM builds WHERE id = \(bind: id)").first().flatMap(Self.decodeBuild)
    }

    func builds(of repository: RepositoryName, limit: Int) async throws -> [Build] {
        try await access.reader.raw("""
            SELECT * FROM builds WHERE repository = \(bind: repository.value) ORDER BY id DESC LIMIT \(bind: limit)
            """).all().compactMap(Self.decodeBuild)
    }

    func updateBuild(_ build: Build) async throws {
        try await access.transaction { db in
            try await db.raw("""
                UPDATE builds SET status = \(bind: build.status.rawValue), commit_sha = \(bind: build.commit), error = \(bind: build.error),
                cancel_requested = \(bind: build.cancelRequested), started_at = \(bind: build.startedAt?.timeIntervalSince1970),
                finished_at = \(bind: build.finishedAt?.timeIntervalSince1970)
                WHERE id = \(bind: build.id)
                """).run()
        }
    }

    func requestCancel(_ id: Int64) async throws -> Bool {
        try await access.writeIfExists(
            check: "SELECT 1 AS ok FROM builds WHERE id = \(bind: id) AND status IN ('queued', 'running')",
            change: "UPDATE builds SET cancel_requested = TRUE WHERE id = \(bind: id)"
        )
    }

    func appendLog(_ text: String, to build: Int64) async throws {
        guard !text.isEmpty else { return }
        try await access.transaction(.relaxed) { db in
            let row = try await db.raw("""
                SELECT COALESCE(MAX(chunk), 0) AS last FROM build_logs WHERE build = \(bind: build)
                """).first()
            let last = try row?.decode(column: "last", as: Int.self) ?? 0
            try await db.raw("""
                INSERT INTO build_logs (build, chunk, text) VALUES (\(bind: build), \(bind: last + 1), \(bind: text))
                """).run()
        }
    }

    func log(of build: Int64, from offset: Int) async throws -> (text: String, next: Int) {
        let rows = try await access.reader.raw("SELECT text FROM build_logs WHERE build = \(bind: build) ORDER BY chunk").all()
        let whole = try rows.map { try $0.decode(column: "text", as: String.self) }.joined()
        let bytes = Array(whole.utf8)
        guard offset < bytes.count else { return ("", bytes.count) }
        return (String(decoding: bytes[max(0, offset)...], as: UTF8.self), bytes.count)
    }

    static func decodeSettings(_ row: any SQLRow) throws -> BuildSettings? {
        guard let repository = RepositoryName(try row.decode(column: "repository", as: String.self)) else { return nil }
        let rules = try JSONDecoder().decode([BuildRule].self, from: Data(try row.decode(column: "rules", as: String.self).utf8))
        return BuildSettings(
            repository: repository, gitURL: try row.decode(column: "git_url", as: String.self),
            sealedCredentials: try row.decode(column: "credentials", as: String?.self), autobuild: try row.decode(column: "autobuild", as: Bool.self),
            rules: rules, triggerID: try row.decode(column: "trigger_id", as: String.self),
            sealedTriggerSecret: try row.decode(column: "trigger_secret", as: String.self),
            updatedBy: try row.decode(column: "updated_by", as: String?.self),
            updatedAt: Date(timeIntervalSince1970: try row.decode(column: "updated_at", as: Double.self)),
            poll: try row.decode(column: "poll", as: Bool.self),
            polledRefs: try row.decode(column: "polled_refs", as: String?.self)
                .flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
        )
    }

    static func decodeBuild(_ row: any SQLRow) throws -> Build? {
        guard let repository = RepositoryName(try row.decode(column: "repository", as: String.self)),
              let status = Build.Status(rawValue: try row.decode(column: "status", as: String.self)) else { return nil }
        let rule = try JSONDecoder().decode(BuildRule.self, from: Data(try row.decode(column: "rule", as: String.self).utf8))
        return Build(
            id: try row.decode(column: "id", as: Int64.self), repository: repository,
            sourceType: try row.decode(column: "source_type", as: String.self), ref: try row.decode(column: "ref", as: String.self),
            rule: rule, imageTag: try row.decode(column: "image_tag", as: String.self), status: status,
            commit: try row.decode(column: "commit_sha", as: String?.self), error: try row.decode(column: "error", as: String?.self),
            triggeredBy: try row.decode(column: "triggered_by", as: String.self),
            cancelRequested: try row.decode(column: "cancel_requested", as: Bool.self),
            createdAt: Date(timeIntervalSince1970: try row.decode(column: "created_at", as: Double.self)),
            startedAt: try row.decode(column: "started_at", as: Double?.self).map(Date.init(timeIntervalSince1970:)),
            finishedAt: try row.decode(column: "finished_at", as: Double?.self).map(Date.init(timeIntervalSince1970:))
        )
    }
}
