import WharfAuth
import WharfCore
import WharfMetadata

/// Listings, search and stars: what a caller may see of many repositories at once. Private
/// repositories are shown exactly when `AccessPolicy` lets the caller read them.
extension RepositoryService {
    /// A repository as its page shows it to the caller.
    public struct Detail: Sendable {
        public let listed: Listed
        public let hasStarred: Bool
        public let collaboratorCount: Int
        /// Media types of the manifests its tags point at.
        public let mediaTypes: Set<String>
    }

    public func detail(_ name: RepositoryName, by principal: Principal?) async throws -> Detail {
        let listed = try await show(name, by: principal)
        let starred = if let principal { try await stores.catalog.hasStarred(name, by: principal.name) } else { false }
        return Detail(listed: listed, hasStarred: starred,
                      collaboratorCount: try await stores.accounts.collaborators(of: name).count,
                      mediaTypes: try await stores.catalog.taggedMediaTypes(of: [name])[name] ?? [])
    }

    /// A page of the namespace's repositories the caller may read; "not found" for a namespace
    /// that has no account and nothing the caller may see.
    public func page(namespace: String, ordering: RepositoryOrdering, offset: Int, limit: Int,
                     by principal: Principal?) async throws -> Page<RepositoryInfo> {
        guard AccountName.isWellFormed(namespace) || namespace == RepositoryName.officialNamespace else {
            throw HubError.notFound("namespace")
        }
        let privates = try await visibility(of: principal) {
            try await stores.accounts.privateAccessFacts(for: principal?.name, in: namespace)
        }
        let page = try await stores.catalog.repositoryPage(namespace: namespace, privates: privates, ordering: ordering,
                                                           offset: offset, limit: limit)
        if page.count == 0, try await stores.accounts.account(namespace) == nil { throw HubError.notFound("namespace") }
        return page
    }

    /// Repositories matching `query` that the caller may read: exact name matches first, then
    /// official images, then by stars and pulls.
    public func search(_ query: String, offset: Int, limit: Int, by principal: Principal?) async throws -> Page<RepositoryInfo> {
        let words = Array(RepositorySearch.words(query).prefix(8))
        let exact = query.lowercased().trimmingCharacters(in: .whitespaces)
        let privates = try await visibility(of: principal) {
            try await stores.accounts.accessFacts(for: principal?.name, on: try await stores.catalog.privateMatches(words: words))
        }
        return try await stores.catalog.searchRepositories(words: words, exactName: exact, privates: privates,
                                                           offset: offset, limit: limit)
    }

    /// Which private repositories among `candidates` the caller may read.
    private func visibility(of principal: Principal?,
                            candidates: () async throws -> [(RepositoryName, AccessFacts)]) async throws -> PrivateVisibility {
        guard principal != nil else { return .none }
        let readable = try await candidates().filter { name, facts in
            AccessPolicy.allows(principal, .pull, on: name, facts: facts)
        }
        return .only(readable.map(\.0))
    }

    /// Stars the repository for the caller (idempotent); the new star count.
    public func star(_ name: RepositoryName, by principal: Principal?) async throws -> Int64 {
        guard let principal else { throw HubError.unauthenticated }
        try await access.require(principal, .pull, on: name)
        guard let count = try await stores.catalog.star(name, by: principal.name) else { throw HubError.notFound("repository") }
        return count
    }

    /// Removes the caller's star (idempotent); the new star count.
    public func unstar(_ name: RepositoryName, by principal: Principal?) async throws -> Int64 {
        guard let principal else { throw HubError.unauthenticated }
        try await access.require(principal, .pull, on: name)
        guard let count = try await stores.catalog.unstar(name, by: principal.name) else { throw HubError.notFound("repository") }
        return count
    }

    /// The repositories `user` starred that the caller may read, most recent first.
    public func starred(by user: String, as principal: Principal?) async throws -> [RepositoryInfo] {
        guard AccountName.isWellFormed(user), let account = try await stores.accounts.account(user), account.kind == .user else {
            throw HubError.notFound("user")
        }
        let starred = try await stores.catalog.starredRepositories(of: user)
        let facts = Dictionary(try await stores.accounts.accessFacts(for: principal?.name, on: starred.map(\.name)),
                               uniquingKeysWith: { first, _ in first })
        return starred.filter { info in
            facts[info.name].map { AccessPolicy.allows(principal, .pull, on: info.name, facts: $0) } ?? false
        }
    }

    /// What the front page shows: official images and popular public repositories.
    public func explore(limit: Int) async throws -> (official: [RepositoryInfo], popular: [RepositoryInfo]) {
        let official = try await stores.catalog.repositoryPage(namespace: RepositoryName.officialNamespace, privates: .none,
                                                               ordering: .pullCountDescending, offset: 0, limit: limit).items
        let popular = try await stores.catalog.popularRepositories(limit: limit + official.count)
            .filter { $0.name.namespace != RepositoryName.officialNamespace }
        return (official, Array(popular.prefix(limit)))
    }

    /// A namespace's private repositories and how many its plan allows (nil for a namespace without an account).
    public func planUsage(of namespace: String) async throws -> (used: Int, limit: Int)? {
        guard let account = try await stores.accounts.account(namespace) else { return nil }
        return (try await stores.metadata.privateRepositoryCount(in: namespace),
                account.privateRepoLimit ?? settings.defaultPrivateRepoLimit)
    }

    /// The media types each repository's tags point at.
    public func mediaTypes(of names: [RepositoryName]) async throws -> [RepositoryName: Set<String>] {
        try await stores.catalog.taggedMediaTypes(of: names)
    }
}
