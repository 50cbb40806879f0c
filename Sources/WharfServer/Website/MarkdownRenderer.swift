import Ink

/// READMEs: Markdown rendered by Ink, then passed through `HTMLSanitizer`, so that what a
/// repository's owner writes can format text but never run script in a visitor's browser.
struct MarkdownRenderer: Sendable {
    func html(_ markdown: String) -> String {
        HTMLSanitizer.sanitize(MarkdownParser().html(from: markdown))
    }
}
