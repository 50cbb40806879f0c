import ArgumentParser
import WharfCore
import WharfHub

/// `wharf org …`: organizations and teams from the command line.
struct OrgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org", abstract: "Create organizations and manage their teams.",
        subcommands: [Create.self, List.self, CreateTeam.self, AddMember.self, Grant.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organization owned by a user.")
        @OptionGroup var store: StoreOptions
        @Argument var name: String
        @Option(help: "The user who becomes the first owner.") var owner: String

        func run() async throws {
            try await store.withHub { _ = try await $0.organizations.create(name, owner: owner, by: Hub.commandLine) }
            print("created organization \(name) owned by \(owner)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List organizations with their teams and members.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            for org in try await store.withHub({ try await $0.organizations.all(by: Hub.commandLine) }) {
                print(org.account.name)
                for team in org.teams {
                    let grants = team.repositories.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                    print("  \(team.name): \(team.members.joined(separator: ", "))\(grants.isEmpty ? "" : "  [\(grants)]")")
                }
            }
        }
    }

    struct CreateTeam: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-team", abstract: "Create a team in an organization.")
        @OptionGroup var store: StoreOptions
        @Argument var organization: String
        @Argument var team: String

        func run() async throws {
            try await store.withHub { _ = try await $0.organizations.createTeam(team, in: organization, by: Hub.commandLine) }
            print("created team \(organization)/\(team)")
        }
    }

    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-member", abstract: "Add a user to a team.")
        @OptionGroup var store: StoreOptions
        @Argument var organization: String
        @Argument var team: String
        @Argument var user: String

        func run() async throws {
            try await store.withHub { _ = try await $0.organizations.addMember(user, to: team, in: organization, by: Hub.commandLine) }
            print("added \(user) to \(organization)/\(team)")
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a team read, write or admin on a repository of the organization.")
        @OptionGroup var store: StoreOptions
        @Argument var organization: String
        @Argument var team: String
        @Argument(help: "The repository name inside the organization.") var repository: String
        @Argument(help: "read, write or admin.") var permission: String

        func run() async throws {
            try await store.withHub {
                _ = try await $0.organizations.grant(team, permission: permission, on: repository, in: organization, by: Hub.commandLine)
            }
            print("granted \(permission) on \(organization)/\(repository) to \(organization)/\(team)")
        }
    }
}
