import WharfCore

/// Parsing of the `Range` (blob GET) and `Content-Range` (upload PATCH) headers.
enum ByteRange {
    /// The byte range a GET asks for within a blob of `size` bytes; nil for the whole blob.
    /// Supports `bytes=a-b`, `bytes=a-` and `bytes=-n`; anything unsatisfiable is a 416.
    static func requested(_ header: String?, size: Int64) throws(RegistryError) -> Range<Int64>? {
        guard let header else { return nil }
        let unsatisfiable = RegistryError(.rangeInvalid, "requested range not satisfiable",
                                          headers: ["Content-Range": "bytes */\(size)"])
        guard header.hasPrefix("bytes="), !header.contains(",") else { throw unsatisfiable }
        let spec = header.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard spec.count == 2 else { throw unsatisfiable }
        let first = Int64(spec[0].trimmingSpaces()), last = Int64(spec[1].trimmingSpaces())
        switch (spec[0].isEmpty, spec[1].isEmpty) {
        case (false, false):
            guard let first, let last, first <= last, first < size else { throw unsatisfiable }
            return first..<min(last + 1, size)
        case (false, true):
            guard let first, first < size else { throw unsatisfiable }
            return first..<size
        case (true, false):
            guard let last, last > 0, size > 0 else { throw unsatisfiable }
            return max(0, size - last)..<size
        case (true, true):
            throw unsatisfiable
        }
    }

    /// The inclusive range of a chunk's `Content-Range: <start>-<end>` (a `bytes ` or `bytes=` prefix is tolerated).
    static func chunk(_ header: String?) throws(RegistryError) -> ClosedRange<Int64>? {
        guard var value = header?.trimmingSpaces() else { return nil }
        for prefix in ["bytes=", "bytes "] where value.hasPrefix(prefix) { value = String(value.dropFirst(prefix.count)) }
        if let slash = value.firstIndex(of: "/") { value = String(value[..<slash]) }
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Int64(parts[0]), let end = Int64(parts[1]), start >= 0, end >= start else {
            throw RegistryError(.rangeInvalid, "invalid Content-Range: expected <start>-<end>")
        }
        return start...end
    }
}
