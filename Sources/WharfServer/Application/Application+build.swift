import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import ServiceLifecycle
import Logging
import NIOSSL
import WharfAuth
import WharfMetadata
import WharfStorage

/// The stores and services a Wharf application is built from.
public struct WharfDependencies: Sendable {
    public var registry: Registry
    public var accounts: any AccountStore
    public var authenticator: Authenticator
    public var tokens: TokenService
    public var settings: HubSettings
    public var metrics = RegistryMetrics()
    /// Closes the database when the application stops.
    public var shutdown: @Sendable () async throws -> Void

    /// The default stores: SQLite and a blob folder under the data directory.
    public static func local(dataDirectory: String, settings: HubSettings = HubSettings(), tokenLifetime: Double = 300,
                             bcryptCost: UInt8 = 10, logger: Logger) async throws -> WharfDependencies {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let database = try await SQLiteDatabaseAccess.open(path: "\(dataDirectory)/wharf.db", logger: logger)
        let metadata = try await SQLMetadataStore.open(database)
        let accounts = SQLAccountStore(database)
        let blobs = try FileSystemBlobStore(root: dataDirectory)
        let tokens = try await TokenService.load(keyPath: "\(dataDirectory)/token-signing-key.pem", service: settings.service,
                                                 lifetime: tokenLifetime)
        return WharfDependencies(
            registry: Registry(metadata: metadata, blobs: blobs), accounts: accounts,
            authenticator: Authenticator(accounts: accounts, hasher: PasswordHasher(cost: bcryptCost)),
            tokens: tokens, settings: settings, shutdown: { try await database.shutdown() }
        )
    }
}

/// Builds the router: registry API, operations endpoints and their middleware.
public func buildRouter(_ dependencies: WharfDependencies) -> Router<WharfRequestContext> {
    let router = Router(context: WharfRequestContext.self)
    router.add(middleware: ObservabilityMiddleware(metrics: dependencies.metrics))
    router.add(middleware: RegistryResponseMiddleware())
    let credentials = CredentialReader(authenticator: dependencies.authenticator, tokens: dependencies.tokens)
    let authorizer = RegistryAuthorizer(accounts: dependencies.accounts, settings: dependencies.settings)
    OperationsRoutes(registry: dependencies.registry, metrics: dependencies.metrics).register(on: router)
    TokenRoutes(credentials: credentials, accounts: dependencies.accounts, settings: dependencies.settings).register(on: router)
    RegistryRoutes(registry: dependencies.registry, credentials: credentials, authorizer: authorizer).register(on: router)
    let api = APIAuthentication(authenticator: dependencies.authenticator)
    AccountRoutes(auth: api, accounts: dependencies.accounts, settings: dependencies.settings).register(on: router)
    RepositoryAPIRoutes(auth: api, accounts: dependencies.accounts, authorizer: authorizer).register(on: router)
    OrganizationRoutes(auth: api, accounts: dependencies.accounts).register(on: router)
    OpenAPIRoute().register(on: router)
    return router
}

/// Builds the whole application for `configuration`, with the default local stores.
public func buildApplication(_ configuration: WharfConfiguration, logger: Logger) async throws -> some ApplicationProtocol {
    let dependencies = try await WharfDependencies.local(
        dataDirectory: configuration.dataDirectory, settings: configuration.hubSettings,
        tokenLifetime: configuration.tokenLifetime, logger: logger
    )
    try await AdminBootstrap.ensureAdmin(in: dependencies.accounts, hasher: dependencies.authenticator.hasher,
                                         password: configuration.initialAdminPassword, logger: logger)
    let janitor = UploadJanitor(
        metadata: dependencies.registry.metadata, blobs: dependencies.registry.blobs,
        expiry: configuration.uploadExpiry, interval: configuration.janitorInterval, logger: logger
    )
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
        services: [janitor, DatabaseCloser(close: dependencies.shutdown)],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            print("Wharf listening on \(configuration.url(port: port))")
            fflush(nil)
        },
        logger: logger
    )
}

/// Closes the stores after the server has stopped.
struct DatabaseCloser: Service {
    let close: @Sendable () async throws -> Void

    func run() async throws {
        try? await gracefulShutdown()
        try await close()
    }
}
