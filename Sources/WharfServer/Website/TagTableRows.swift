import Foundation
import WharfHub

/// The rows of the tags table, written in Swift rather than by the template engine: a page of 100
/// tags is thousands of values, which Mustache looks up one dynamic cast at a time (most of a
/// page's time); here each is escaped once, over its UTF-8 bytes.
struct TagTableRows {
    /// One row's values.
    struct Row {
        let name: String
        let url: String
        let digest: String
        let shortDigest: String
        let platforms: [String]
        let bytes: Int64
        let size: String
        let pushed: (text: String, iso: String)?
        let pusher: String?
        let pulled: (text: String, iso: String)?
        let deleteURL: String
    }

    /// The `<tr>`s; `formToken` and a delete button when the viewer may delete tags.
    static func html(_ rows: [Row], canDelete: Bool, formToken: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(rows.count * 900)
        func raw(_ text: String) { out += text.utf8 }
        func text(_ value: String) { HTMLText.escape(value, into: &out) }
        func time(_ value: (text: String, iso: String)?, otherwise: String) {
            guard let value else { return raw(otherwise) }
            raw("<time datetime=\""); text(value.iso); raw("\">"); text(value.text); raw("</time>")
        }
        for row in rows {
            raw("<tr data-tag=\""); text(row.name); raw("\">\n")
            raw("    <td><a href=\""); text(row.url); raw("\">"); text(row.name); raw("</a></td>\n")
            raw("    <td><code title=\""); text(row.digest); raw("\" class=\"digest\" data-digest=\""); text(row.digest); raw("\">")
            text(row.shortDigest); raw("</code></td>\n    <td>")
            for platform in row.platforms { raw("<span class=\"platform\">"); text(platform); raw("</span> ") }
            raw("</td>\n    <td title=\"\(row.bytes) bytes\" class=\"size\" data-bytes=\"\(row.bytes)\">"); text(row.size); raw("</td>\n    <td>")
            time(row.pushed, otherwise: "")
            if let pusher = row.pusher { raw(" by <a href=\"/u/"); text(pusher); raw("\">"); text(pusher); raw("</a>") }
            raw("</td>\n    <td>")
            time(row.pulled, otherwise: "never")
            raw("</td>\n")
            if canDelete {
                raw("    <td><form method=\"post\" action=\""); text(row.deleteURL); raw("\" data-confirm=\"Delete the tag "); text(row.name)
                raw("?\">\n      <input type=\"hidden\" name=\"csrf\" value=\""); text(formToken)
                raw("\"><button type=\"submit\" class=\"danger small\">Delete</button></form></td>\n")
            }
            raw("  </tr>\n")
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// HTML escaping over UTF-8 bytes (`&`, `<`, `>`, `"`, `'`), for text and attribute values.
enum HTMLText {
    static func escape(_ value: String, into out: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "&"): out += "&amp;".utf8
            case UInt8(ascii: "<"): out += "&lt;".utf8
            case UInt8(ascii: ">"): out += "&gt;".utf8
            case UInt8(ascii: "\""): out += "&quot;".utf8
            case UInt8(ascii: "'"): out += "&#39;".utf8
            default: out.append(byte)
            }
        }
    }
}
