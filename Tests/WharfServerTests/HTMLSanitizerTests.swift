import Foundation
import Testing
@testable import WharfServer

/// READMEs keep their formatting and lose everything that could run or restyle the page.
@Suite("HTML sanitizer")
struct HTMLSanitizerTests {
    @Test("script, style and embedded content go with their content", arguments: [
        "<script>alert(1)</script>", "<SCRIPT src=//x></SCRIPT>", "<style>body{display:none}</style>",
        "<iframe src=https://x></iframe>", "<svg><script>alert(1)</script></svg>", "<object data=x></object>",
        "<template><img src=x onerror=alert(1)></template>", "<noscript><p>x</p></noscript>",
    ])
    func droppedWithContent(html: String) {
        let clean = HTMLSanitizer.sanitize("<p>before</p>\(html)<p>after</p>")
        #expect(clean == "<p>before</p><p>after</p>")
    }

    @Test("event handlers, style attributes and unsafe URLs are removed", arguments: [
        ("<img src=x onerror=alert(1)>", "<img src=\"x\">"),
        ("<a href=\"javascript:alert(1)\">x</a>", "<a rel=\"nofollow noopener noreferrer\">x</a>"),
        ("<a href=\"JaVaScRiPt:alert(1)\">x</a>", "<a rel=\"nofollow noopener noreferrer\">x</a>"),
        ("<a href=\"&#106;avascript:alert(1)\">x</a>", "<a rel=\"nofollow noopener noreferrer\">x</a>"),
        ("<a href=\" java\tscript:alert(1)\">x</a>", "<a rel=\"nofollow noopener noreferrer\">x</a>"),
        ("<img src=\"data:text/html,<script>\">", "<img>"),
        ("<p style=\"position:fixed\" class=\"x\" onclick=\"x()\">t</p>", "<p>t</p>"),
        ("<a href=\"https://example.com/a?b=1&amp;c=2\" title=\"t\">x</a>",
         "<a href=\"https://example.com/a?b=1&amp;c=2\" title=\"t\" rel=\"nofollow noopener noreferrer\">x</a>"),
        ("<a href=\"/r/alice/app#tags\">x</a>", "<a href=\"/r/alice/app#tags\" rel=\"nofollow noopener noreferrer\">x</a>"),
        ("<code class=\"language-swift\">let x</code>", "<code class=\"language-swift\">let x</code>"),
        ("<code class=\"evil\" >x</code>", "<code>x</code>"),
    ])
    func attributes(html: String, expected: String) {
        #expect(HTMLSanitizer.sanitize(html) == expected)
    }

    @Test("unknown tags disappear but keep their text; comments go; stray brackets are text; tags are balanced")
    func structure() {
        #expect(HTMLSanitizer.sanitize("<div><span>text</span></div>") == "text")
        #expect(HTMLSanitizer.sanitize("a <!-- <script>alert(1)</script> --> b") == "a  b")
        #expect(HTMLSanitizer.sanitize("1 < 2 > 0 & 3") == "1 &lt; 2 &gt; 0 &amp; 3")
        #expect(HTMLSanitizer.sanitize("<p><strong>open") == "<p><strong>open</strong></p>")
        #expect(HTMLSanitizer.sanitize("<p>a</strong></p>") == "<p>a</p>")
        #expect(HTMLSanitizer.sanitize("<img src=x <script>") == "<img src=\"x\">")
        #expect(HTMLSanitizer.sanitize("&lt;script&gt;") == "&lt;script&gt;")
    }

    @Test("Markdown after a badge written without the closing slash is still formatted")
    func badges() {
        let html = MarkdownRenderer().html("<img src=\"https://example.com/badge.svg\" alt=\"build\">\n\n# Usage\n\nRun **it**<br>now\n")
        #expect(html.contains("<img src=\"https://example.com/badge.svg\" alt=\"build\">"))
        #expect(html.contains("<h1>Usage</h1>") && html.contains("<strong>it</strong>"))
    }

    @Test("the tags table escapes every value it writes")
    func tagRows() {
        var out: [UInt8] = []
        HTMLText.escape("<a href=\"x\">'&'</a>", into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        let row = TagTableRows.Row(name: "v1", url: "/r/a/b/tags/v1", digest: "sha256:00", shortDigest: "sha256:00", platforms: ["linux/<x>"],
                                   bytes: 12, size: "12 B", pushed: nil, pusher: "<b>", pulled: nil, deleteURL: "/d")
        let html = TagTableRows.html([row], canDelete: true, formToken: "\"token")
        #expect(html.contains("linux/&lt;x&gt;") && html.contains("&lt;b&gt;") && html.contains("value=\"&quot;token\""))
        #expect(!html.contains("<b>") && html.contains("never"))
    }

    @Test("history lines read as Dockerfile instructions")
    func instructions() {
        #expect(TagPages.instruction("/bin/sh -c #(nop)  ENV A=1") == "ENV A=1")
        #expect(TagPages.instruction("/bin/sh -c make all") == "RUN make all")
        #expect(TagPages.instruction("COPY app /app # buildkit") == "COPY app /app # buildkit")
        #expect(TagPages.instruction("") == "(no history)")
    }

    @Test("Markdown renders, and raw HTML inside it is sanitized")
    func markdown() {
        let html = MarkdownRenderer().html("# Hi\n\n- one\n- **two**\n\n```swift\nlet x = 1 < 2\n```\n\n<script>alert(1)</script>\n")
        #expect(html.contains("<h1>Hi</h1>") && html.contains("<li><strong>two</strong></li>"))
        #expect(html.contains("let x = 1 &lt; 2"))
        #expect(!html.contains("script"))
    }
}

/// Every template file is compiled in and parses.
@Suite("Website templates")
struct WebTemplateTests {
    @Test("every file in Website/Templates is listed and parses")
    func allTemplates() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/WharfServer/Website/Templates")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".mustache") }
            .map { String($0.dropLast(".mustache".count)) }
        #expect(Set(files) == Set(WebTemplates.all.map(\.name)))
        _ = PageRenderer(assets: StaticAssets())
    }
}
