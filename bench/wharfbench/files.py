"""Files of random data to push, made once per key and removed after use (unless BENCH_KEEP=1)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .console import log
from .settings import KEEP, MiB


def write_random_file(path: Path, mib: int) -> str:
    """Writes `mib` MiB of incompressible data; returns its sha256 digest."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(mib):
            block = os.urandom(MiB)
            h.update(block)
            f.write(block)
    return "sha256:" + h.hexdigest()


class BlobFiles:
    """`get(key, mib)` -> (path, digest, size) of a random file in `folder`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: dict[str, tuple[Path, str, int]] = {}

    def get(self, key: str, mib: int) -> tuple[Path, str, int]:
        if key not in self.files:
            p = self.folder / f"blob-{key}.bin"
            log(f"writing {mib} MiB of random data to {p.name}")
            self.files[key] = (p, write_random_file(p, mib), mib * MiB)
        return self.files[key]

    def remove(self, key: str):
        if key in self.files and not KEEP:
            self.files.pop(key)[0].unlink(missing_ok=True)

    def remove_all(self):
        for key in list(self.files):
            self.remove(key)
