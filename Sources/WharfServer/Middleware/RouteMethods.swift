import Hummingbird
import Synchronization

/// Which methods each route path answers, so that a known path with the wrong method gets 405
/// with `Allow` rather than the 404 of a path that does not exist.
final class RouteMethods: Sendable {
    private struct Pattern {
        let segments: [Substring]
        var methods: Set<String>
    }

    private let patterns = Mutex<[Pattern]>([])

    /// Reads the router's routes (call once they are all registered).
    func load(_ routes: [(path: String, method: String)]) {
        var byPath: [String: Pattern] = [:]
        for route in routes {
            byPath[route.path, default: Pattern(segments: Self.segments(route.path), methods: [])].methods.insert(route.method)
        }
        patterns.withLock { $0 = Array(byPath.values) }
    }

    /// The methods the path answers, sorted; empty when no route has this path.
    func allowed(for path: String) -> [String] {
        let parts = Self.segments(path)
        return patterns.withLock { patterns in
            patterns.filter { Self.matches($0.segments, parts) }.flatMap(\.methods)
        }.sorted()
    }

    private static func segments(_ path: some StringProtocol) -> [Substring] {
        Substring(path).split(separator: "/")
    }

    private static func matches(_ pattern: [Substring], _ parts: [Substring]) -> Bool {
        if pattern.last == "**" { return parts.count >= pattern.count - 1 && zip(pattern.dropLast(), parts).allSatisfy(segmentMatches) }
        return pattern.count == parts.count && zip(pattern, parts).allSatisfy(segmentMatches)
    }

    private static func segmentMatches(_ pattern: Substring, _ part: Substring) -> Bool {
        pattern == part || pattern.hasPrefix(":") || pattern.hasPrefix("{") || pattern == "*"
    }
}
