import Foundation
import SQLKit
import WharfCore

/// Listings, search, stars, pull counts and tag details over the registry's tables.
extension SQLMetadataStore: CatalogStore {
    // MARK: Listings and search

    public func repositoryPage(namespace: String, privates: PrivateVisibility, ordering: RepositoryOrdering,
                               offset: Int, limit: Int) async throws -> Page<RepositoryInfo> {
        try await repositoryPage(where: "r.namespace = \(bind: namespace)", privates: privates,
                                 orderBy: Self.orderClause(ordering), offset: offset, limit: limit)
    }

    public func searchRepositories(words: [String], exactName: String, privates: PrivateVisibility,
                                   offset: Int, limit: Int) async throws -> Page<RepositoryInfo> {
        guard !words.isEmpty else { return Page(count: 0, items: []) }
        let flavor = access.flavor
        // The count comes from the index alone: public matches (plus the private ones the caller may see).
        let counted: Int = switch privates {
        case .all: try await db.raw(RepositorySearch.count(words, publicOnly: false, flavor: flavor)).first()?.decode(column: "n", as: Int.self) ?? 0
        case .none, .only: try await db.raw(RepositorySearch.count(words, publicOnly: true, flavor: flavor)).first()?.decode(column: "n", as: Int.self) ?? 0
        }
        var count = counted
        if case .only(let names) = privates { count += names.count }
        guard count > offset else { return Page(count: count, items: []) }
        let matches: SQLQueryString = "\(RepositorySearch.condition(words, flavor: flavor)) AND \(Self.visibility(privates))"
        // Exact names and official images first: a handful, found through their own indexes.
        let exact = "\(RepositoryName.officialNamespace)/\(exactName)"
        let first: SQLQueryString = """
            (substr(r.name, length(r.namespace) + 2) = \(bind: exactName) OR r.name = \(bind: exactName)
             OR r.namespace = \(bind: RepositoryName.officialNamespace))
            """
        let top = try await db.raw("""
            SELECT \(unsafeRaw: Self.repositoryColumns) FROM repositories r WHERE \(matches) AND \(first)
            ORDER BY CASE WHEN r.name = \(bind: exact) OR r.name = \(bind: exactName)
                            OR substr(r.name, length(r.namespace) + 2) = \(bind: exactName) THEN 0 ELSE 1 END,
                     CASE WHEN r.namespace = \(bind: RepositoryName.officialNamespace) THEN 0 ELSE 1 END,
                     r.star_count DESC, r.pull_count DESC, r.name
            LIMIT \(bind: offset + limit)
            """).all().compactMap(Self.decodeRepository)
        var items = Array(top.dropFirst(offset).prefix(limit))
        guard items.count < limit else { return Page(count: count, items: items) }
        // The rest by stars, pulls and name. Many matches: walk the ranking index until the page is
        // full; few: read them all and sort (walking would visit every repository).
        let order: SQLQueryString = count > 2000 && flavor == .sqlite
            ? "r.star_count DESC, r.pull_count DESC, r.name"
            : "r.star_count + 0 DESC, r.pull_count DESC, r.name"
        let source: SQLQueryString = count > 2000 && flavor == .sqlite ? "repositories r INDEXED BY repositories_by_rank" : "repositories r"
        let rest = try await db.raw("""
            SELECT \(unsafeRaw: Self.repositoryColumns) FROM \(source) WHERE \(matches) AND NOT \(first)
            ORDER BY \(order) LIMIT \(bind: limit - items.count) OFFSET \(bind: max(0, offset - top.count))
            """).all().compactMap(Self.decodeRepository)
        items += rest
        return Page(count: count, items: items)
    }

    public func popularRepositories(limit: Int) async throws -> [RepositoryInfo] {
        try await db.raw("""
            SELECT \(unsafeRaw: Self.repositoryColumns) FROM repositories r WHERE r.is_private = FALSE
            ORDER BY r.star_count DESC, r.pull_count DESC, r.updated_at DESC, r.name LIMIT \(bind: limit)
            """).all().compactMap(Self.decodeRepository)
    }

    public func privateMatches(words: [String]) async throws -> [RepositoryName] {
        guard !words.isEmpty else { return [] }
        return try await db.raw("""
            SELECT r.name AS name FROM repositories r
            WHERE \(RepositorySearch.condition(words, flavor: access.flavor)) AND r.is_private = TRUE
            """).all().compactMap { RepositoryName(try $0.decode(column: "name", as: String.self)) }
    }

    private func repositoryPage(where condition: SQLQueryString, privates: PrivateVisibility, orderBy: SQLQueryString,
                                offset: Int, limit: Int) async throws -> Page<RepositoryInfo> {
        let filter: SQLQueryString = "\(condition) AND \(Self.visibility(privates))"
        let count = try await db.raw("SELECT COUNT(*) AS n FROM repositories r WHERE \(filter)")
            .first()?.decode(column: "n", as: Int.self) ?? 0
        guard count > offset else { return Page(count: count, items: []) }
        let rows = try await db.raw("""
            SELECT \(unsafeRaw: Self.repositoryColumns) FROM repositories r WHERE \(filter)
            ORDER BY \(orderBy) LIMIT \(bind: limit) OFFSET \(bind: offset)
            """).all()
        return Page(count: count, items: try rows.compactMap(Self.decodeRepository))
    }

    private static func visibility(_ privates: PrivateVisibility) -> SQLQueryString {
        switch privates {
        case .all: "TRUE"
        case .none: "r.is_private = FALSE"
        case .only(let names) where names.isEmpty: "r.is_private = FALSE"
        case .only(let names): "(r.is_private = FALSE OR r.name IN (\(binds: names.map(\.value))))"
        }
    }

    private static func orderClause(_ ordering: RepositoryOrdering) -> SQLQueryString {
        switch ordering {
        case .name: "r.name"
        case .nameDescending: "r.name DESC"
        case .lastUpdated: "r.updated_at, r.name"
        case .lastUpdatedDescending: "r.updated_at DESC, r.name"
        case .pullCount: "r.pull_count, r.name"
        case .pullCountDescending: "r.pull_count DESC, r.name"
        case .starCount: "r.star_count, r.name"
        case .starCountDescending: "r.star_count DESC, r.name"
        }
    }

    // MARK: Stars

    public func star(_ repository: RepositoryName, by account: String) async throws -> Int64? {
        let now = clock.now.timeIntervalSince1970
        return try await changeStar(repository) { db in
            let inserted = try await db.raw("""
                INSERT INTO stars (repository, account, created_at) VALUES (\(bind: repository.value), \(bind: account), \(bind: now))
                ON CONFLICT (repository, account) DO NOTHING RETURNING account
                """).first() != nil
            return inserted ? 1 : 0
        }
    }

    public func unstar(_ repository: RepositoryName, by account: String) async throws -> Int64? {
        try await changeStar(repository) { db in
            let deleted = try await db.raw("""
                DELETE FROM stars WHERE repository = \(bind: repository.value) AND account = \(bind: account) RETURNING account
                """).first() != nil
            return deleted ? -1 : 0
        }
    }

    /// Applies a star change and the count it makes, in one transaction; nil when the repository is unknown.
    private func changeStar(_ repository: RepositoryName, _ change: @escaping @Sendable (any SQLDatabase) async throws -> Int) async throws -> Int64? {
        try await access.transaction { db in
            guard try await db.raw("SELECT 1 AS ok FROM repositories WHERE name = \(bind: repository.value)").first() != nil else { return nil }
            let delta = try await change(db)
            if delta != 0 {
                try await db.raw("UPDATE repositories SET star_count = star_count + \(bind: delta) WHERE name = \(bind: repository.value)").run()
            }
            return try await db.raw("SELECT star_count FROM repositories WHERE name = \(bind: repository.value)")
                .first()?.decode(column: "star_count", as: Int64.self)
        }
    }

    public func hasStarred(_ repository: RepositoryName, by account: String) async throws -> Bool {
        try await db.raw("SELECT 1 AS ok FROM stars WHERE repository = \(bind: repository.value) AND account = \(bind: account)").first() != nil
    }

    public func starredRepositories(of account: String) async throws -> [RepositoryInfo] {
        try await db.raw("""
            SELECT \(unsafeRaw: Self.repositoryColumns) FROM stars s JOIN repositories r ON r.name = s.repository
            WHERE s.account = \(bind: account) ORDER BY s.created_at DESC, r.name
            """).all().compactMap(Self.decodeRepository)
    }

    // MARK: Pulls

    public func recordPulls(_ tallies: [PullTally]) async throws {
        guard !tallies.isEmpty else { return }
        var perRepository: [RepositoryName: Int64] = [:]
        for tally in tallies { perRepository[tally.repository, default: 0] += tally.count }
        let counts = perRepository.sorted(by: { $0.key < $1.key })
        try await access.transaction(.statistics) { db in
            for (repository, count) in counts {
                try await db.raw("UPDATE repositories SET pull_count = pull_count + \(bind: count) WHERE name = \(bind: repository.value)").run()
            }
            for tally in tallies {
                let time = tally.lastPulledAt.timeIntervalSince1970
                let repository = tally.repository.value
                switch tally.reference {
                case .tag(let tag):
                    try await db.raw("""
                        UPDATE tags SET pulled_at = \(bind: time) WHERE repository = \(bind: repository) AND name = \(bind: tag.value)
                        """).run()
                    try await db.raw("""
                        UPDATE manifests SET pulled_at = \(bind: time) WHERE repository = \(bind: repository)
                        AND digest = (SELECT manifest FROM tags WHERE repository = \(bind: repository) AND name = \(bind: tag.value))
                        """).run()
                case .digest(let digest):
                    try await db.raw("""
                        UPDATE manifests SET pulled_at = \(bind: time) WHERE repository = \(bind: repository) AND digest = \(bind: digest.description)
                        """).run()
                    try await db.raw("""
                        UPDATE tags SET pulled_at = \(bind: time) WHERE repository = \(bind: repository) AND manifest = \(bind: digest.description)
                        """).run()
                }
            }
        }
    }

    // MARK: Tags

    private static let tagColumns = """
        t.name AS tag, t.updated_at AS pushed_at, t.pushed_by AS pushed_by, t.pulled_at AS tag_pulled_at,
        m.digest AS digest, m.media_type AS media_type, m.artifact_type AS artifact_type, m.subject AS subject,
        m.annotations AS annotations, m.content AS content, m.created_at AS created_at, m.pulled_at AS manifest_pulled_at
        """

    public func tagPage(in repository: RepositoryName, nameContains: String?, ordering: TagOrdering,
                        offset: Int, limit: Int) async throws -> Page<TagRecord> {
        var filter: SQLQueryString = "t.repository = \(bind: repository.value)"
        if let fragment = nameContains, !fragment.isEmpty {
            // Tags hold no LIKE wildcards but `_`, which is escaped.
            let pattern = "%" + fragment.lowercased().replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            filter = "\(filter) AND LOWER(t.name) LIKE \(bind: pattern) ESCAPE '\\'"
        }
        let count = try await db.raw("SELECT COUNT(*) AS n FROM tags t WHERE \(filter)").first()?.decode(column: "n", as: Int.self) ?? 0
        guard count > offset else { return Page(count: count, items: []) }
        let order: SQLQueryString = switch ordering {
        case .newest: "t.updated_at DESC, t.name"
        case .oldest: "t.updated_at, t.name"
        case .name: "t.name"
        case .nameDescending: "t.name DESC"
        }
        let rows = try await db.raw("""
            SELECT \(unsafeRaw: Self.tagColumns) FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.manifest
            WHERE \(filter) ORDER BY \(order) LIMIT \(bind: limit) OFFSET \(bind: offset)
            """).all()
        return Page(count: count, items: try rows.map(Self.decodeTag))
    }

    public func tagRecord(_ tag: Tag, in repository: RepositoryName) async throws -> TagRecord? {
        try await db.raw("""
            SELECT \(unsafeRaw: Self.tagColumns) FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.manifest
            WHERE t.repository = \(bind: repository.value) AND t.name = \(bind: tag.value)
            """).first().map(Self.decodeTag)
    }

    private static func decodeTag(_ row: any SQLRow) throws -> TagRecord {
        TagRecord(
            name: try row.decode(column: "tag", as: String.self),
            manifest: try decodeManifest(row),
            pushedAt: Date(timeIntervalSince1970: try row.decode(column: "pushed_at", as: Double.self)),
            pushedBy: try row.decode(column: "pushed_by", as: String?.self),
            pulledAt: try row.decode(column: "tag_pulled_at", as: Double?.self).map(Date.init(timeIntervalSince1970:)),
            manifestPulledAt: try row.decode(column: "manifest_pulled_at", as: Double?.self).map(Date.init(timeIntervalSince1970:))
        )
    }

    public func taggedMediaTypes(of repositories: [RepositoryName]) async throws -> [RepositoryName: Set<String>] {
        guard !repositories.isEmpty else { return [:] }
        let rows = try await db.raw("""
            SELECT DISTINCT t.repository AS repository, m.media_type AS media_type
            FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.manifest
            WHERE t.repository IN (\(binds: repositories.map(\.value)))
            """).all()
        var types: [RepositoryName: Set<String>] = [:]
        for row in rows {
            guard let name = RepositoryName(try row.decode(column: "repository", as: String.self)) else { continue }
            types[name, default: []].insert(try row.decode(column: "media_type", as: String.self))
        }
        return types
    }

    public func manifestRecords(_ digests: [Digest], in repository: RepositoryName) async throws -> [Digest: ManifestRecord] {
        guard !digests.isEmpty else { return [:] }
        let rows = try await db.raw("""
            SELECT digest, media_type, artifact_type, subject, annotations, content, created_at, pulled_at FROM manifests
            WHERE repository = \(bind: repository.value) AND digest IN (\(binds: digests.map(\.description)))
            """).all()
        var records: [Digest: ManifestRecord] = [:]
        for row in rows {
            let manifest = try Self.decodeManifest(row)
            let pulledAt = try row.decode(column: "pulled_at", as: Double?.self).map(Date.init(timeIntervalSince1970:))
            records[manifest.digest] = ManifestRecord(manifest: manifest, pulledAt: pulledAt)
        }
        return records
    }

    // MARK: Image configs

    public func imageConfigs(_ digests: [Digest]) async throws -> [Digest: ImageConfigSummary] {
        guard !digests.isEmpty else { return [:] }
        let rows = try await db.raw("""
            SELECT digest, os, architecture, variant, history FROM image_configs WHERE digest IN (\(binds: digests.map(\.description)))
            """).all()
        var summaries: [Digest: ImageConfigSummary] = [:]
        for row in rows {
            guard let digest = Digest(try row.decode(column: "digest", as: String.self)) else { continue }
            let history = try JSONDecoder().decode([ImageConfigSummary.HistoryEntry].self,
                                                   from: Data(try row.decode(column: "history", as: String.self).utf8))
            summaries[digest] = ImageConfigSummary(os: try row.decode(column: "os", as: String?.self),
                                                   architecture: try row.decode(column: "architecture", as: String?.self),
                                                   variant: try row.decode(column: "variant", as: String?.self), history: history)
        }
        return summaries
    }

    public func saveImageConfig(_ summary: ImageConfigSummary, for digest: Digest) async throws {
        let history = String(decoding: try JSONEncoder().encode(summary.history), as: UTF8.self)
        try await access.transaction(.statistics) { db in
            try await db.raw("""
                INSERT INTO image_configs (digest, os, architecture, variant, history)
                VALUES (\(bind: digest.description), \(bind: summary.os), \(bind: summary.architecture), \(bind: summary.variant), \(bind: history))
                ON CONFLICT (digest) DO NOTHING
                """).run()
        }
    }
}
