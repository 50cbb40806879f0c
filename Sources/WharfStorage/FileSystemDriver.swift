import Foundation
import NIOCore
import NIOPosix
import WharfCore

/// A `StorageDriver` in a local folder.
///
/// Layout under `root`: an object with key `a/b/c` is the file `root/a/b/c` (committed objects
/// are immutable); upload `id` is the file `root/uploads/<id>`, its parts appended in place, moved
/// to its key by an atomic rename on completion.
///
/// Completions and puts fsync the file and its directory before returning, so an acknowledged
/// object survives a crash, and a crash never leaves a partial file under an object's key.
public struct FileSystemDriver: StorageDriver {
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

    /// The file of the object at `key`.
    public func path(of key: String) -> String { "\(root)/\(key)" }

    func uploadPath(_ id: String) -> String { "\(root)/uploads/\(id)" }

    public func size(of key: String) async throws -> Int64? {
        var info = stat()
        guard stat(path(of: key), &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    public func read(_ key: String, range: Range<Int64>?, into consume: (ByteBuffer) async throws -> Void) async throws {
        try await readFile(path(of: key), range: range, into: consume)
    }

    public func put<Body: AsyncSequence & Sendable>(_ key: String, from body: Body) async throws where Body.Element == ByteBuffer {
        let id = ".put-\(UUID().uuidString)"
        try await startUpload(id)
        do {
            let writer = try await appendPart(to: id, at: 0)
            do {
                for try await buffer in body { try await writer.write(buffer) }
                _ = try await writer.close()
            } catch {
                _ = try? await writer.close()
                throw error
            }
            try await completeUpload(id, as: key)
        } catch {
            try? await abortUpload(id)
            throw error
        }
    }

    public func delete(_ key: String) async throws {
        unlink(path(of: key))
    }

    public func list(prefix: String) async throws -> [StoredObject] {
        let folder = prefix.contains("/") ? String(prefix[...prefix.lastIndex(of: "/")!].dropLast()) : ""
        let base = folder.isEmpty ? root : "\(root)/\(folder)"
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        var objects: [StoredObject] = []
        while let relative = walker.nextObject() as? String {
            let key = folder.isEmpty ? relative : "\(folder)/\(relative)"
            guard key.hasPrefix(prefix), !key.hasPrefix("uploads/") else { continue }
            var info = stat()
            guard stat(path(of: key), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            objects.append(StoredObject(key: key, size: Int64(info.st_size), modified: Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec))))
        }
        return objects.sorted { $0.key < $1.key }
    }

    public func startUpload(_ id: String) async throws {
        let fd = open(uploadPath(id), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError.current("create upload") }
        close(fd)
    }

    public func appendPart(to id: String, at offset: Int64) async throws -> any UploadWriter {
        try FileUploadWriter(path: uploadPath(id), offset: offset, threadPool: threadPool, directIO: directIO)
    }

    public func readUpload(_ id: String, range: Range<Int64>, into consume: (ByteBuffer) async throws -> Void) async throws {
        try await readFile(uploadPath(id), range: range, into: consume)
    }

    public func completeUpload(_ id: String, as key: String) async throws {
        let source = uploadPath(id)
        let target = path(of: key)
        let directory = (target as NSString).deletingLastPathComponent
        try await threadPool.runIfActive {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Self.fsync(path: source, directory: false)
            guard rename(source, target) == 0 else { throw POSIXError.current("commit object") }
            try Self.fsync(path: directory, directory: true)
        }
    }

    public func abortUpload(_ id: String) async throws {
        unlink(uploadPath(id))
    }

    public func uploads() async throws -> [(id: String, modified: Date)] {
        let dir = "\(root)/uploads"
        return try FileManager.default.contentsOfDirectory(atPath: dir).compactMap { name in
            var info = stat()
            guard stat("\(dir)/\(name)", &info) == 0 else { return nil }
            return (name, Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec)))
        }
    }

    public func checkHealth() async throws {
        let probe = "\(root)/uploads/.health-\(UUID().uuidString)"
        let fd = open(probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError.current("write to storage") }
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
