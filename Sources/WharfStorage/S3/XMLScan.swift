import Crypto
import Foundation
import NIOCore

/// Reads the few values S3's XML answers carry (listings, upload ids, errors) without an XML
/// parser: S3 documents are flat and their element names fixed.
enum XMLScan {
    /// The contents of every `<name>…</name>` in `xml`.
    static func elements(_ name: String, in xml: String) -> [Substring] {
        var found: [Substring] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(name)>"), let close = rest.range(of: "</\(name)>", range: open.upperBound..<rest.endIndex) {
            found.append(rest[open.upperBound..<close.lowerBound])
            rest = rest[close.upperBound...]
        }
        return found
    }

    /// The first `<name>` value, unescaped.
    static func value(_ name: String, in xml: some StringProtocol) -> String? {
        elements(name, in: String(xml)).first.map { unescape(String($0)) }
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&#34;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// ISO 8601 with or without fractional seconds.
    static func date(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text) ?? plain.date(from: text)
    }
}

/// SHA-256 of a buffer, for the few signed (non-streamed) request bodies.
enum SHA256Hash {
    static func of(_ buffer: ByteBuffer) -> SHA256.Digest {
        buffer.withUnsafeReadableBytes { SHA256.hash(data: $0) }
    }
}
