/// A pattern over tag names: `*` matches any run of characters, `?` one character, everything
/// else itself (`v*`, `release-?.?`, `*` for every tag). Used by immutable tag rules and
/// retention policies.
public struct TagPattern: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    private let characters: [Character]

    /// Nil unless `text` is 1 to 128 characters a tag may contain, plus `*` and `?`.
    public init?(_ text: String) {
        guard (1...128).contains(text.count),
              text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-*?".contains($0)) }) else { return nil }
        description = text
        characters = Array(text)
    }

    /// Whether `tag` matches the whole pattern.
    public func matches(_ tag: String) -> Bool {
        let name = Array(tag)
        // Greedy matching with backtracking to the last `*`: linear in practice, never exponential.
        var (p, t) = (0, 0)
        var star: (pattern: Int, tag: Int)?
        while t < name.count {
            if p < characters.count, characters[p] == "?" || characters[p] == name[t] {
                p += 1
                t += 1
            } else if p < characters.count, characters[p] == "*" {
                star = (p, t)
                p += 1
            } else if let last = star {
                p = last.pattern + 1
                t = last.tag + 1
                star = (last.pattern, last.tag + 1)
            } else {
                return false
            }
        }
        while p < characters.count, characters[p] == "*" { p += 1 }
        return p == characters.count
    }
}
