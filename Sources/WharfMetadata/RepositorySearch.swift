import SQLKit
import WharfCore

/// The full-text index of repositories (namespace, name and description), in each database's
/// own form: SQLite's FTS5 kept by triggers, PostgreSQL's `tsvector` column with a GIN index.
/// Both split text into lowercase words at every character that is not a letter or digit, and
/// match each query word as a prefix of a word.
public enum RepositorySearch {
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

    /// The words of a query: lowercase runs of letters and digits.
    public static func words(_ query: String) -> [String] {
        query.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map(String.init)
    }

    /// A condition on repositories `r` that holds when every word prefixes a word of the repository.
    static func condition(_ words: [String], flavor: SQLFlavor) -> SQLQueryString {
        switch flavor {
        case .sqlite:
            let match = words.map { "\"\($0)\"*" }.joined(separator: " ")
            return "r.rowid IN (SELECT rowid FROM repository_search WHERE repository_search MATCH \(bind: match))"
        case .postgres:
            let query = words.map { "\($0):*" }.joined(separator: " & ")
            return "r.search_words @@ to_tsquery('simple', \(bind: query))"
        }
    }
}
