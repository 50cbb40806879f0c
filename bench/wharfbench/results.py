"""What a run measured (saved as results.json), and the median of repeated measurements."""

from __future__ import annotations

import statistics

from .console import log


def median(xs):
    """The median of the values that are not None, or None."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


class Results:
    """`data`: {"notes": [...], "scenarios": {key: {...}}, "limits": {...}, and the run's facts}."""

    def __init__(self, data: dict | None = None):
        self.data: dict = data or {"notes": [], "scenarios": {}}

    def __getitem__(self, k):
        return self.data[k]

    def __setitem__(self, k, v):
        self.data[k] = v

    def scenario(self, key: str) -> dict:
        return self.data["scenarios"].setdefault(key, {})

    def note(self, text: str):
        log("NOTE: " + text)
        self.data["notes"].append(text)
