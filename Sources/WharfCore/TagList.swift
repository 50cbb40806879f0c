import Synchronization

/// A repository's tags in byte order, with its `tags/list` JSON document encoded once on demand.
///
/// Immutable once made, so one instance can be cached and shared by every request that lists
/// the same repository until a write changes its tags.
public final class TagList: Sendable {
    public let repository: RepositoryName
    /// Tag names, sorted by their UTF-8 bytes.
    public let names: [String]
    private let encoded = Mutex<[UInt8]?>(nil)

    public init(repository: RepositoryName, names: [String]) {
        self.repository = repository
        self.names = names
    }

    /// At most `limit` tags that sort strictly after `last` (from the first when `last` is nil).
    public func page(after last: String?, limit: Int) -> ArraySlice<String> {
        var low = 0, high = names.count
        if let last {
            let key = Array(last.utf8)
            while low < high {
                let mid = (low + high) / 2
                if names[mid].utf8.lexicographicallyPrecedes(key) || names[mid].utf8.elementsEqual(key) {
                    low = mid + 1
                } else {
                    high = mid
                }
            }
        }
        return names[low..<min(names.count, low + min(max(limit, 0), names.count))]
    }

    /// `{"name":…,"tags":[…]}` with every tag, encoded the first time it is asked for.
    public var document: [UInt8] {
        encoded.withLock { cached in
            if let cached { return cached }
            let bytes = Self.document(repository: repository, tags: names)
            cached = bytes
            return bytes
        }
    }

    /// `{"name":…,"tags":[…]}` listing `tags` of `repository`.
    public static func document(repository: RepositoryName, tags: some Collection<String>) -> [UInt8] {
        // Repository names and tags never need JSON escaping ([a-z0-9._/-] and [A-Za-z0-9._-]).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(repository.value.utf8.count + tags.reduce(0) { $0 + $1.utf8.count + 3 } + 24)
        bytes += #"{"name":""#.utf8
        bytes += repository.value.utf8
        bytes += #"","tags":["#.utf8
        for (index, tag) in tags.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            bytes += tag.utf8
            bytes.append(UInt8(ascii: "\""))
        }
        bytes += "]}".utf8
        return bytes
    }

    /// Approximate bytes held, for cache budgets.
    public var cost: Int { 64 + names.reduce(0) { $0 + 2 * $1.utf8.count + 20 } }
}
