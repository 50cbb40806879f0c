"""A Wharf database filled like a busy Docker Hub: accounts and repositories with short
descriptions, stars and pulls, written straight into wharf.db with sqlite3 while Wharf is stopped
(creating 100,000 repositories through the HTTP API would take far longer than the measurement)."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from pathlib import Path

BUSY = "busy"              # the namespace holding BENCH_HUB_NAMESPACE_REPOS repositories
OTHER_NAMESPACES = 1_000   # the other repositories are spread evenly over ns0000, ns0001, ...
# Descriptions are 3-5 of these words (each in ~1 of 12 descriptions), plus the search terms.
WORDS = ("alpine", "api", "app", "backend", "build", "cache", "cli", "cloud", "cluster", "config",
         "container", "cron", "dashboard", "data", "database", "debian", "demo", "deploy", "dev",
         "docs", "exporter", "frontend", "gateway", "golang", "java", "job", "kafka", "lightweight",
         "logging", "metrics", "minimal", "monitoring", "node", "nginx", "proxy", "python", "queue",
         "redis", "runtime", "sidecar", "small", "static", "test", "ubuntu", "web", "worker")
COMMON_TERM, RARE_TERM = "server", "quasar"
TERMS = ((COMMON_TERM, 0.10), (RARE_TERM, 0.0005))  # (word, share of descriptions that have it)
YEAR = 365 * 24 * 3600
SEED = 9

# Search matches each query word as a prefix of a word of the name or description: no other word
# may start with a term, or the terms would match more than their share.
assert not any(w.startswith(term) for w in WORDS for term, _ in TERMS)


def _description(rng: random.Random) -> str:
    words = rng.sample(WORDS, rng.randint(3, 5))
    for term, share in TERMS:
        if rng.random() < share:
            words.insert(rng.randrange(len(words) + 1), term)
    return " ".join(words).capitalize()


def _repositories(total: int, busy: int, rng: random.Random):
    """(name, namespace, created_at, updated_at, description, pull_count, star_count) of each
    repository: `busy` of them in BUSY, the others round-robin over OTHER_NAMESPACES namespaces.
    Stars and pulls follow long-tailed (Pareto) distributions: most repositories have few, some many."""
    now = time.time()
    for i in range(total):
        namespace = BUSY if i < busy else f"ns{(i - busy) % OTHER_NAMESPACES:04d}"
        updated = now - rng.uniform(0, YEAR)
        yield (f"{namespace}/{rng.choice(WORDS)}-{i:06d}", namespace, updated - rng.uniform(0, YEAR), updated,
               _description(rng), min(int(rng.paretovariate(0.8) * 10), 10**9),
               min(int(rng.paretovariate(1.2)) - 1, 100_000))


def namespaces(total: int, busy: int) -> list[str]:
    """The namespaces `_repositories` uses (each gets a user account)."""
    return [BUSY] + [f"ns{k:04d}" for k in range(min(OTHER_NAMESPACES, max(total - busy, 0)))]


def fill(db_path: Path, total: int, busy: int) -> dict:
    """Writes a user account per namespace and `total` public repositories into the (stopped)
    Wharf's database, whose schema its first start made; the triggers of Migrations.swift index
    each repository for search. Returns the seconds it took, the counts, and how many repositories
    each search term matches (asked of the search index itself)."""
    if not db_path.exists():
        raise RuntimeError(f"no {db_path}: Wharf must run on SQLite in its data folder for scenario 9")
    rng = random.Random(SEED)
    t0 = time.monotonic()
    db = sqlite3.connect(db_path)
    try:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'repository_search'").fetchone():
            raise RuntimeError(f"{db_path} has no repository_search table: Wharf's schema is older than the Hub API")
        names = namespaces(total, busy)
        with db:
            db.executemany("INSERT INTO accounts (name, kind, created_at) VALUES (?, 'user', ?)",
                           ((n, time.time() - YEAR) for n in names))
            db.executemany("""
                INSERT INTO repositories (name, namespace, created_at, updated_at, is_private, description,
                                          full_description, pull_count, star_count)
                VALUES (?, ?, ?, ?, FALSE, ?, '', ?, ?)""", _repositories(total, busy, rng))
        matches = {term: db.execute("SELECT COUNT(*) FROM repository_search WHERE repository_search MATCH ?",
                                    (f'"{term}"*',)).fetchone()[0] for term, _ in TERMS}
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return {"fill_seconds": time.monotonic() - t0, "repos": total, "namespace_repos": busy,
            "namespaces": len(names), "matches": matches}


def first_repository(db_path: Path, namespace: str) -> str:
    """The first repository of `namespace` by name (the website's pages are measured on it)."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        row = db.execute("SELECT name FROM repositories WHERE namespace = ? ORDER BY name LIMIT 1", (namespace,)).fetchone()
    if not row:
        raise RuntimeError(f"{db_path} has no repository in {namespace}/")
    return row[0]
