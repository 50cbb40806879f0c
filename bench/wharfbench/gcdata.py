"""A stopped Wharf's data folder filled with images, half of them deleted, for garbage collection
(scenario 11): repositories of one tagged image each (a config and layers, each blob its own),
written straight into wharf.db with sqlite3 and as blob files under blobs/sha256/; then half of the
repositories are deleted from the database as a repository DELETE leaves them (their blobs stay on
disk and in `blobs`, linked by nothing). Pushing 100,000 blobs through the HTTP API would take far
longer than the collection measured."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import sqlite3
import time
from pathlib import Path

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
MIN_BYTES, MAX_BYTES = 1024, 4096   # each blob's size, uniform
REPOS_PER_NAMESPACE = 100
DAY = 86400
SEED = 11


def layout(total_blobs: int, per_repo: int) -> tuple[int, int]:
    """(repositories, blobs per repository): at least 2 repositories (one kept, one deleted) of at
    least 2 blobs (a config and a layer), as close to `total_blobs` as whole repositories allow."""
    per_repo = max(2, per_repo)
    return max(2, total_blobs // per_repo), per_repo


def repository(i: int) -> str:
    return f"gc{i // REPOS_PER_NAMESPACE:04d}/app-{i:06d}"


def blob_path(data_dir: Path, hex_digest: str) -> Path:
    """Where Wharf's filesystem storage keeps the blob (ContentAddressedBlobStore.key)."""
    return data_dir / "blobs" / "sha256" / hex_digest[:2] / hex_digest


def _write_blob(data_dir: Path, content: bytes) -> tuple[str, int]:
    hex_digest = hashlib.sha256(content).hexdigest()
    blob_path(data_dir, hex_digest).write_bytes(content)
    return "sha256:" + hex_digest, len(content)


def _image(data_dir: Path, layers: int, rng: random.Random) -> tuple[list, bytes, str]:
    """Writes `layers` random layer files and a config file; returns ([(digest, size)] of config
    then layers, the manifest's bytes, its digest)."""
    blobs = [_write_blob(data_dir, os.urandom(rng.randint(MIN_BYTES, MAX_BYTES))) for _ in range(layers)]
    config = {"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": [d for d, _ in blobs]},
              "history": [{"created_by": f"bench layer {k}"} for k in range(layers)]}
    raw = json.dumps(config).encode()
    # Padded to the same sizes as the layers (JSON ignores trailing whitespace).
    raw += b" " * max(0, rng.randint(MIN_BYTES, MAX_BYTES) - len(raw))
    config_blob = _write_blob(data_dir, raw)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config_blob[0], "size": config_blob[1]},
        "layers": [{"mediaType": LAYER_TYPE, "digest": d, "size": s} for d, s in blobs],
    }, separators=(",", ":")).encode()
    return [config_blob] + blobs, manifest, "sha256:" + hashlib.sha256(manifest).hexdigest()


def fill(data_dir: Path, total_blobs: int, per_repo: int) -> dict:
    """Fills the stopped Wharf's data folder (whose schema its first start made): repositories of
    one image tagged `latest` each, every blob its own file, all rows in one transaction; then
    deletes every other repository's rows (tags, references, manifests, links, the repository) in a
    second. Returns the counts, the garbage's blobs and bytes, and the seconds each step took."""
    db_path = data_dir / "wharf.db"
    if not db_path.exists():
        raise RuntimeError(f"no {db_path}: Wharf must run on SQLite in its data folder for scenario 11")
    repos, per_repo = layout(total_blobs, per_repo)
    rng = random.Random(SEED)
    now = time.time()
    t0 = time.monotonic()
    for k in range(256):
        (data_dir / "blobs" / "sha256" / f"{k:02x}").mkdir(parents=True, exist_ok=True)
    rows = {"repositories": [], "blobs": [], "repository_blobs": [], "manifests": [], "references": [], "tags": []}
    garbage = {"blobs": 0, "bytes": 0}
    for i in range(repos):
        name = repository(i)
        created = now - rng.uniform(2, 30) * DAY
        blobs, manifest, manifest_digest = _image(data_dir, per_repo - 1, rng)
        rows["repositories"].append((name, name.split("/")[0], created, created))
        rows["blobs"] += [(d, s, created) for d, s in blobs]
        rows["repository_blobs"] += [(name, d, created) for d, _ in blobs]
        rows["manifests"].append((name, manifest_digest, MANIFEST_TYPE, manifest, created))
        rows["references"] += [(name, manifest_digest, d) for d, _ in blobs]
        rows["tags"].append((name, manifest_digest, created))
        if i % 2 == 1:
            garbage["blobs"] += len(blobs)
            garbage["bytes"] += sum(s for _, s in blobs)
    os.sync()  # the collection should not pay for writing back the seeding's files
    t_files = time.monotonic()
    db = sqlite3.connect(db_path)
    try:
        with db:
            db.executemany("""
                INSERT INTO repositories (name, namespace, created_at, updated_at, is_private, description)
                VALUES (?, ?, ?, ?, FALSE, '')""", rows["repositories"])
            db.executemany("INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)", rows["blobs"])
            db.executemany("INSERT INTO repository_blobs (repository, digest, created_at) VALUES (?, ?, ?)",
                           rows["repository_blobs"])
            db.executemany("""
                INSERT INTO manifests (repository, digest, media_type, content, created_at, untagged_since)
                VALUES (?, ?, ?, ?, ?, NULL)""", rows["manifests"])
            db.executemany("INSERT INTO manifest_references (repository, manifest, digest, kind) VALUES (?, ?, ?, 'blob')",
                           rows["references"])
            db.executemany("INSERT INTO tags (repository, name, manifest, updated_at, pushed_by) VALUES (?, 'latest', ?, ?, 'admin')",
                           rows["tags"])
        t_rows = time.monotonic()
        deleted = [(repository(i),) for i in range(1, repos, 2)]
        with db:
            for table, column in (("tags", "repository"), ("manifest_references", "repository"),
                                  ("manifests", "repository"), ("repository_blobs", "repository"),
                                  ("repositories", "name")):
                db.executemany(f"DELETE FROM {table} WHERE {column} = ?", deleted)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    t_end = time.monotonic()
    return {"repos": repos, "blobs_per_repo": per_repo, "blobs": len(rows["blobs"]),
            "bytes": sum(s for _, s, _ in rows["blobs"]), "deleted_repos": len(deleted),
            "garbage_blobs": garbage["blobs"], "garbage_bytes": garbage["bytes"],
            "files_seconds": t_files - t0, "rows_seconds": t_rows - t_files, "delete_seconds": t_end - t_rows}


def blob_files(data_dir: Path) -> int:
    """How many blob files are stored under blobs/sha256/."""
    root = data_dir / "blobs" / "sha256"
    if not root.is_dir():
        return 0
    return sum(1 for sub in os.scandir(root) if sub.is_dir() for f in os.scandir(sub.path) if f.is_file())


def blob_rows(data_dir: Path) -> dict:
    """Rows left in `blobs`, and of them those still claimed or marked orphaned (Wharf stopped)."""
    with contextlib.closing(sqlite3.connect(data_dir / "wharf.db")) as db:
        total, claimed, orphaned = db.execute(
            "SELECT COUNT(*), COUNT(deleting_at), COUNT(orphaned_at) FROM blobs").fetchone()
    return {"rows": total, "claimed": claimed, "orphaned": orphaned}
