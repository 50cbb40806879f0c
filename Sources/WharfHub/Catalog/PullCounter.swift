import Foundation
import Synchronization
import WharfCore
import WharfMetadata

/// Counts pulls in memory so that a manifest GET never waits for a database write; `Registry.flushPulls`
/// adds them to the database in one transaction, about every second (`PullCountFlusher`). A crash
/// loses the pulls counted since the last flush, nothing else.
public final class PullCounter: Sendable {
    private struct Key: Hashable {
        let repository: RepositoryName
        let reference: Reference
    }

    private let pending = Mutex<[Key: PullTally]>([:])

    public init() {}

    /// Counts one pull of `reference` at `time`.
    public func record(_ reference: Reference, in repository: RepositoryName, at time: Date) {
        pending.withLock { pending in
            let key = Key(repository: repository, reference: reference)
            if var tally = pending[key] {
                tally.count += 1
                tally.lastPulledAt = max(tally.lastPulledAt, time)
                pending[key] = tally
            } else {
                pending[key] = PullTally(repository: repository, reference: reference, count: 1, lastPulledAt: time)
            }
        }
    }

    /// Takes every pull counted so far.
    public func drain() -> [PullTally] {
        pending.withLock { pending in
            let tallies = Array(pending.values)
            pending.removeAll(keepingCapacity: true)
            return tallies
        }
    }

    /// Puts back tallies that could not be written, to be written with the next flush.
    public func restore(_ tallies: [PullTally]) {
        pending.withLock { pending in
            for tally in tallies {
                let key = Key(repository: tally.repository, reference: tally.reference)
                if var existing = pending[key] {
                    existing.count += tally.count
                    existing.lastPulledAt = max(existing.lastPulledAt, tally.lastPulledAt)
                    pending[key] = existing
                } else {
                    pending[key] = tally
                }
            }
        }
    }
}
