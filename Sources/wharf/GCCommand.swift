import ArgumentParser
import Foundation
import WharfHub

/// `wharf gc`: runs garbage collection now, against the same database and storage as a running
/// server (safely: collection is online), or with `--dry-run` prints what it would reclaim.
struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Reclaim the storage of deleted tags, manifests and repositories (safe while servers run)."
    )
    @OptionGroup var store: StoreOptions
    @Option(help: "Blob storage: file:PATH or s3://… [WHARF_STORAGE] (default: the data directory).") var storage: String?
    @Flag(help: "Print what would be reclaimed; delete nothing.") var dryRun = false
    @Option(help: "Seconds a blob stays unlinked before it is reclaimed (default: 3600).") var gracePeriod: Double = 3600
    @Option(help: "Seconds an untagged manifest is kept, or never (default: 86400).") var untaggedAge: String = "86400"

    func validate() throws {
        guard gracePeriod >= 0 else { throw ValidationError("--grace-period must be 0 or more seconds") }
        guard untaggedAge == "never" || (Double(untaggedAge).map { $0 >= 0 } ?? false) else {
            throw ValidationError("--untagged-age must be seconds or never")
        }
    }

    func run() async throws {
        var settings = HubSettings()
        settings.garbageCollection = GarbageCollector.Policy(gracePeriod: gracePeriod, untaggedManifestAge: Double(untaggedAge))
        let report = try await store.withHub(storage: storage, settings: settings) { hub in
            try await hub.garbageCollector.run(settings.garbageCollection, dryRun: dryRun)
        }
        let verb = dryRun ? "would delete" : "deleted"
        for manifest in report.deletedManifests {
            print("\(verb) manifest \(manifest.repository.value)@\(manifest.digest)")
        }
        for blob in report.deletedBlobs {
            print("\(verb) blob \(blob.digest) (\(blob.size) bytes)")
        }
        print("\(dryRun ? "dry run: would reclaim" : "reclaimed") \(report.blobs) blobs, \(report.manifests) manifests, \(report.bytes) bytes"
              + " (\(ByteCountFormatter.string(fromByteCount: report.bytes, countStyle: .binary))) in \(String(format: "%.2f", report.duration)) s")
    }
}
