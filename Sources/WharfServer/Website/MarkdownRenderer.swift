import Foundation
import Ink

/// READMEs: Markdown rendered by Ink, then passed through `HTMLSanitizer`, so that what a
/// repository's owner writes can format text but never run script in a visitor's browser.
struct MarkdownRenderer: Sendable {
    func html(_ markdown: String) -> String {
        HTMLSanitizer.sanitize(MarkdownParser().html(from: Self.closingVoidElements(markdown)))
    }

    /// Void elements written without the closing slash (`<img src=…>`, `<br>`: how README badges are
    /// written) become self-closing: Ink reads an element up to its end tag, and a void element has
    /// none, so everything after it would stay unformatted.
    static func closingVoidElements(_ markdown: String) -> String {
        guard markdown.contains("<") else { return markdown }
        let range = NSRange(markdown.startIndex..., in: markdown)
        return voidElement.stringByReplacingMatches(in: markdown, range: range, withTemplate: "<$1$2 />")
    }

    // NSRegularExpression is immutable and safe to use from any thread.
    private nonisolated(unsafe) static let voidElement = try! NSRegularExpression(
        pattern: #"<(img|br|hr|wbr|source|input|area|col|embed|track)\b([^<>]*?)\s*/?>"#, options: [.caseInsensitive])
}
