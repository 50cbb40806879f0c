"""BENCH_MERGE: an earlier run's results, less what the scenarios run again will measure anew."""

from __future__ import annotations

import json
import re

from . import scenarios
from .scenarios import memory


def merged_base(old: dict, rerun: set) -> dict:
    """The earlier results without the figures, notes and load of the scenarios in `rerun`
    (BENCH_ONLY), to redo scenarios that something else disturbed without redoing the whole run."""
    data = json.loads(json.dumps(old))
    data["merged_from"] = data.get("date")
    for scenario in scenarios.ALL:
        n = str(scenario.NUMBER)
        if n not in rerun:
            continue
        if scenario is memory:
            memory.forget_rerun(data["scenarios"].get(memory.KEY, {}))
        else:
            data["scenarios"].pop(scenario.KEY, None)
    for n in rerun:
        for k in ("loadavg", "foreign_cores"):
            data["scenarios"].get(k, {}).pop(n, None)
    data["notes"] = [t for t in data.get("notes", [])
                     if not any(re.search(rf"scenario {n}\b", t) for n in rerun)]
    data["rerun"] = sorted(rerun)
    return data
