import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The few S3 operations the storage driver needs, signed with Signature Version 4.
/// Bodies are streamed both ways; only listings and multipart bookkeeping are read whole.
struct S3Client: Sendable {
    let location: S3Location
    let http: HTTPClient
    let signer: AWSSigner
    let timeout: TimeAmount = .seconds(300)
    /// A GET whose response makes no progress between two of these checks is ended.
    let stallCheck: TimeAmount

    init(location: S3Location, http: HTTPClient = S3Client.sharedHTTP, stallCheck: TimeAmount = .seconds(30)) {
        self.location = location
        self.stallCheck = stallCheck
        self.http = http
        signer = AWSSigner(accessKey: location.accessKey, secretKey: location.secretKey, region: location.region)
    }

    /// The process's client for object stores. Its connections read the socket in pieces of up to
    /// 1 MiB (64 KiB is the default: each read is a system call and a trip through the client's
    /// pipeline, which at S3 speeds cost a third of a pull's CPU). No per-read idle timer (re-armed on
    /// every read; `get` watches for stalled bodies itself), no response decompression (objects are
    /// stored as sent), no redirects (S3 answers, never redirects).
    static let sharedHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            certificateVerification: .fullVerification, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(30)), maximumAllowedIdleTimeInConnectionPool: .seconds(60), decompression: .disabled)
        configuration.http1_1ConnectionDebugInitializer = { channel in
            channel.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64 << 10, initial: 256 << 10, maximum: 1 << 20))
        }
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    private var endpoint: URL { URL(string: location.endpoint)! }

    /// Host header and path for an object key ("" for the bucket).
    private func address(_ key: String) -> (host: String, path: String, base: String) {
        let port = endpoint.port.map { ":\($0)" } ?? ""
        let scheme = endpoint.scheme ?? "https"
        if location.pathStyle {
            return ("\(endpoint.host!)\(port)", "/\(location.bucket)" + (key.isEmpty ? "" : "/\(key)"), "\(scheme)://\(endpoint.host!)\(port)")
        }
        return ("\(location.bucket).\(endpoint.host!)\(port)", "/\(key)", "\(scheme)://\(location.bucket).\(endpoint.host!)\(port)")
    }

    /// The URL and headers (the signature's included) of a request.
    private func signed(_ method: HTTPMethod, key: String, query: [(String, String)], headers extra: [(String, String)],
                        payloadHash: String) -> (url: String, headers: HTTPHeaders) {
        let (host, path, base) = address(key)
        let request = AWSSigner.Request(method: method.rawValue, host: host, path: path, query: query, headers: extra)
        var headers = HTTPHeaders()
        for (name, value) in extra { headers.add(name: name, value: value) }
        for (name, value) in signer.sign(request, payloadHash: payloadHash, date: Date()) { headers.add(name: name, value: value) }
        return (base + AWSSigner.encodePath(path) + (query.isEmpty ? "" : "?" + AWSSigner.canonicalQuery(query)), headers)
    }

    /// Sends a signed request; throws on any status outside `accepted`.
    func send(_ method: HTTPMethod, key: String, query: [(String, String)] = [], headers extra: [(String, String)] = [],
              body: HTTPClientRequest.Body? = nil, payloadHash: String? = nil, accepted: Set<Int> = [200, 204, 206],
              operation: String) async throws -> HTTPClientResponse {
        let hash = payloadHash ?? (body == nil ? AWSSigner.emptyPayload : AWSSigner.unsignedPayload)
        let (url, headers) = signed(method, key: key, query: query, headers: extra, payloadHash: hash)
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers = headers
        request.body = body
        let response = try await http.execute(request, timeout: timeout)
        guard accepted.contains(Int(response.status.code)) else {
            let text = String(buffer: (try? await response.body.collect(upTo: 64 * 1024)) ?? ByteBuffer())
            throw S3Error.status(Int(response.status.code), operation, text)
        }
        return response
    }

    /// The object's size, nil when there is none.
    func head(_ key: String) async throws -> Int64? {
        let response = try await send(.HEAD, key: key, accepted: [200, 404], operation: "HEAD")
        guard response.status == .ok else { return nil }
        return response.headers.first(name: "content-length").flatMap { Int64($0) }
    }

    /// Streams `range` (all when nil) of the object to `consume`, in the buffers the client read,
    /// handed over in batches (see ``S3BodyReader``). A response that makes no progress for
    /// `stallCheck` (twice, at most) while it is wanted is ended.
    func get(_ key: String, range: Range<Int64>?, into consume: (ByteBuffer) async throws -> Void) async throws {
        var extra: [(String, String)] = []
        if let range {
            guard !range.isEmpty else { return }
            extra.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
        }
        let (url, headers) = signed(.GET, key: key, query: [], headers: extra, payloadHash: AWSSigner.emptyPayload)
        let reader = S3BodyReader(accepted: [200, 206], operation: "GET")
        let task = http.execute(request: try HTTPClient.Request(url: url, method: .GET, headers: headers), delegate: reader,
                                eventLoop: .indifferent, deadline: nil, logger: nil)
        let stallCheck = self.stallCheck
        let watchdog = task.eventLoop.scheduleRepeatedTask(initialDelay: stallCheck, delay: stallCheck) { _ in
            guard reader.stalled() else { return }
            reader.failed(S3Error.status(0, "GET", "no progress in \(stallCheck.nanoseconds / 1_000_000_000) s"))
            task.cancel()
        }
        defer { watchdog.cancel() }
        do {
            while let batch = try await reader.next() {
                for buffer in batch { try await consume(buffer) }
            }
            try await task.futureResult.get()
        } catch {
            task.cancel()
            _ = try? await task.futureResult.get()
            throw error
        }
    }

    func put(_ key: String, _ bytes: ByteBuffer) async throws {
        _ = try await send(.PUT, key: key, headers: [("Content-Length", String(bytes.readableBytes))],
                           body: .bytes(bytes), operation: "PUT")
    }

    func delete(_ key: String) async throws {
        _ = try await send(.DELETE, key: key, accepted: [200, 204, 404], operation: "DELETE")
    }

    /// Copies an object within the bucket on the server (no bytes through Wharf; up to 5 GiB).
    func copy(from source: String, to target: String) async throws {
        _ = try await serverCopy(from: source, to: target, operation: "CopyObject")
    }

    /// A PUT that copies `source` on the server (CopyObject, or UploadPartCopy with `query`);
    /// returns the answer's document. S3 may answer 200 with an error document when a copy fails late.
    private func serverCopy(from source: String, to target: String, query: [(String, String)] = [],
                            operation: String) async throws -> String {
        let response = try await send(.PUT, key: target, query: query,
                                      headers: [("x-amz-copy-source", "/\(location.bucket)/\(AWSSigner.encodePath(source))")],
                                      operation: operation)
        let text = String(buffer: try await response.body.collect(upTo: 64 * 1024))
        if text.contains("<Error>") { throw S3Error.status(200, operation, text) }
        return text
    }

    /// Objects under `prefix`, page by page.
    func list(prefix: String) async throws -> [StoredObject] {
        var objects: [StoredObject] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await send(.GET, key: "", query: query, operation: "ListObjectsV2")
            let xml = String(buffer: try await response.body.collect(upTo: 16 * 1024 * 1024))
            for entry in XMLScan.elements("Contents", in: xml) {
                guard let key = XMLScan.value("Key", in: entry), let size = XMLScan.value("Size", in: entry).flatMap({ Int64($0) }) else { continue }
                let modified = XMLScan.value("LastModified", in: entry).flatMap(XMLScan.date) ?? Date(timeIntervalSince1970: 0)
                objects.append(StoredObject(key: key, size: size, modified: modified))
            }
            token = XMLScan.value("IsTruncated", in: xml) == "true" ? XMLScan.value("NextContinuationToken", in: xml) : nil
        } while token != nil
        return objects
    }

    // MARK: Multipart uploads

    func createMultipart(_ key: String) async throws -> String {
        let response = try await send(.POST, key: key, query: [("uploads", "")], operation: "CreateMultipartUpload")
        let xml = String(buffer: try await response.body.collect(upTo: 1024 * 1024))
        guard let id = XMLScan.value("UploadId", in: xml) else { throw S3Error.status(200, "CreateMultipartUpload", xml) }
        return id
    }

    func uploadPart(_ key: String, uploadID: String, number: Int, _ bytes: ByteBuffer) async throws -> String {
        let response = try await send(.PUT, key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                      headers: [("Content-Length", String(bytes.readableBytes))], body: .bytes(bytes), operation: "UploadPart")
        guard let etag = response.headers.first(name: "etag") else { throw S3Error.status(200, "UploadPart", "no ETag") }
        return etag
    }

    /// Copies the whole object `source` into piece `number` of a multipart upload, on the server
    /// (UploadPartCopy: no bytes through Wharf).
    func uploadPartCopy(_ key: String, uploadID: String, number: Int, from source: String) async throws -> String {
        let text = try await serverCopy(from: source, to: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                        operation: "UploadPartCopy")
        guard let etag = XMLScan.value("ETag", in: text) else { throw S3Error.status(200, "UploadPartCopy", text) }
        return etag
    }

    func completeMultipart(_ key: String, uploadID: String, etags: [String]) async throws {
        let parts = etags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\(XMLScan.escape($0.element))</ETag></Part>" }
        let xml = ByteBuffer(string: "<CompleteMultipartUpload>\(parts.joined())</CompleteMultipartUpload>")
        let hash = AWSSigner.hex(SHA256Hash.of(xml))
        let response = try await send(.POST, key: key, query: [("uploadId", uploadID)], headers: [("Content-Length", String(xml.readableBytes))],
                                      body: .bytes(xml), payloadHash: hash, operation: "CompleteMultipartUpload")
        let text = String(buffer: try await response.body.collect(upTo: 1024 * 1024))
        if text.contains("<Error>") { throw S3Error.status(200, "CompleteMultipartUpload", text) }
    }

    func abortMultipart(_ key: String, uploadID: String) async throws {
        _ = try await send(.DELETE, key: key, query: [("uploadId", uploadID)], accepted: [200, 204, 404], operation: "AbortMultipartUpload")
    }

    /// A presigned GET URL for the object, valid `expires` seconds.
    func presignedGet(_ key: String, expires: Int) -> String {
        let (host, path, base) = address(key)
        let query = signer.presignedQuery(AWSSigner.Request(method: "GET", host: host, path: path), expires: expires, date: Date())
        return base + AWSSigner.encodePath(path) + "?" + query
    }
}
