/// Keeps only safe HTML from a rendered README: an allow-list of tags and, per tag, of
/// attributes; link and image URLs only `http`, `https`, `mailto` or relative. Everything else
/// goes: `script`, `style`, `iframe` and the like with their content, event handlers (`on…`),
/// `style` attributes, `javascript:` and `data:` URLs, comments. Text outside tags is escaped
/// again, so a stray `<` can never open a tag in the browser.
enum HTMLSanitizer {
    /// Tags kept, with the attributes each may carry.
    static let allowed: [String: Set<String>] = {
        var tags: [String: Set<String>] = [
            "a": ["href", "title"], "img": ["src", "alt", "title", "width", "height"], "ol": ["start"],
            "th": ["align"], "td": ["align"], "code": ["class"],
        ]
        for tag in ["p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "li", "blockquote", "pre", "em", "strong",
                    "b", "i", "del", "s", "sup", "sub", "kbd", "table", "thead", "tbody", "tr", "details", "summary", "dl", "dt", "dd"] {
            tags[tag] = []
        }
        return tags
    }()

    /// Tags dropped together with everything inside them.
    static let droppedWithContent: Set<String> = [
        "script", "style", "iframe", "object", "embed", "template", "noscript", "textarea", "title", "xmp", "noembed",
        "noframes", "frameset", "frame", "svg", "math", "select", "option", "applet", "plaintext",
    ]

    static let voidTags: Set<String> = ["br", "hr", "img"]

    static func sanitize(_ html: String) -> String {
        var output = ""
        output.reserveCapacity(html.utf8.count)
        var scanner = Scanner(html)
        var open: [String] = []
        while let token = scanner.next() {
            switch token {
            case .text(let text):
                output += escape(decodeEntities(text))
            case .tag(let name, let attributes, let closing, _):
                if droppedWithContent.contains(name) {
                    if !closing { scanner.skip(through: name) }
                    continue
                }
                guard let permitted = allowed[name] else { continue }
                if closing {
                    guard !voidTags.contains(name), let index = open.lastIndex(of: name) else { continue }
                    for tag in open[index...].reversed() { output += "</\(tag)>" }
                    open.removeSubrange(index...)
                    continue
                }
                output += "<\(name)"
                for (key, value) in attributes where permitted.contains(key) {
                    guard let kept = keep(key, value, on: name) else { continue }
                    output += " \(key)=\"\(escape(kept))\""
                }
                if name == "a" { output += " rel=\"nofollow noopener noreferrer\"" }
                output += ">"
                if !voidTags.contains(name) { open.append(name) }
            }
        }
        for tag in open.reversed() { output += "</\(tag)>" }
        return output
    }

    /// The attribute's value if it may stay.
    private static func keep(_ key: String, _ value: String, on tag: String) -> String? {
        switch key {
        case "href", "src":
            return isSafeURL(value) ? value : nil
        case "class":
            // Only a code block's language (`language-swift`), as Markdown renderers write it.
            return value.range(of: #"^language-[A-Za-z0-9_+#.-]{1,40}$"#, options: .regularExpression) != nil ? value : nil
        case "width", "height", "start":
            return value.allSatisfy(\.isNumber) && value.count <= 5 && !value.isEmpty ? value : nil
        case "align":
            return ["left", "right", "center"].contains(value) ? value : nil
        default:
            return value
        }
    }

    /// `http`, `https`, `mailto`, or a URL without a scheme (relative, or a fragment).
    static func isSafeURL(_ raw: String) -> Bool {
        let value = String(raw.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7F })
        guard let colon = value.firstIndex(of: ":") else { return true }
        let beforeColon = value[..<colon]
        if beforeColon.contains("/") || beforeColon.contains("?") || beforeColon.contains("#") { return true }
        return ["http", "https", "mailto"].contains(beforeColon.lowercased())
    }

    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "&": result += "&amp;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }

    /// Decodes the character references an HTML parser would (`&amp;`, `&#106;`, `&#x6A;`, a few names).
    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var result = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            result += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            if let semicolon = after.prefix(12).firstIndex(of: ";") {
                let name = after[..<semicolon]
                if let decoded = entity(name) {
                    result += decoded
                    rest = after[after.index(after: semicolon)...]
                    continue
                }
            }
            result += "&"
            rest = after
        }
        return result + rest
    }

    private static func entity(_ name: Substring) -> String? {
        switch name {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos", "#39": return "'"
        case "nbsp": return "\u{A0}"
        default:
            guard name.hasPrefix("#") else { return nil }
            let digits = name.dropFirst()
            let value = digits.first == "x" || digits.first == "X" ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
            return value.flatMap(Unicode.Scalar.init).map { String(Character($0)) }
        }
    }

    /// Splits HTML into text and tags (with lowercased names and decoded attribute values).
    struct Scanner {
        enum Token {
            case text(String)
            case tag(name: String, attributes: [(String, String)], closing: Bool, selfClosing: Bool)
        }

        private let characters: [Character]
        private var position = 0

        init(_ html: String) { characters = Array(html) }

        mutating func next() -> Token? {
            guard position < characters.count else { return nil }
            if characters[position] == "<" {
                if let tag = readTag() { return tag }
                if let comment = skipCommentOrDeclaration() { return comment }
                position += 1
                return .text("<")
            }
            let start = position
            while position < characters.count && characters[position] != "<" { position += 1 }
            return .text(String(characters[start..<position]))
        }

        /// Skips to just after `</name>` (or to the end).
        mutating func skip(through name: String) {
            while position < characters.count {
                if characters[position] == "<", position + 1 < characters.count, characters[position + 1] == "/" {
                    let saved = position
                    if case .tag(let found, _, true, _)? = readTag(), found == name { return }
                    position = saved + 1
                } else {
                    position += 1
                }
            }
        }

        /// `<!-- … -->`, `<!…>`, `<?…>`: dropped (as empty text).
        private mutating func skipCommentOrDeclaration() -> Token? {
            guard position + 1 < characters.count, characters[position + 1] == "!" || characters[position + 1] == "?" else { return nil }
            let isComment = position + 3 < characters.count && characters[position + 2] == "-" && characters[position + 3] == "-"
            position += 2
            while position < characters.count {
                if isComment {
                    if characters[position] == ">" && position >= 2 && characters[position - 1] == "-" && characters[position - 2] == "-" { break }
                } else if characters[position] == ">" {
                    break
                }
                position += 1
            }
            position = min(position + 1, characters.count)
            return .text("")
        }

        private mutating func readTag() -> Token? {
            var index = position + 1
            var closing = false
            if index < characters.count && characters[index] == "/" {
                closing = true
                index += 1
            }
            let nameStart = index
            while index < characters.count && (characters[index].isLetter || characters[index].isNumber) { index += 1 }
            guard index > nameStart, characters[nameStart].isLetter else { return nil }
            let name = String(characters[nameStart..<index]).lowercased()
            var attributes: [(String, String)] = []
            var selfClosing = false
            while index < characters.count {
                let c = characters[index]
                if c == ">" {
                    position = index + 1
                    return .tag(name: name, attributes: attributes, closing: closing, selfClosing: selfClosing)
                }
                if c == "/" { selfClosing = true; index += 1; continue }
                if c.isWhitespace { index += 1; continue }
                let keyStart = index
                while index < characters.count, !characters[index].isWhitespace, !"=>/".contains(characters[index]) { index += 1 }
                let key = String(characters[keyStart..<index]).lowercased()
                while index < characters.count && characters[index].isWhitespace { index += 1 }
                var value = ""
                if index < characters.count && characters[index] == "=" {
                    index += 1
                    while index < characters.count && characters[index].isWhitespace { index += 1 }
                    if index < characters.count, characters[index] == "\"" || characters[index] == "'" {
                        let quote = characters[index]
                        index += 1
                        let valueStart = index
                        while index < characters.count && characters[index] != quote { index += 1 }
                        value = String(characters[valueStart..<min(index, characters.count)])
                        index += 1
                    } else {
                        let valueStart = index
                        while index < characters.count, !characters[index].isWhitespace, characters[index] != ">" { index += 1 }
                        value = String(characters[valueStart..<index])
                    }
                }
                if !key.isEmpty { attributes.append((key, HTMLSanitizer.decodeEntities(value))) }
                if index == keyStart { index += 1 }
            }
            return nil  // an unterminated tag is text
        }
    }
}
