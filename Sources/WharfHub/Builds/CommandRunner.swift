import Foundation

/// Runs a program in a process group of its own (Foundation's `Process` makes one per child),
/// handing each line it prints (stdout and stderr) to `output`. Cancelling the calling task kills
/// the whole group: the program and its children.
enum CommandRunner {
    /// A program that exited with a failure status.
    struct Failure: Error, CustomStringConvertible {
        let program: String
        let status: Int32
        var description: String { "\(program) exited with status \(status)" }
    }

    /// Runs `arguments` (the first is the program, found on `PATH`) and throws `Failure` unless it exits with 0.
    static func run(_ arguments: [String], environment: [String: String], directory: String? = nil,
                    output: @escaping @Sendable (String) async -> Void) async throws {
        let process = Process()
        // env finds the program on PATH and becomes it: same process, same group.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let (chunks, chunkSink) = AsyncStream.makeStream(of: Data.self)
        let (exits, exitSink) = AsyncStream.makeStream(of: Int32.self)
        try process.run()
        let group = process.processIdentifier
        try? pipe.fileHandleForWriting.close()
        // Blocking reads on a thread of their own (Foundation's readability handlers are not
        // dependable on Linux): output until end of file, then the exit status.
        let reader = pipe.fileHandleForReading
        DispatchQueue.global().async {
            while true {
                let data = reader.availableData
                if data.isEmpty { break }
                chunkSink.yield(data)
            }
            chunkSink.finish()
            process.waitUntilExit()
            exitSink.yield(process.terminationStatus)
            exitSink.finish()
        }
        let status: Int32 = await withTaskCancellationHandler {
            var pending = Data()
            for await chunk in chunks {
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    await output(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            if !pending.isEmpty { await output(String(decoding: pending, as: UTF8.self)) }
            var status: Int32 = -1
            for await code in exits { status = code }
            return status
        } onCancel: {
            // Descendants first, found before anything dies (then they would be re-parented):
            // a container runtime starts the build's RUN steps in sessions of their own.
            for process in descendants(of: group) { kill(process, SIGKILL) }
            kill(-group, SIGKILL)
        }
        try Task.checkCancellation()
        guard status == 0 else { throw Failure(program: arguments.first ?? "?", status: status) }
    }

    /// Every process below `root` in the process tree, from `/proc`.
    static func descendants(of root: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var children: [pid_t: [pid_t]] = [:]
        for entry in entries {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // "pid (command) state ppid …": the command may hold spaces and parentheses.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, let parent = pid_t(fields[1]) else { continue }
            children[parent, default: []].append(pid)
        }
        var found: [pid_t] = []
        var queue = children[root] ?? []
        while let next = queue.popLast() {
            found.append(next)
            queue += children[next] ?? []
        }
        return found
    }

    /// The full path of `program` on `PATH`, nil when it is not installed.
    static func find(_ program: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        for folder in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(folder)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
