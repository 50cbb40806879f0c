import Foundation

/// What an engine needs to build one image and push it into Wharf.
public struct BuildRequest: Sendable {
    /// A private folder for this build (the engine may write there).
    public var workDirectory: String
    /// The build context and the Dockerfile, absolute paths inside the checkout.
    public var contextPath: String
    public var dockerfilePath: String
    public var buildArgs: [String: String]
    /// `HOST:PORT/namespace/name:tag`: Wharf's own registry.
    public var destination: String
    /// A short-lived registry token allowed to push to the destination's repository only.
    public var pushToken: String
    /// Wharf's registry address (`HOST:PORT`), reached without TLS verification (it is this server).
    public var registryAddress: String
}

/// Builds images: buildah (daemonless, the default) or a Docker engine. Output lines go to `log`;
/// a failure throws with the reason; cancelling the task stops the build.
public protocol BuildEngine: Sendable {
    /// `buildah` or `docker`, for logs and pages.
    var name: String { get }
    func buildAndPush(_ request: BuildRequest, log: @escaping @Sendable (String) async -> Void) async throws
}

extension BuildEngine {
    /// The environment engine commands run with: a plain `PATH`, nothing of Wharf's own.
    static func baseEnvironment(home: String) -> [String: String] {
        ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
         "HOME": home, "LANG": "C.UTF-8"]
    }

    /// Copies the image in `source` (a transport reference such as `dir:/path`) to the request's destination with its token.
    func push(from source: String, _ request: BuildRequest, environment: [String: String],
              log: @escaping @Sendable (String) async -> Void) async throws {
        await log("==> Pushing \(request.destination)")
        try await CommandRunner.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-registry-token", request.pushToken,
                                     source, "docker://\(request.destination)"], environment: environment, output: log)
    }
}

/// buildah with its own vfs storage under the data directory, RUN steps in an OCI container
/// without network, limited in memory (a cgroup) and processes (`nproc`) when set.
public struct BuildahEngine: BuildEngine {
    public var name: String { "buildah" }
    let storage: String
    let limits: BuildLimits

    public init(storage: String, limits: BuildLimits) {
        self.storage = storage
        self.limits = limits
    }

    public func buildAndPush(_ request: BuildRequest, log: @escaping @Sendable (String) async -> Void) async throws {
        let registries = "\(request.workDirectory)/registries.conf"
        try "[[registry]]\nlocation = \"\(request.registryAddress)\"\ninsecure = true\n".write(toFile: registries, atomically: true, encoding: .utf8)
        var environment = Self.baseEnvironment(home: request.workDirectory)
        environment["CONTAINERS_REGISTRIES_CONF"] = registries
        // No credentials of anyone's: the push uses the build's token only.
        let authFile = "\(request.workDirectory)/auth.json"
        try #"{"auths": {}}"#.write(toFile: authFile, atomically: true, encoding: .utf8)
        environment["REGISTRY_AUTH_FILE"] = authFile
        let image = "localhost/wharf-build-\(UUID().uuidString.lowercased())"
        let base = ["buildah", "--root", "\(storage)/root", "--runroot", "\(storage)/run", "--storage-driver", "vfs"]
        var bud = base + ["bud", "--isolation", "oci", "--network", limits.network ? "host" : "none", "--layers=false",
                          "-f", request.dockerfilePath, "-t", image]
        if let memory = limits.memory { bud += ["--memory", memory] }
        if let pids = limits.pids { bud += ["--ulimit", "nproc=\(pids):\(pids)"] }
        for (key, value) in request.buildArgs.sorted(by: { $0.key < $1.key }) { bud += ["--build-arg", "\(key)=\(value)"] }
        bud.append(request.contextPath)
        await log("==> Building with buildah (network \(limits.network ? "on" : "off"))")
        let removal = base + ["rmi", "--force", image]
        let cleanupEnvironment = environment
        defer { Task { try? await CommandRunner.run(removal, environment: cleanupEnvironment, output: { _ in }) } }
        try await CommandRunner.run(bud, environment: environment, output: log)
        let exported = "\(request.workDirectory)/image"
        try await CommandRunner.run(base + ["push", "--quiet", image, "dir:\(exported)"], environment: environment, output: log)
        try await push(from: "dir:\(exported)", request, environment: environment, log: log)
    }
}

/// A Docker engine (`--build-engine docker --docker-host …`): `docker build`, then the image is
/// saved and copied into Wharf with the push token.
public struct DockerEngine: BuildEngine {
    public var name: String { "docker" }
    let host: String?
    let limits: BuildLimits

    public init(host: String?, limits: BuildLimits) {
        self.host = host
        self.limits = limits
    }

    public func buildAndPush(_ request: BuildRequest, log: @escaping @Sendable (String) async -> Void) async throws {
        var environment = Self.baseEnvironment(home: request.workDirectory)
        if let host { environment["DOCKER_HOST"] = host }
        environment["DOCKER_CONFIG"] = "\(request.workDirectory)/docker-config"
        environment["DOCKER_BUILDKIT"] = "0"
        let image = "wharf-build-\(UUID().uuidString.lowercased())"
        var build = ["docker", "build", "--network", limits.network ? "host" : "none", "-f", request.dockerfilePath, "-t", image]
        if let memory = limits.memory { build += ["--memory", memory] }
        if let pids = limits.pids { build += ["--ulimit", "nproc=\(pids):\(pids)"] }
        for (key, value) in request.buildArgs.sorted(by: { $0.key < $1.key }) { build += ["--build-arg", "\(key)=\(value)"] }
        build.append(request.contextPath)
        await log("==> Building with docker (network \(limits.network ? "on" : "off"))")
        let cleanupEnvironment = environment
        defer { Task { try? await CommandRunner.run(["docker", "rmi", "--force", image], environment: cleanupEnvironment, output: { _ in }) } }
        try await CommandRunner.run(build, environment: environment, output: log)
        let archive = "\(request.workDirectory)/image.tar"
        try await CommandRunner.run(["docker", "save", "-o", archive, image], environment: environment, output: log)
        try await push(from: "docker-archive:\(archive)", request, environment: environment, log: log)
    }
}

/// Limits every build runs under.
public struct BuildLimits: Sendable {
    /// RUN steps may reach the network (off by default).
    public var network = false
    /// Memory per build (`2g`), when set.
    public var memory: String?
    /// Processes per build, when set.
    public var pids: Int?
    /// Seconds a build may take before it is stopped and failed.
    public var timeout: Double = 3600

    public init() {}
}

/// Picks the build engine at start: `auto` takes buildah when it is installed; `buildah` and
/// `docker` insist on theirs; `none` turns builds off. Both need skopeo to push into Wharf.
public enum BuildEngines {
    /// The engine, or nil with the reason builds are off.
    public static func make(choice: String, dockerHost: String?, storage: String, limits: BuildLimits) -> (engine: (any BuildEngine)?, note: String) {
        let hasSkopeo = CommandRunner.find("skopeo") != nil
        switch choice {
        case "none":
            return (nil, "builds are off (--build-engine none)")
        case "docker":
            guard CommandRunner.find("docker") != nil, hasSkopeo else { return (nil, "builds are off: --build-engine docker needs the docker and skopeo commands") }
            return (DockerEngine(host: dockerHost, limits: limits), "builds run on the Docker engine at \(dockerHost ?? "docker's default host")")
        default:
            guard CommandRunner.find("buildah") != nil, hasSkopeo else {
                return (nil, choice == "buildah" ? "builds are off: --build-engine buildah needs the buildah and skopeo commands"
                    : "builds are off: buildah and skopeo are not installed (or use --build-engine docker)")
            }
            return (BuildahEngine(storage: storage, limits: limits), "builds run on buildah")
        }
    }
}
