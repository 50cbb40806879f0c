import Hummingbird
import WharfCore

/// The stylesheet and script, compiled into the binary and served under names that carry a hash
/// of their content (`/static/site-1a2b3c4d5e.css`), so browsers may keep them for a year: a new
/// version has a new name.
struct StaticAssets: Sendable {
    struct Asset: Sendable {
        let path: String
        let bytes: [UInt8]
        let contentType: String
    }

    let stylesheet: Asset
    let script: Asset

    init() {
        stylesheet = Self.asset(EmbeddedFiles.siteStylesheet, name: "site", extension: "css", contentType: "text/css; charset=utf-8")
        script = Self.asset(EmbeddedFiles.siteScript, name: "site", extension: "js", contentType: "text/javascript; charset=utf-8")
    }

    var stylesheetPath: String { stylesheet.path }
    var scriptPath: String { script.path }

    private static func asset(_ text: String, name: String, extension ext: String, contentType: String) -> Asset {
        let bytes = Array(text.utf8)
        let hash = Digest.of(bytes).encoded.prefix(12)
        return Asset(path: "/static/\(name)-\(hash).\(ext)", bytes: bytes, contentType: contentType)
    }

    func register(on router: Router<WharfRequestContext>) {
        for asset in [stylesheet, script] {
            router.get(RouterPath(asset.path)) { _, _ in
                var headers: HTTPFields = [.contentType: asset.contentType, .cacheControl: "public, max-age=31536000, immutable"]
                headers[.xContentTypeOptions] = "nosniff"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
            }
        }
    }
}
