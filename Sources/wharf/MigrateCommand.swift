import ArgumentParser

/// `wharf migrate`: brings the database's schema up to date and exits (servers do it at start
/// too, under a lock, so replicas starting together never race).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Bring the database schema up to date, then exit.")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await store.withHub { _ in }
        print("the database schema is up to date")
    }
}
