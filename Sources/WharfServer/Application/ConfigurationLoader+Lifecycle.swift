import Foundation
import WharfHub

extension ConfigurationLoader {
    /// Garbage collection's schedule and policy, how often retention policies run, and pull limits.
    static func resolveLifecycle(_ values: Values, into c: inout WharfConfiguration) async throws {
        if let interval = try await values.double("gc-interval") {
            try check(interval, "gc-interval", interval == 0 || (interval >= 1 && interval <= 30 * 86400), "0 (never) or between 1 and 2592000 seconds")
            c.gcInterval = interval
        }
        if let grace = try await values.double("gc-grace-period") {
            try check(grace, "gc-grace-period", grace >= 0 && grace <= 365 * 86400, "between 0 and 31536000 seconds")
            c.gcPolicy.gracePeriod = grace
        }
        if let interval = try await values.double("retention-interval") {
            try check(interval, "retention-interval", interval == 0 || (interval >= 1 && interval <= 30 * 86400), "0 (on demand only) or between 1 and 2592000 seconds")
            c.retentionInterval = interval
        }
        for (key, path) in [("pull-limit-anonymous", \PullLimiter.Settings.anonymous), ("pull-limit-authenticated", \.authenticated)] {
            if let limit = try await values.int(key) {
                try check(limit, key, limit >= 0, "0 or more pulls")
                c.pullLimits[keyPath: path] = limit
            }
        }
        if let window = try await values.double("pull-limit-window") {
            try check(window, "pull-limit-window", window >= 1 && window <= 30 * 86400, "between 1 and 2592000 seconds")
            c.pullLimits.window = window
        }
        if let age = try await values.string("gc-untagged-age") {
            if age == "never" {
                c.gcPolicy.untaggedManifestAge = nil
            } else {
                guard let seconds = Double(age), seconds >= 0, seconds.isFinite else { throw invalid("gc-untagged-age", age, "seconds or never") }
                c.gcPolicy.untaggedManifestAge = seconds
            }
        }
    }
}
