import SQLKit
import WharfCore

/// The full-text index of repositories (namespace, name and description), in each database's
/// own form: SQLite's FTS5 kept by triggers, PostgreSQL's `tsvector` column with a GIN index.
/// Both split text into lowercase words at every character that is not a letter or digit, and
/// match each query word as a prefix of a word.
///
/// Each repository's words end with a marker of its visibility, so that the index alone counts
/// the public matches of a query (a search's `count` without reading 10,000 rows).
public enum RepositorySearch {
    /// The marker words; no query word can name them.
    static let publicMarker = "wharfvisibilitypublic"
    static let privateMarker = "wharfvisibilityprivate"

    /// The index as migration 7 leaves it: with visibility markers, and the indexes ranking uses.
    static func markedSchema(_ flavor: SQLFlavor) -> [String] {
        let ranking = [
            "CREATE INDEX repositories_by_rank ON repositories(star_count DESC, pull_count DESC, name)",
            "CREATE INDEX repositories_by_short_name ON repositories(substr(name, length(namespace) + 2))",
        ]
        switch flavor {
        case .sqlite:
            let words = { (row: String) in
                "\(row).name || ' ' || \(row).description || CASE WHEN \(row).is_private THEN ' \(privateMarker)' ELSE ' \(publicMarker)' END"
            }
            return [
                "DROP TRIGGER repository_search_insert",
                "DROP TRIGGER repository_search_update",
                "DROP TRIGGER repository_search_delete",
                "DROP TABLE repository_search",
                "CREATE VIRTUAL TABLE repository_search USING fts5(words, tokenize = 'unicode61 remove_diacritics 2')",
                """
                CREATE TRIGGER repository_search_insert AFTER INSERT ON repositories BEGIN
                    INSERT INTO repository_search (rowid, words) VALUES (new.rowid, \(words("new")));
                END
                """,
                """
                CREATE TRIGGER repository_search_update AFTER UPDATE OF name, description, is_private ON repositories BEGIN
                    UPDATE repository_search SET words = \(words("new")) WHERE rowid = old.rowid;
                END
                """,
                """
                CREATE TRIGGER repository_search_delete AFTER DELETE ON repositories BEGIN
                    DELETE FROM repository_search WHERE rowid = old.rowid;
                END
                """,
                "INSERT INTO repository_search (rowid, words) SELECT rowid, \(words("repositories")) FROM repositories",
            ] + ranking
        case .postgres:
            return [
                "DROP INDEX repositories_search",
                "ALTER TABLE repositories DROP COLUMN search_words",
                """
                ALTER TABLE repositories ADD COLUMN search_words tsvector GENERATED ALWAYS AS
                    (to_tsvector('simple', regexp_replace(lower(name || ' ' || description), '[^[:alnum:]]+', ' ', 'g')
                     || CASE WHEN is_private THEN ' \(privateMarker)' ELSE ' \(publicMarker)' END)) STORED
                """,
                "CREATE INDEX repositories_search ON repositories USING GIN (search_words)",
            ] + ranking
        }
    }

    static func schema(_ flavor: SQLFlavor) -> [String] {
        switch flavor {
        case .sqlite:
            return [
                "CREATE VIRTUAL TABLE repository_search USING fts5(words, tokenize = 'unicode61 remove_diacritics 2')",
                """
                CREATE TRIGGER repository_search_insert AFTER INSERT ON repositories BEGIN
                    INSERT INTO repository_search (rowid, words) VALUES (new.rowid, new.name || ' ' || new.description);
                END
                """,
                """
                CREATE TRIGGER repository_search_update AFTER UPDATE OF name, description ON repositories BEGIN
                    UPDATE repository_search SET words = new.name || ' ' || new.description WHERE rowid = old.rowid;
                END
                """,
                """
                CREATE TRIGGER repository_search_delete AFTER DELETE ON repositories BEGIN
                    DELETE FROM repository_search WHERE rowid = old.rowid;
                END
                """,
                "INSERT INTO repository_search (rowid, words) SELECT rowid, name || ' ' || description FROM repositories",
            ]
        case .postgres:
            return [
                """
                ALTER TABLE repositories ADD COLUMN search_words tsvector GENERATED ALWAYS AS
                    (to_tsvector('simple', regexp_replace(lower(name || ' ' || description), '[^[:alnum:]]+', ' ', 'g'))) STORED
                """,
                "CREATE INDEX repositories_search ON repositories USING GIN (search_words)",
            ]
        }
    }

    /// The words of a query: lowercase runs of letters and digits (never the visibility markers).
    public static func words(_ query: String) -> [String] {
        query.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map(String.init)
            .filter { !$0.hasPrefix("wharfvisibility") }
    }

    /// A condition on repositories `r` that holds when every word prefixes a word of the repository.
    static func condition(_ words: [String], flavor: SQLFlavor) -> SQLQueryString {
        switch flavor {
        case .sqlite:
            return "r.rowid IN (SELECT rowid FROM repository_search WHERE repository_search MATCH \(bind: match(words)))"
        case .postgres:
            return "r.search_words @@ to_tsquery('simple', \(bind: tsquery(words)))"
        }
    }

    /// How many repositories match, counting only public ones when `publicOnly`, from the index alone.
    static func count(_ words: [String], publicOnly: Bool, flavor: SQLFlavor) -> SQLQueryString {
        let marked = publicOnly ? words + [publicMarker] : words
        switch flavor {
        case .sqlite:
            return "SELECT COUNT(*) AS n FROM repository_search WHERE repository_search MATCH \(bind: match(marked, exact: publicOnly))"
        case .postgres:
            return "SELECT COUNT(*) AS n FROM repositories r WHERE r.search_words @@ to_tsquery('simple', \(bind: tsquery(marked, exact: publicOnly)))"
        }
    }

    /// An FTS5 query: each word as a prefix (the marker, last, exactly).
    private static func match(_ words: [String], exact marker: Bool = false) -> String {
        words.enumerated().map { index, word in
            marker && index == words.count - 1 ? "\"\(word)\"" : "\"\(word)\"*"
        }.joined(separator: " ")
    }

    private static func tsquery(_ words: [String], exact marker: Bool = false) -> String {
        words.enumerated().map { index, word in
            marker && index == words.count - 1 ? word : "\(word):*"
        }.joined(separator: " & ")
    }
}
