import Foundation
import SQLKit
import WharfCore

/// Versioned schema migrations, applied in order, each in its own transaction.
enum Migrations {
    /// One schema step: a version and its statements.
    struct Step: Sendable {
        let version: Int
        let name: String
        let statements: @Sendable (SQLFlavor) -> [String]
    }

    static let all: [Step] = [
        Step(version: 1, name: "registry core") { f in [
            """
            CREATE TABLE repositories (
                name TEXT COLLATE \(f.byteCollation) PRIMARY KEY,
                created_at \(f.timeType) NOT NULL
            )
            """,
            """
            CREATE TABLE blobs (
                digest TEXT PRIMARY KEY,
                size BIGINT NOT NULL,
                created_at \(f.timeType) NOT NULL
            )
            """,
            """
            CREATE TABLE repository_blobs (
                repository TEXT NOT NULL REFERENCES repositories(name) ON DELETE CASCADE,
                digest TEXT NOT NULL REFERENCES blobs(digest),
                created_at \(f.timeType) NOT NULL,
                PRIMARY KEY (repository, digest)
            )
            """,
            "CREATE INDEX repository_blobs_by_digest ON repository_blobs(digest)",
            """
            CREATE TABLE manifests (
                repository TEXT NOT NULL REFERENCES repositories(name) ON DELETE CASCADE,
                digest TEXT NOT NULL,
                media_type TEXT NOT NULL,
                artifact_type TEXT,
                subject TEXT,
                annotations TEXT,
                content \(f.bytesType) NOT NULL,
                created_at \(f.timeType) NOT NULL,
                PRIMARY KEY (repository, digest)
            )
            """,
            "CREATE INDEX manifests_by_subject ON manifests(repository, subject)",
            """
            CREATE TABLE manifest_references (
                repository TEXT NOT NULL,
                manifest TEXT NOT NULL,
                digest TEXT NOT NULL,
                kind TEXT NOT NULL,
                PRIMARY KEY (repository, manifest, digest),
                FOREIGN KEY (repository, manifest) REFERENCES manifests(repository, digest) ON DELETE CASCADE
            )
            """,
            "CREATE INDEX manifest_references_by_digest ON manifest_references(digest)",
            """
            CREATE TABLE tags (
                repository TEXT NOT NULL,
                name TEXT COLLATE \(f.byteCollation) NOT NULL,
                manifest TEXT NOT NULL,
                updated_at \(f.timeType) NOT NULL,
                PRIMARY KEY (repository, name),
                FOREIGN KEY (repository, manifest) REFERENCES manifests(repository, digest) ON DELETE CASCADE
            )
            """,
            """
            CREATE TABLE uploads (
                id TEXT PRIMARY KEY,
                repository TEXT NOT NULL,
                size BIGINT NOT NULL,
                created_at \(f.timeType) NOT NULL,
                updated_at \(f.timeType) NOT NULL
            )
            """,
            "CREATE INDEX uploads_by_activity ON uploads(updated_at)",
        ] },
        Step(version: 2, name: "accounts, organizations, teams, visibility") { f in [
            """
            CREATE TABLE accounts (
                name TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                email TEXT,
                password_hash TEXT,
                is_admin BOOLEAN NOT NULL DEFAULT FALSE,
                disabled BOOLEAN NOT NULL DEFAULT FALSE,
                private_repo_limit INTEGER,
                default_private BOOLEAN NOT NULL DEFAULT FALSE,
                created_at \(f.timeType) NOT NULL
            )
            """,
            """
            CREATE TABLE access_tokens (
                id TEXT PRIMARY KEY,
                account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                scope TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at \(f.timeType) NOT NULL,
                last_used_at \(f.timeType),
                expires_at \(f.timeType)
            )
            """,
            "CREATE INDEX access_tokens_by_account ON access_tokens(account)",
            "ALTER TABLE repositories ADD COLUMN namespace TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE repositories ADD COLUMN is_private BOOLEAN NOT NULL DEFAULT FALSE",
            "ALTER TABLE repositories ADD COLUMN description TEXT NOT NULL DEFAULT ''",
            f == .sqlite
                ? "UPDATE repositories SET namespace = substr(name, 1, instr(name, '/') - 1)"
                : "UPDATE repositories SET namespace = split_part(name, '/', 1)",
            "CREATE INDEX repositories_by_namespace ON repositories(namespace)",
            """
            CREATE TABLE collaborators (
                repository TEXT NOT NULL,
                account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                permission INTEGER NOT NULL,
                PRIMARY KEY (repository, account)
            )
            """,
            "CREATE INDEX collaborators_by_account ON collaborators(account)",
            """
            CREATE TABLE teams (
                organization TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                name TEXT NOT NULL,
                created_at \(f.timeType) NOT NULL,
                PRIMARY KEY (organization, name)
            )
            """,
            """
            CREATE TABLE team_members (
                organization TEXT NOT NULL,
                team TEXT NOT NULL,
                account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                PRIMARY KEY (organization, team, account),
                FOREIGN KEY (organization, team) REFERENCES teams(organization, name) ON DELETE CASCADE
            )
            """,
            "CREATE INDEX team_members_by_account ON team_members(account)",
            """
            CREATE TABLE team_repositories (
                organization TEXT NOT NULL,
                team TEXT NOT NULL,
                repository TEXT NOT NULL,
                permission INTEGER NOT NULL,
                PRIMARY KEY (organization, team, repository),
                FOREIGN KEY (organization, team) REFERENCES teams(organization, name) ON DELETE CASCADE
            )
            """,
            "CREATE INDEX team_repositories_by_repository ON team_repositories(repository)",
        ] },
        Step(version: 3, name: "events outbox, job queue") { f in [
            """
            CREATE TABLE events (
                id \(f.autoIncrementKey),
                kind TEXT NOT NULL,
                repository TEXT NOT NULL,
                actor TEXT,
                tag TEXT,
                digest TEXT,
                created_at \(f.timeType) NOT NULL
            )
            """,
            """
            CREATE TABLE jobs (
                id \(f.autoIncrementKey),
                kind TEXT NOT NULL,
                unique_key TEXT UNIQUE,
                payload TEXT NOT NULL,
                state TEXT NOT NULL,
                run_at \(f.timeType) NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                max_attempts INTEGER NOT NULL,
                last_error TEXT,
                lease_owner TEXT,
                lease_until \(f.timeType),
                created_at \(f.timeType) NOT NULL
            )
            """,
            "CREATE INDEX jobs_due ON jobs(state, run_at)",
        ] },
        Step(version: 4, name: "server secrets shared by replicas") { f in [
            """
            CREATE TABLE server_secrets (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                created_at \(f.timeType) NOT NULL
            )
            """,
        ] },
        Step(version: 5, name: "hub: READMEs, stars, pull counts, tag pushers, image platforms, search") { f in [
            "ALTER TABLE repositories ADD COLUMN full_description TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE repositories ADD COLUMN updated_at \(f.timeType) NOT NULL DEFAULT 0",
            """
            UPDATE repositories SET updated_at = COALESCE(
                (SELECT MAX(t.updated_at) FROM tags t WHERE t.repository = repositories.name), created_at)
            """,
            "ALTER TABLE repositories ADD COLUMN pull_count BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE repositories ADD COLUMN star_count BIGINT NOT NULL DEFAULT 0",
            "CREATE INDEX repositories_by_namespace_updated ON repositories(namespace, updated_at)",
            "ALTER TABLE tags ADD COLUMN pushed_by TEXT",
            "ALTER TABLE tags ADD COLUMN pulled_at \(f.timeType)",
            "ALTER TABLE manifests ADD COLUMN pulled_at \(f.timeType)",
            """
            CREATE TABLE stars (
                repository TEXT NOT NULL REFERENCES repositories(name) ON DELETE CASCADE,
                account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                created_at \(f.timeType) NOT NULL,
                PRIMARY KEY (repository, account)
            )
            """,
            "CREATE INDEX stars_by_account ON stars(account, created_at)",
            """
            CREATE TABLE image_configs (
                digest TEXT PRIMARY KEY,
                os TEXT,
                architecture TEXT,
                variant TEXT,
                history TEXT NOT NULL
            )
            """,
            "ALTER TABLE access_tokens ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE",
            "ALTER TABLE access_tokens ADD COLUMN creator_ip TEXT",
            "ALTER TABLE access_tokens ADD COLUMN creator_agent TEXT",
        ] + RepositorySearch.schema(f) },
        Step(version: 6, name: "website sessions") { f in [
            """
            CREATE TABLE web_sessions (
                secret_hash TEXT PRIMARY KEY,
                account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                form_token TEXT NOT NULL,
                created_at \(f.timeType) NOT NULL,
                last_seen_at \(f.timeType) NOT NULL
            )
            """,
            "CREATE INDEX web_sessions_by_account ON web_sessions(account)",
            "CREATE INDEX web_sessions_by_activity ON web_sessions(last_seen_at)",
        ] },
        Step(version: 7, name: "search index marks visibility; ranking indexes") { f in RepositorySearch.markedSchema(f) },
        Step(version: 8, name: "webhooks, their deliveries and attempts; jobs can be woken while they run") { f in [
            """
            CREATE TABLE webhooks (
                id \(f.autoIncrementKey),
                repository TEXT COLLATE \(f.byteCollation),
                organization TEXT,
                name TEXT NOT NULL,
                url TEXT NOT NULL,
                events TEXT NOT NULL,
                format TEXT NOT NULL,
                secret TEXT,
                enabled BOOLEAN NOT NULL DEFAULT TRUE,
                disabled_reason TEXT,
                consecutive_failures INTEGER NOT NULL DEFAULT 0,
                created_by TEXT,
                created_at \(f.timeType) NOT NULL,
                updated_at \(f.timeType) NOT NULL,
                retired_at \(f.timeType)
            )
            """,
            "CREATE INDEX webhooks_by_repository ON webhooks(repository)",
            "CREATE INDEX webhooks_by_organization ON webhooks(organization)",
            """
            CREATE TABLE webhook_deliveries (
                number \(f.autoIncrementKey),
                id TEXT NOT NULL UNIQUE,
                webhook BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
                event_id BIGINT,
                event TEXT NOT NULL,
                body TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at \(f.timeType),
                created_at \(f.timeType) NOT NULL,
                finished_at \(f.timeType),
                redelivery_of TEXT,
                validation TEXT
            )
            """,
            "CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook, state, number)",
            """
            CREATE TABLE webhook_attempts (
                delivery TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
                number INTEGER NOT NULL,
                started_at \(f.timeType) NOT NULL,
                duration_ms INTEGER NOT NULL,
                status_code INTEGER,
                error TEXT,
                response_excerpt TEXT NOT NULL,
                PRIMARY KEY (delivery, number)
            )
            """,
            "ALTER TABLE jobs ADD COLUMN poked BOOLEAN NOT NULL DEFAULT FALSE",
        ] },
        Step(version: 9, name: "automated builds: settings, builds, logs") { f in [
            """
            CREATE TABLE build_settings (
                repository TEXT COLLATE \(f.byteCollation) PRIMARY KEY REFERENCES repositories(name) ON DELETE CASCADE,
                git_url TEXT NOT NULL,
                credentials TEXT,
                autobuild BOOLEAN NOT NULL,
                rules TEXT NOT NULL,
                trigger_id TEXT NOT NULL UNIQUE,
                trigger_secret TEXT NOT NULL,
                updated_by TEXT,
                updated_at \(f.timeType) NOT NULL
            )
            """,
            """
            CREATE TABLE builds (
                id \(f.autoIncrementKey),
                repository TEXT COLLATE \(f.byteCollation) NOT NULL REFERENCES repositories(name) ON DELETE CASCADE,
                source_type TEXT NOT NULL,
                ref TEXT NOT NULL,
                rule TEXT NOT NULL,
                image_tag TEXT NOT NULL,
                status TEXT NOT NULL,
                commit_sha TEXT,
                error TEXT,
                triggered_by TEXT NOT NULL,
                cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
                created_at \(f.timeType) NOT NULL,
                started_at \(f.timeType),
                finished_at \(f.timeType)
            )
            """,
            "CREATE INDEX builds_by_repository ON builds(repository, id)",
            """
            CREATE TABLE build_logs (
                build BIGINT NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
                chunk INTEGER NOT NULL,
                text TEXT NOT NULL,
                PRIMARY KEY (build, chunk)
            )
            """,
        ] },
        Step(version: 10, name: "automated builds may poll their git URL") { _ in [
            "ALTER TABLE build_settings ADD COLUMN poll BOOLEAN NOT NULL DEFAULT FALSE",
            "ALTER TABLE build_settings ADD COLUMN polled_refs TEXT",
        ] },
        Step(version: 11, name: "online garbage collection") { f in [
            // When garbage collection first saw the blob unlinked; when it claimed it for deletion.
            "ALTER TABLE blobs ADD COLUMN orphaned_at \(f.timeType)",
            "ALTER TABLE blobs ADD COLUMN deleting_at \(f.timeType)",
            // The blob an upload is committing: it pins the blob against collection.
            "ALTER TABLE uploads ADD COLUMN digest TEXT",
            "CREATE INDEX uploads_by_digest ON uploads(digest)",
            // Since when no tag points at the manifest (NULL while one does).
            "ALTER TABLE manifests ADD COLUMN untagged_since \(f.timeType)",
            """
            UPDATE manifests SET untagged_since = created_at WHERE NOT EXISTS (
                SELECT 1 FROM tags t WHERE t.repository = manifests.repository AND t.manifest = manifests.digest)
            """,
            "CREATE INDEX manifests_by_untagged_since ON manifests(untagged_since)",
            "CREATE INDEX manifest_references_by_repository ON manifest_references(repository, digest)",
            "CREATE INDEX tags_by_manifest ON tags(repository, manifest)",
        ] },
        Step(version: 12, name: "immutable tags, retention, quotas, audit log, pull limits") { f in [
            """
            CREATE TABLE repository_policies (
                repository TEXT PRIMARY KEY REFERENCES repositories(name) ON DELETE CASCADE,
                immutable_tags TEXT NOT NULL DEFAULT '[]',
                retention TEXT,
                updated_at \(f.timeType) NOT NULL
            )
            """,
            """
            CREATE TABLE namespace_quotas (
                namespace TEXT PRIMARY KEY,
                bytes BIGINT NOT NULL,
                updated_at \(f.timeType) NOT NULL
            )
            """,
            """
            CREATE TABLE audit_log (
                id \(f.autoIncrementKey),
                at \(f.timeType) NOT NULL,
                actor TEXT,
                action TEXT NOT NULL,
                namespace TEXT,
                repository TEXT,
                target TEXT,
                client_address TEXT,
                details TEXT
            )
            """,
            "CREATE INDEX audit_log_by_time ON audit_log(at)",
            "CREATE INDEX audit_log_by_namespace ON audit_log(namespace, at)",
            "ALTER TABLE accounts ADD COLUMN pull_limit INTEGER",
        ] },
        Step(version: 13, name: "namespace retention policies") { f in [
            """
            CREATE TABLE namespace_policies (
                namespace TEXT PRIMARY KEY,
                retention TEXT,
                updated_at \(f.timeType) NOT NULL
            )
            """,
        ] },
        Step(version: 14, name: "uploads record the digest of their bytes so far") { _ in [
            "ALTER TABLE uploads ADD COLUMN staged_digest TEXT",
        ] },
    ]

    /// Applies every step newer than the database's version. On PostgreSQL, under an advisory
    /// lock: replicas starting together take turns, and the later ones find nothing left to do.
    static func run(on access: any SQLDatabaseAccess, clock: any WallClock) async throws {
        if let postgres = access as? PostgresDatabaseAccess {
            try await postgres.withAdvisoryLock(lockKey) { try await apply(on: access, clock: clock) }
        } else {
            try await apply(on: access, clock: clock)
        }
    }

    /// The advisory lock migrations hold ("wharf" in ASCII).
    static let lockKey: Int64 = 0x7768_6172_66

    private static func apply(on access: any SQLDatabaseAccess, clock: any WallClock) async throws {
        let flavor = access.flavor
        try await access.transaction { db in
            try await db.raw("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at \(unsafeRaw: flavor.timeType) NOT NULL)
                """).run()
        }
        let applied = try await access.reader.raw("SELECT version FROM schema_migrations")
            .all().map { try $0.decode(column: "version", as: Int.self) }
        for step in all where !applied.contains(step.version) {
            try await access.transaction { db in
                for statement in step.statements(flavor) {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await db.raw("""
                    INSERT INTO schema_migrations (version, name, applied_at)
                    VALUES (\(bind: step.version), \(bind: step.name), \(bind: clock.now.timeIntervalSince1970))
                    """).run()
            }
        }
    }
}
