import Foundation

/// How Wharf authenticates to a git server: a token (HTTPS) or a deploy key (SSH).
public enum GitCredentials: Sendable, Equatable, Codable {
    case token(username: String, token: String)
    case sshKey(String)

    static func decode(_ text: String) throws -> GitCredentials {
        try JSONDecoder().decode(GitCredentials.self, from: Data(text.utf8))
    }

    func encoded() throws -> String {
        String(decoding: try JSONEncoder().encode(self), as: UTF8.self)
    }
}

/// Git through the `git` command: a shallow clone of one branch or tag, and its commit.
enum GitCheckout {
    /// Whether `url` names a git server (https, http, ssh, git or scp-like `user@host:path`), not a local path.
    static func isRemote(_ url: String) -> Bool {
        let lower = url.lowercased()
        if ["https://", "http://", "ssh://", "git://"].contains(where: lower.hasPrefix) { return URL(string: url)?.host?.isEmpty == false }
        // scp-like: user@host:path
        guard let at = url.firstIndex(of: "@"), let colon = url[at...].firstIndex(of: ":") else { return false }
        return !url.contains("://") && url.distance(from: at, to: colon) > 1 && !url.hasPrefix("-")
    }

    /// Clones `ref` (a branch or tag) of `url` into `folder`, only its last commit.
    static func clone(_ url: String, ref: String, into folder: String, credentials: GitCredentials?, work: String,
                      log: @escaping @Sendable (String) async -> Void) async throws {
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": work, "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1", "LANG": "C.UTF-8",
        ]
        var arguments = ["git"]
        switch credentials {
        case .token(let username, let token):
            let basic = Data("\(username):\(token)".utf8).base64EncodedString()
            // Given through the environment (GIT_CONFIG_*), so that it shows in no process list.
            environment["GIT_CONFIG_COUNT"] = "1"
            environment["GIT_CONFIG_KEY_0"] = "http.extraHeader"
            environment["GIT_CONFIG_VALUE_0"] = "Authorization: Basic \(basic)"
        case .sshKey(let key):
            let keyPath = "\(work)/deploy-key"
            FileManager.default.createFile(atPath: keyPath, contents: Data((key.hasSuffix("\n") ? key : key + "\n").utf8),
                                           attributes: [.posixPermissions: 0o600])
            environment["GIT_SSH_COMMAND"] = "ssh -i \(keyPath) -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=\(work)/known_hosts"
        case nil:
            break
        }
        arguments += ["clone", "--quiet", "--depth", "1", "--single-branch", "--branch", ref, "--", url, folder]
        try await CommandRunner.run(arguments, environment: environment, output: log)
    }

    /// The commit checked out in `folder`.
    static func head(of folder: String) async throws -> String {
        let found = Found()
        try await CommandRunner.run(["git", "-C", folder, "rev-parse", "HEAD"],
                                    environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": folder],
                                    output: { await found.set($0) })
        return await found.value.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `relative` resolved inside `root`; nil when it would lead outside (`..`, absolute paths, links out).
    static func inside(_ root: String, _ relative: String) -> String? {
        guard !relative.hasPrefix("/") else { return nil }
        let base = URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath().path
        let path = URL(fileURLWithPath: root).appendingPathComponent(relative).standardizedFileURL.resolvingSymlinksInPath().path
        return path == base || path.hasPrefix(base + "/") ? path : nil
    }

    private actor Found {
        var value = ""
        func set(_ line: String) { if value.isEmpty { value = line } }
    }
}
