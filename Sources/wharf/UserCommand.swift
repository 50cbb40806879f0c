import ArgumentParser
import Foundation
import WharfAuth
import WharfCore
import WharfHub

/// `wharf user …`: account administration from the command line.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Create and administer user accounts.",
        subcommands: [Create.self, List.self, SetAdmin.self, SetLimit.self, Disable.self, Enable.self, SetPassword.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user (reserved names such as admin are allowed here).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "4–30 lowercase letters and digits.") var name: String
        @Option(help: "E-mail address.") var email: String?
        @Flag(help: "Make the user an administrator.") var admin = false
        @Flag(help: "Read the password from standard input.") var passwordStdin = false
        @Option(help: "Private repositories the user may have (default: the server's plan).") var privateRepoLimit: Int?

        func run() async throws {
            guard passwordStdin else { throw ValidationError("give the password on standard input with --password-stdin") }
            let password = try readPasswordFromStandardInput()
            try await store.withHub { hub in
                _ = try await hub.accounts.createUser(username: name, email: email, password: password, isAdmin: admin,
                                                      privateRepoLimit: privateRepoLimit, allowReserved: true)
            }
            print("created user \(name)\(admin ? " (administrator)" : "")")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let accounts = try await store.withHub { try await $0.accounts.list(by: Hub.commandLine) }
            print("NAME".padding(toLength: 32, withPad: " ", startingAt: 0) + "KIND          ADMIN  DISABLED  PRIVATE-LIMIT")
            for a in accounts {
                print(a.name.padding(toLength: 32, withPad: " ", startingAt: 0)
                      + a.kind.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)
                      + (a.isAdmin ? "yes" : "no").padding(toLength: 7, withPad: " ", startingAt: 0)
                      + (a.disabled ? "yes" : "no").padding(toLength: 10, withPad: " ", startingAt: 0)
                      + (a.privateRepoLimit.map(String.init) ?? "default"))
            }
        }
    }

    struct SetAdmin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-admin", abstract: "Grant or take away administration.")
        @OptionGroup var store: StoreOptions
        @Argument var name: String
        @Argument(help: "true or false.") var value: String

        func run() async throws {
            try await administer(store, name, .init(isAdmin: try Bool.parseFlag(value)))
        }
    }

    struct SetLimit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-limit", abstract: "Set how many private repositories an account may have.")
        @OptionGroup var store: StoreOptions
        @Argument var name: String
        @Argument(help: "A number, or 'default' for the server's plan.") var limit: String

        func run() async throws {
            let value: Int? = limit == "default" ? nil : Int(limit)
            guard limit == "default" || value != nil else { throw ValidationError("the limit is a non-negative number or 'default'") }
            try await administer(store, name, .init(privateRepoLimit: .some(value)))
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account: it can no longer log in or use its tokens.")
        @OptionGroup var store: StoreOptions
        @Argument var name: String
        func run() async throws { try await administer(store, name, .init(disabled: true)) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account.")
        @OptionGroup var store: StoreOptions
        @Argument var name: String
        func run() async throws { try await administer(store, name, .init(disabled: false)) }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-password", abstract: "Set a user's password (read from standard input).")
        @OptionGroup var store: StoreOptions
        @Argument var name: String

        func run() async throws {
            try await administer(store, name, .init(password: try readPasswordFromStandardInput()))
        }
    }
}

/// Applies an operator's `change` to account `name`, failing clearly when it does not exist.
func administer(_ store: StoreOptions, _ name: String, _ change: AccountService.Administration) async throws {
    do {
        try await store.withHub { _ = try await $0.accounts.administer(name, change, by: Hub.commandLine) }
    } catch let error as ValidationError where error.message == HubError.notFound("account").message {
        throw ValidationError("no account named \(name)")
    }
    print("updated \(name)")
}
