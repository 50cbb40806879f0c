import ArgumentParser
import WharfCore
import WharfMetadata

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
            guard AccountName(name) != nil else { throw ValidationError("organization names are 4 to 30 lowercase letters and digits, not reserved") }
            try await store.withAccounts { accounts in
                guard try await accounts.account(owner)?.kind == .user else { throw ValidationError("no user named \(owner)") }
                do { try await accounts.createOrganization(name, owner: owner) } catch AccountStoreError.exists {
                    throw ValidationError("the name \(name) is taken")
                }
            }
            print("created organization \(name) owned by \(owner)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List organizations with their teams and members.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withAccounts { accounts in
                for org in try await accounts.accounts() where org.kind == .organization {
                    print(org.name)
                    for team in try await accounts.teams(in: org.name) {
                        let grants = team.repositories.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                        print("  \(team.name): \(team.members.joined(separator: ", "))\(grants.isEmpty ? "" : "  [\(grants)]")")
                    }
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
            guard let name = TeamName(team) else { throw ValidationError("team names are 1 to 30 of a-z, 0-9, - and _") }
            try await store.withAccounts { try await $0.createTeam(name, in: organization) }
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
            guard let name = TeamName(team) else { throw ValidationError("invalid team name") }
            try await store.withAccounts { accounts in
                guard try await accounts.account(user)?.kind == .user else { throw ValidationError("no user named \(user)") }
                try await accounts.addTeamMember(user, to: name, in: organization)
            }
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
            guard let name = TeamName(team), let level = Permission(name: permission),
                  let repo = RepositoryName("\(organization)/\(repository)") else {
                throw ValidationError("check the team name, repository name and permission (read, write, admin)")
            }
            try await store.withAccounts { try await $0.setTeamPermission(level, on: repo.value, for: name, in: organization) }
            print("granted \(permission) on \(repo) to \(organization)/\(team)")
        }
    }
}
