import Foundation
import WharfCore
import WharfMetadata

/// Which rules a pushed git ref matches and the image tag each gives it.
enum BuildRuleMatcher {
    /// The image tag `rule` gives the `sourceType` ref `name`; nil when the rule does not match it.
    /// `{sourceref}` is the ref's name and `{\1}`, `{\2}`… the groups of a `/regex/` source; what a
    /// tag may not hold becomes `-`.
    static func imageTag(for rule: BuildRule, sourceType: String, name: String) -> String? {
        guard rule.sourceType == sourceType else { return nil }
        var groups: [String] = []
        if let pattern = regex(rule.source) {
            let range = NSRange(name.startIndex..., in: name)
            guard let match = pattern.firstMatch(in: name, range: range), match.range == range else { return nil }
            groups = (0..<match.numberOfRanges).map { index in
                Range(match.range(at: index), in: name).map { String(name[$0]) } ?? ""
            }
        } else if rule.source != name {
            return nil
        }
        var tag = rule.tag.replacingOccurrences(of: "{sourceref}", with: name)
        for (index, group) in groups.enumerated().dropFirst() { tag = tag.replacingOccurrences(of: "{\\\(index)}", with: group) }
        return sanitized(tag)
    }

    /// The regular expression of a `/…/` source; nil for a plain name.
    static func regex(_ source: String) -> NSRegularExpression? {
        guard source.count >= 2, source.hasPrefix("/"), source.hasSuffix("/") else { return nil }
        let inner = String(source.dropFirst().dropLast())
        return try? NSRegularExpression(pattern: inner.isEmpty ? "(?:)" : inner)
    }

    /// `tag` with characters a tag may not hold replaced by `-`; nil when nothing valid is left.
    static func sanitized(_ tag: String) -> String? {
        var text = String(tag.map { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) ? $0 : "-" }.prefix(128))
        while text.hasPrefix(".") || text.hasPrefix("-") { text.removeFirst() }
        guard !text.isEmpty, Tag(text) != nil else { return nil }
        return text
    }
}
