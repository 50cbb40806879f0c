import ArgumentParser

/// The `wharf` command: a self-hosted Docker Hub in one binary.
@main
struct Wharf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wharf",
        abstract: "A self-hosted Docker Hub: an OCI registry that docker, podman, skopeo, containerd and oras push to and pull from.",
        subcommands: [Serve.self, UserCommand.self, OrgCommand.self, MigrateCommand.self, TransferCommand.self, GCCommand.self],
        defaultSubcommand: Serve.self
    )
}
