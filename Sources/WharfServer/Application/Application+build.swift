import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import ServiceLifecycle
import Logging
import NIOSSL
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata
import WharfStorage

/// The services a Wharf application is built from.
public struct WharfDependencies: Sendable {
    public var hub: Hub
    public var tokens: TokenService
    public var metrics = RegistryMetrics()
    /// Proxies whose forwarding headers are believed.
    public var trustedProxies = TrustedProxies.none
    /// Closes the database when the application stops.
    public var shutdown: @Sendable () async throws -> Void

    /// The stores over `database` (SQLite in the data directory when nil, then closed with the
    /// application) and a blob folder under the data directory.
    public static func local(dataDirectory: String, database given: (any SQLDatabaseAccess)? = nil, blobs givenBlobs: (any BlobStore)? = nil,
                             settings: HubSettings = HubSettings(),
                             tokenLifetime: Double = 300, bcryptCost: UInt8 = 10, clock: any WallClock = SystemClock(),
                             logger: Logger) async throws -> WharfDependencies {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let database: any SQLDatabaseAccess
        if let given {
            database = given
        } else {
            database = try await SQLiteDatabaseAccess.open(path: "\(dataDirectory)/wharf.db", logger: logger)
        }
        let stores = try await Stores.open(database, clock: clock)
        let blobs = try givenBlobs ?? ContentAddressedBlobStore.fileSystem(root: dataDirectory)
        // The signing key lives in the database, shared by replicas; a key file from before is adopted.
        let legacyKey = try? String(contentsOfFile: "\(dataDirectory)/token-signing-key.pem", encoding: .utf8)
        let signingKey = try await stores.secrets.obtain("token-signing-key") { legacyKey ?? TokenService.newSigningKey() }
        let tokens = try await TokenService.make(signingKey: signingKey, service: settings.service, lifetime: tokenLifetime, clock: clock)
        return WharfDependencies(
            hub: Hub(stores: stores, blobs: blobs, settings: settings, hasher: PasswordHasher(cost: bcryptCost)),
            tokens: tokens, shutdown: { if given == nil { try await stores.shutdown() } }
        )
    }
}

/// Builds the router: registry API, token service, JSON API, operations endpoints and their middleware.
public func buildRouter(_ dependencies: WharfDependencies) -> Router<WharfRequestContext> {
    let router = Router(context: WharfRequestContext.self)
    let hub = dependencies.hub
    router.add(middleware: ForwardedHeadersMiddleware(proxies: dependencies.trustedProxies))
    router.add(middleware: ObservabilityMiddleware(metrics: dependencies.metrics))
    router.add(middleware: LingeringBodyMiddleware())
    let sessions = HubSessionService(authenticator: hub.authenticator, tokens: dependencies.tokens, stores: hub.stores)
    let api = APIAuthentication(authenticator: hub.authenticator, sessions: sessions, registryTokens: dependencies.tokens)
    let hubAPI = HubAPIRoutes(auth: api, hub: hub, sessions: sessions).table()
    let assets = StaticAssets()
    let website = Website(hub: hub, sessions: WebSessionService(stores: hub.stores, authenticator: hub.authenticator),
                          renderer: PageRenderer(assets: assets))
    let routeMethods = RouteMethods()
    router.add(middleware: ErrorResponseMiddleware(routeMethods: routeMethods, hubRoutes: hubAPI, website: website))
    let credentials = CredentialReader(authenticator: hub.authenticator, tokens: dependencies.tokens)
    let authorizer = RegistryAuthorizer(hub: hub)
    OperationsRoutes(registry: hub.registry, metrics: dependencies.metrics).register(on: router)
    TokenRoutes(credentials: credentials, hub: hub).register(on: router)
    RegistryRoutes(registry: hub.registry, repositories: hub.repositories, credentials: credentials, authorizer: authorizer,
                   hubAPI: hubAPI).register(on: router)
    SearchRoutes(auth: api, repositories: hub.repositories).register(on: router)
    AccountRoutes(auth: api, hub: hub).register(on: router)
    RepositoryAPIRoutes(auth: api, repositories: hub.repositories).register(on: router)
    OrganizationRoutes(auth: api, organizations: hub.organizations).register(on: router)
    WebhookRoutes(auth: api, webhooks: hub.webhooks).register(on: router)
    BuildRoutes(auth: api, builds: hub.builds).register(on: router)
    LifecycleRoutes(auth: api, hub: hub, metrics: dependencies.metrics).register(on: router)
    AuditRoutes(auth: api, audit: hub.audit).register(on: router)
    OpenAPIRoute().register(on: router)
    assets.register(on: router)
    ExplorePages(site: website).register(on: router)
    AccountPages(site: website).register(on: router)
    RepositoryPages(site: website).register(on: router)
    TagPages(site: website).register(on: router)
    RepositorySettingsPages(site: website).register(on: router)
    WebhookPages(site: website).register(on: router)
    BuildPages(site: website).register(on: router)
    OrganizationPages(site: website).register(on: router)
    routeMethods.load(router.routes.map { ($0.path.description, $0.method.rawValue) })
    return router
}

/// Builds the whole application for `configuration`, with the default local stores.
public func buildApplication(_ configuration: WharfConfiguration, logger: Logger) async throws -> some ApplicationProtocol {
    let database = try await configuration.openDatabase(logger: logger)
    let builder = BuildEngines.make(choice: configuration.buildEngine, dockerHost: configuration.dockerHost,
                                    storage: "\(configuration.dataDirectory)/build-storage", limits: configuration.buildLimits)
    logger.info("build engine", metadata: ["wharf.builds": "\(builder.note)"])
    var settings = configuration.hubSettings
    settings.buildEngine = builder.engine?.name
    var dependencies: WharfDependencies
    do {
        dependencies = try await WharfDependencies.local(
            dataDirectory: configuration.dataDirectory, database: database,
            blobs: try ContentAddressedBlobStore.open(configuration.storage, dataDirectory: configuration.dataDirectory,
                                                      environment: ProcessInfo.processInfo.environment),
            settings: settings,
            tokenLifetime: configuration.tokenLifetime, logger: logger
        )
    } catch {
        try? await database.shutdown()
        throw error
    }
    dependencies.trustedProxies = configuration.trustedProxies
    let hub = dependencies.hub
    let firstAdmin: (created: Bool, password: String?)
    var services: [any Service]
    do {
        firstAdmin = try await hub.ensureAdministrator(password: configuration.initialAdminPassword)
        services = try await backgroundWorkers(configuration, hub: hub, metrics: dependencies.metrics, logger: logger)
        if let engine = builder.engine {
            services += try await buildWorkers(configuration, engine: engine, hub: hub, tokens: dependencies.tokens, logger: logger)
        }
    } catch {
        try? await database.shutdown()
        throw error
    }
    // Stopping goes backwards (the HTTP server, added last by Hummingbird, stops first): the workers
    // finish or interrupt their jobs, the last pull counts are written, and only then the database closes.
    var ordered: [any Service] = [DatabaseCloser(close: { try await database.shutdown() })]
    if let postgres = database as? PostgresDatabaseAccess { ordered.append(ChangeListener(database: postgres, hub: hub)) }
    ordered.append(PullCountFlusher(registry: hub.registry, interval: .seconds(configuration.pullCountInterval), logger: logger))
    services = ordered + services
    let server: HTTPServerBuilder
    if let certificate = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath {
        let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        )
        server = try .tls(.http1(), tlsConfiguration: tls)
    } else {
        server = .http1()
    }
    return Application(
        router: buildRouter(dependencies),
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "wharf"),
        services: services,
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            print("Wharf listening on \(configuration.url(port: port))")
            if firstAdmin.created {
                let address = configuration.address(port: port)
                if let password = firstAdmin.password {
                    print("Created the first administrator: user \(Hub.firstAdministrator), password \(password)")
                    print("Log in with: echo '\(password)' | docker login \(address) -u \(Hub.firstAdministrator) --password-stdin")
                } else {
                    print("Created the first administrator \(Hub.firstAdministrator) with the password in WHARF_ADMIN_PASSWORD")
                    print("Log in with: docker login \(address) -u \(Hub.firstAdministrator) --password-stdin")
                }
                print("Change the password with: wharf user set-password \(Hub.firstAdministrator) --data-dir \(configuration.dataDirectory)")
            }
            fflush(nil)
        },
        logger: logger
    )
}

/// The workers of the job queue: one for the janitors, and those that deliver webhooks.
func backgroundWorkers(_ configuration: WharfConfiguration, hub: Hub, metrics: RegistryMetrics, logger: Logger) async throws -> [any Service] {
    let janitor = UploadJanitor(registry: hub.registry, expiry: configuration.uploadExpiry,
                                interval: configuration.janitorInterval, logger: logger)
    try await janitor.schedule(at: hub.stores.clock.now)
    let sessionJanitor = SessionJanitor(sessions: WebSessionService(stores: hub.stores, authenticator: hub.authenticator), logger: logger)
    try await sessionJanitor.schedule(at: hub.stores.clock.now)
    var handlers: [any JobHandler] = [janitor, sessionJanitor]
    if configuration.gcInterval > 0 {
        let gc = GarbageCollectionJob(collector: hub.garbageCollector, policy: configuration.gcPolicy, interval: configuration.gcInterval,
                                      observe: { metrics.recordGarbageCollection($0) })
        try await gc.schedule()
        handlers.append(gc)
    }
    if configuration.retentionInterval > 0 {
        let retention = RetentionJob(retention: hub.retention, interval: configuration.retentionInterval, logger: logger)
        try await retention.schedule()
        handlers.append(retention)
    }
    let worker = JobWorker(jobs: hub.stores.jobs, handlers: handlers, clock: hub.stores.clock, logger: logger,
                           pollInterval: min(5, configuration.janitorInterval))
    return [worker] + (try await webhookWorkers(configuration, hub: hub, logger: logger))
}

/// The workers that deliver webhooks: leases of a previous run of this process are ended (SQLite
/// has no other user), and every webhook with pending deliveries is woken.
func webhookWorkers(_ configuration: WharfConfiguration, hub: Hub, logger: Logger) async throws -> [any Service] {
    let deliverer = WebhookDeliverer(
        stores: hub.stores, settings: configuration.webhooks,
        transport: HTTPWebhookTransport(policy: WebhookAddressPolicy(settings: configuration.webhooks)), logger: logger
    )
    if hub.stores.isSingleProcess { try await hub.stores.jobs.releaseLeases() }
    try await deliverer.resume()
    return (0..<configuration.webhookWorkers).map { _ in
        JobWorker(jobs: hub.stores.jobs, handlers: [deliverer], clock: hub.stores.clock, logger: logger, pollInterval: 1)
    }
}

/// The workers that run automated builds (only where there is an engine: a replica without one
/// leaves queued builds to those that have one).
func buildWorkers(_ configuration: WharfConfiguration, engine: any BuildEngine, hub: Hub, tokens: TokenService,
                  logger: Logger) async throws -> [any Service] {
    let poller = BuildPoller(builds: hub.builds, interval: configuration.buildPollInterval, logger: logger)
    try await poller.schedule(at: hub.stores.clock.now)
    let runner = BuildRunner(
        stores: hub.stores, engine: engine, limits: configuration.buildLimits, registryAddress: configuration.address(),
        pushToken: { repository, subject in
            try await tokens.issue(subject: subject, access: [ResourceAccess(type: "repository", name: repository.value, actions: ["pull", "push"])])
        },
        logger: logger
    )
    return (0..<configuration.buildWorkers).map { _ in
        JobWorker(jobs: hub.stores.jobs, handlers: [runner, poller], clock: hub.stores.clock, logger: logger, pollInterval: 1)
    }
}

/// Closes the stores after the server has stopped.
struct DatabaseCloser: Service {
    let close: @Sendable () async throws -> Void

    func run() async throws {
        try? await gracefulShutdown()
        try await close()
    }
}
