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
        let environment = self.environment(credentials: credentials, work: work)
        try await CommandRunner.run(["git", "clone", "--quiet", "--depth", "1", "--single-branch", "--branch", ref, "--", url, folder],
                                    environment: environment, output: log)
    }

    /// The branches and tags of `url` with their commits (`refs/heads/main` → sha; an annotated tag's commit, not the tag object).
    static func remoteRefs(_ url: String, credentials: GitCredentials?, work: String) async throws -> [String: String] {
        let lines = Lines()
        try await CommandRunner.run(["git", "ls-remote", "--heads", "--tags", "--", url],
                                    environment: environment(credentials: credentials, work: work), output: { await lines.add($0) })
        return parseRemoteRefs(await lines.all)
    }

    /// `git ls-remote` lines (`sha<TAB>ref`) as ref → commit; a peeled `ref^{}` line wins over its tag object.
    static func parseRemoteRefs(_ lines: [String]) -> [String: String] {
        var refs: [String: String] = [:]
        var peeled: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].count >= 40, parts[0].allSatisfy(\.isHexDigit) else { continue }
            if parts[1].hasSuffix("^{}") { peeled[String(parts[1].dropLast(3))] = parts[0] } else { refs[parts[1]] = parts[0] }
        }
        return refs.merging(peeled) { _, commit in commit }
    }

    /// The environment of git commands: no prompts, no system config, and the credentials.
    private static func environment(credentials: GitCredentials?, work: String) -> [String: String] {
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": work, "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1", "LANG": "C.UTF-8",
        ]
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
        return environment
    }

    /// The commit checked out in `folder`.
    static func head(of folder: String) async throws -> String {
        let lines = Lines()
        try await CommandRunner.run(["git", "-C", folder, "rev-parse", "HEAD"],
                                    environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": folder],
                                    output: { await lines.add($0) })
        return (await lines.all.first ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `relative` resolved inside `root`; nil when it would lead outside (`..`, absolute paths, links out).
    static func inside(_ root: String, _ relative: String) -> String? {
        guard !relative.hasPrefix("/") else { return nil }
        let base = URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath().path
        let path = URL(fileURLWithPath: root).appendingPathComponent(relative).standardizedFileURL.resolvingSymlinksInPath().path
        return path == base || path.hasPrefix(base + "/") ? path : nil
    }

    private actor Lines {
        var all: [String] = []
        func add(_ line: String) { all.append(line) }
    }
}
