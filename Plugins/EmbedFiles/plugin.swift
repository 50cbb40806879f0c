import Foundation
import PackagePlugin

/// Compiles files a target lists in its `embed.txt` into the binary as Swift string constants, so
/// that a file such as `API/openapi.json` stays the source of truth and `wharf` stays one
/// self-contained binary (no resource bundle to carry next to it).
///
/// `embed.txt`: one line per file, `RELATIVE/PATH NAME`; each becomes `static let NAME: String`
/// of `enum EmbeddedFiles`.
@main
struct EmbedFiles: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let list = target.directoryURL.appending(path: "embed.txt")
        guard let text = try? String(contentsOf: list, encoding: .utf8) else { return [] }
        var inputs = [list]
        var arguments: [String] = []
        for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else { continue }
            let file = target.directoryURL.appending(path: String(parts[0]))
            inputs.append(file)
            arguments += [file.path(), String(parts[1])]
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedFiles.swift")
        return [.buildCommand(
            displayName: "Embedding \(inputs.count - 1) file(s) into \(target.name)",
            executable: try context.tool(named: "EmbedFile").url,
            arguments: [output.path()] + arguments,
            inputFiles: inputs,
            outputFiles: [output]
        )]
    }
}
