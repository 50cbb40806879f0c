import Foundation
import NIOCore
import NIOPosix
import WharfCore

/// A `BlobStore` in a local folder.
///
/// Layout under `root`:
/// - `blobs/<algorithm>/<first two hex>/<hex>` — committed blobs, immutable;
/// - `uploads/<id>` — staged upload bytes, moved into `blobs/` by an atomic rename on commit.
///
/// Commits fsync the file and its directory before returning, so an acknowledged blob
/// survives a crash, and a crash never leaves a partial file under `blobs/`.
public struct FileSystemBlobStore: BlobStore {
    public let root: String
    private let threadPool: NIOThreadPool

    /// Whether uploads are written with direct I/O where the filesystem allows it.
    let directIO: Bool

    /// - Parameter directIO: write uploads with direct I/O where the filesystem allows it (false:
    ///   always through the page cache).
    public init(root: String, threadPool: NIOThreadPool = .singleton, directIO: Bool = true) throws {
        self.root = root
        self.threadPool = threadPool
        self.directIO = directIO
        for dir in [root, "\(root)/blobs", "\(root)/uploads"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
    }

    /// Where the bytes of `digest` live.
    public func path(of digest: Digest) -> String {
        "\(root)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded.prefix(2))/\(digest.encoded)"
    }

    func uploadPath(_ id: String) -> String { "\(root)/uploads/\(id)" }

    public func size(of digest: Digest) async throws -> Int64? {
        var info = stat()
        guard stat(path(of: digest), &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    public func read(_ digest: Digest, range: Range<Int64>?,
                     into consume: (ByteBuffer) async throws -> Void) async throws {
        try await readFile(path(of: digest), range: range, into: consume)
    }

    public func delete(_ digest: Digest) async throws {
        unlink(path(of: digest))
    }

    public func createUpload(_ id: String) async throws {
        let fd = open(uploadPath(id), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError.current("create upload") }
        close(fd)
    }

    public func appendToUpload(_ id: String, at offset: Int64) async throws -> any UploadWriter {
        try FileUploadWriter(path: uploadPath(id), offset: offset, threadPool: threadPool, directIO: directIO)
    }

    public func readUpload(_ id: String, range: Range<Int64>,
                           into consume: (ByteBuffer) async throws -> Void) async throws {
        try await readFile(uploadPath(id), range: range, into: consume)
    }

    public func commitUpload(_ id: String, as digest: Digest) async throws {
        let source = uploadPath(id)
        let target = path(of: digest)
        let directory = (target as NSString).deletingLastPathComponent
        try await threadPool.runIfActive {
            if access(target, F_OK) == 0 {
                unlink(source)
                return
            }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Self.fsync(path: source, directory: false)
            guard rename(source, target) == 0 else { throw POSIXError.current("commit blob") }
            try Self.fsync(path: directory, directory: true)
        }
    }

    public func deleteUpload(_ id: String) async throws {
        unlink(uploadPath(id))
    }

    public func stagedUploads() async throws -> [(id: String, modified: Double)] {
        let dir = "\(root)/uploads"
        return try FileManager.default.contentsOfDirectory(atPath: dir).compactMap { name in
            var info = stat()
            guard stat("\(dir)/\(name)", &info) == 0 else { return nil }
            return (name, Double(info.st_mtim.tv_sec))
        }
    }

    public func checkHealth() async throws {
        let probe = "\(root)/uploads/.health-\(UUID().uuidString)"
        let fd = open(probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError.current("write to blob store") }
        close(fd)
        unlink(probe)
    }

    /// Streams `range` of a file in 1 MiB pieces, keeping the next read in flight on the thread
    /// pool while the current piece is being sent, with sequential read-ahead advised to the kernel.
    private func readFile(_ path: String, range: Range<Int64>?,
                          into consume: (ByteBuffer) async throws -> Void) async throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError.current("open blob") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw POSIXError.current("stat blob")
        }
        let span = range ?? 0..<Int64(info.st_size)
        _ = posix_fadvise(fd, off_t(span.lowerBound), off_t(span.count), POSIX_FADV_SEQUENTIAL)
        let pool = threadPool
        func readPiece(at offset: Int64) -> Task<ByteBuffer, any Error> {
            let count = Int(min(Self.pieceSize, span.upperBound - offset))
            return Task {
                try await pool.runIfActive {
                    var buffer = ByteBufferAllocator().buffer(capacity: count)
                    try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
                        let n = pread(fd, pointer.baseAddress, count, off_t(offset))
                        guard n >= 0 else { throw POSIXError.current("read blob") }
                        return n
                    }
                    return buffer
                }
            }
        }
        var offset = span.lowerBound
        var pending: Task<ByteBuffer, any Error>? = span.isEmpty ? nil : readPiece(at: offset)
        do {
            while let current = pending {
                let piece = try await current.value
                pending = nil
                guard piece.readableBytes > 0 else { break }
                offset += Int64(piece.readableBytes)
                if offset < span.upperBound { pending = readPiece(at: offset) }
                try await consume(piece)
            }
        } catch {
            _ = try? await pending?.value
            close(fd)
            throw error
        }
        close(fd)
    }

    private static let pieceSize: Int64 = 1 << 20

    private static func fsync(path: String, directory: Bool) throws {
        let fd = open(path, (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError.current("open for fsync") }
        defer { close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw POSIXError.current("fsync") }
    }
}

extension POSIXError {
    static func current(_ operation: String) -> Error {
        let code = errno
        return NSError(domain: "posix", code: Int(code),
                       userInfo: [NSLocalizedDescriptionKey: "\(operation): \(String(cString: strerror(code)))"])
    }
}
