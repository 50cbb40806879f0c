import Foundation
import Logging
import Synchronization
import Testing
import WharfCore
import WharfMetadata
@testable import WharfHub

/// Records every job it runs; optionally fails or waits.
final class RecordingHandler: JobHandler {
    let kind: String
    let ran = Mutex<[Int64]>([])
    let failures: Int
    let recurEvery: TimeInterval?

    init(kind: String = "test", failures: Int = 0, recurEvery: TimeInterval? = nil) {
        self.kind = kind
        self.failures = failures
        self.recurEvery = recurEvery
    }

    struct Failure: Error {}

    func run(_ job: Job) async throws -> Date? {
        let count = ran.withLock { ran in
            ran.append(job.id)
            return ran.count
        }
        await Task.yield()
        if count <= failures { throw Failure() }
        return recurEvery.map { job.runAt.addingTimeInterval($0) }
    }
}

@Suite("Job queue and worker")
struct JobWorkerTests {
    func worker(_ t: TestHub, _ handler: any JobHandler, owner: String, lease: TimeInterval = 60) -> JobWorker {
        JobWorker(jobs: t.hub.stores.jobs, handlers: [handler], clock: t.clock, logger: Logger(label: "test"), owner: owner, lease: lease)
    }

    @Test("two workers draining one queue never run the same job, and run every job")
    func exclusive() async throws {
        try await TestHub.run { t in
            for index in 0..<40 {
                try await t.hub.stores.jobs.enqueue(kind: "test", payload: "\(index)", runAt: t.clock.now, maxAttempts: 3, uniqueKey: nil)
            }
            let handler = RecordingHandler()
            let workers = [worker(t, handler, owner: "a"), worker(t, handler, owner: "b")]
            await withThrowingTaskGroup(of: Void.self) { group in
                for worker in workers {
                    group.addTask { while try await worker.runNext() {} }
                }
            }
            let ran = handler.ran.withLock { $0 }
            #expect(ran.count == 40)
            #expect(Set(ran).count == 40)
            #expect(try await t.hub.stores.jobs.jobs().isEmpty)
        }
    }

    @Test("a job whose worker died mid-run is taken over when its lease ends")
    func takeover() async throws {
        try await TestHub.run { t in
            try await t.hub.stores.jobs.enqueue(kind: "test", payload: "{}", runAt: t.clock.now, maxAttempts: 3, uniqueKey: nil)
            // Worker "dead" claims the job and never finishes it (killed mid-job).
            let claimed = try await t.hub.stores.jobs.claim(kinds: ["test"], owner: "dead", now: t.clock.now, lease: 30)
            #expect(claimed != nil)
            let handler = RecordingHandler()
            let survivor = worker(t, handler, owner: "survivor")
            #expect(try await survivor.runNext() == false)
            t.clock.advance(by: 31)
            #expect(try await survivor.runNext() == true)
            #expect(handler.ran.withLock { $0 } == [claimed!.id])
            #expect(try await t.hub.stores.jobs.jobs().isEmpty)
            // The dead worker's late completion changes nothing.
            try await t.hub.stores.jobs.complete(claimed!.id, owner: "dead", nextRun: t.clock.now)
            #expect(try await t.hub.stores.jobs.jobs().isEmpty)
        }
    }

    @Test("a failing job is retried with backoff, keeps its last error, and dies after its last attempt")
    func retries() async throws {
        try await TestHub.run { t in
            try await t.hub.stores.jobs.enqueue(kind: "test", payload: "{}", runAt: t.clock.now, maxAttempts: 2, uniqueKey: nil)
            let handler = RecordingHandler(failures: 10)
            let w = worker(t, handler, owner: "w")
            #expect(try await w.runNext())
            var job = try #require(try await t.hub.stores.jobs.jobs().first)
            #expect(job.state == "queued" && job.attempts == 1 && job.lastError != nil)
            #expect(job.runAt == t.clock.now.addingTimeInterval(JobWorker.backoff(attempt: 1)))
            #expect(try await w.runNext() == false)
            t.clock.advance(by: JobWorker.backoff(attempt: 1))
            #expect(try await w.runNext())
            job = try #require(try await t.hub.stores.jobs.jobs().first)
            #expect(job.state == "dead" && job.attempts == 2)
            t.clock.advance(by: 3600)
            #expect(try await w.runNext() == false)
        }
    }

    @Test("a recurring job with a unique key stays one row, however often it is scheduled")
    func recurringSingleton() async throws {
        try await TestHub.run { t in
            for _ in 0..<3 {
                try await t.hub.stores.jobs.enqueue(kind: "tick", payload: "{}", runAt: t.clock.now, maxAttempts: 5, uniqueKey: "tick")
            }
            let handler = RecordingHandler(kind: "tick", recurEvery: 10)
            let w = worker(t, handler, owner: "w")
            #expect(try await w.runNext())
            #expect(try await w.runNext() == false)
            try await t.hub.stores.jobs.enqueue(kind: "tick", payload: "{}", runAt: t.clock.now, maxAttempts: 5, uniqueKey: "tick")
            let jobs = try await t.hub.stores.jobs.jobs()
            #expect(jobs.count == 1 && jobs[0].runAt == t.clock.now.addingTimeInterval(10))
            t.clock.advance(by: 10)
            #expect(try await w.runNext())
            #expect(handler.ran.withLock { $0.count } == 2)
        }
    }

    @Test("the upload janitor runs as a job: expired sessions go with their hash state, fresh ones stay")
    func janitor() async throws {
        try await TestHub.run { t in
            let registry = t.hub.registry
            let old = try await registry.startUpload(in: RepositoryName("alice/app")!)
            _ = try await registry.appendUpload(old.id, in: RepositoryName("alice/app")!, range: nil, body: TestHub.body(Array("half".utf8)))
            #expect(registry.hashes.count == 1)
            t.clock.advance(by: 100)
            let fresh = try await registry.startUpload(in: RepositoryName("alice/app")!)
            let janitor = UploadJanitor(registry: registry, expiry: 50, interval: 30, logger: Logger(label: "test"))
            try await janitor.schedule(at: t.clock.now)
            #expect(try await worker(t, janitor, owner: "w").runNext())
            #expect(try await t.hub.stores.metadata.upload(old.id) == nil)
            #expect(registry.hashes.count == 0, "the hash state leaves with its upload")
            #expect(try await t.hub.stores.metadata.upload(fresh.id) != nil)
            #expect(try await t.hub.stores.jobs.jobs().map(\.runAt) == [t.clock.now.addingTimeInterval(30)])
        }
    }
}

@Suite("Job wake-ups")
struct JobWakeTests {
    @Test("waking a running job makes it run again when it finishes instead of going; waking none queues one")
    func wakeWhileRunning() async throws {
        try await TestHub.run { t in
            let jobs = t.hub.stores.jobs
            try await jobs.wake(kind: "w", payload: "1", uniqueKey: "w:1", runAt: t.clock.now, maxAttempts: 5)
            try await jobs.wake(kind: "w", payload: "1", uniqueKey: "w:1", runAt: t.clock.now, maxAttempts: 5)
            #expect(try await jobs.jobs().count == 1, "one job per key")
            let claimed = try #require(try await jobs.claim(kinds: ["w"], owner: "a", now: t.clock.now, lease: 60))
            try await jobs.wake(kind: "w", payload: "1", uniqueKey: "w:1", runAt: t.clock.now, maxAttempts: 5)
            try await jobs.complete(claimed.id, owner: "a", nextRun: nil)
            let again = try #require(try await jobs.claim(kinds: ["w"], owner: "b", now: t.clock.now, lease: 60))
            #expect(again.id == claimed.id)
            try await jobs.complete(again.id, owner: "b", nextRun: nil)
            #expect(try await jobs.jobs().isEmpty, "finished without a wake: gone")
        }
    }
}
