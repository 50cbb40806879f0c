"""One benchmark run: both registries up, each wanted scenario in turn on a quiet machine, results.json."""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

from . import about, scenarios
from .console import log
from .files import BlobFiles
from .machine import QUIET_CORES, ForeignCpu, loadavg, wait_for_quiet
from .registries import Distribution, Wharf
from .results import Results
from .scenarios import limits, memory
from .settings import wanted
from .shared import oci


class Bench:
    """What the scenarios share: `workdir`, `res`, `wharf`, `dist`, `registries`, `files` and
    `image` (a small OCI image for the manifest, tag and catalog scenarios)."""

    def __init__(self, workdir: Path, wharf_bin: Path, res: Results | None = None):
        self.workdir = workdir
        self.wharf_bin = wharf_bin
        self.res = res or Results()
        self.wharf = Wharf(workdir / "wharf", wharf_bin)
        self.dist = Distribution(workdir / "distribution")
        self.registries = [self.wharf, self.dist]
        self.files = BlobFiles(workdir)
        self.image = oci.make_image(n_layers=1, layer_size=1024, seed=os.urandom(8).hex())

    def start_registries(self):
        for reg in self.registries:
            log(f"starting {reg.name} on {reg.url}")
            reg.start_fresh()
            memory.record_idle(self, reg)

    def check_alive(self):
        for reg in self.registries:
            if not reg.is_running():
                code = reg.proc.returncode if reg.proc else "?"
                self.res.note(f"{reg.name} was not running (exit code {code}); restarted on its data folder. "
                              f"See {reg.log_path}.")
                reg.cleanup()
                reg.start()

    def measure_limits(self):
        wait_for_quiet("the machine limits")
        others = ForeignCpu()
        if self.res.data.get("merged_from") and not ({"1", "2"} & set(self.res.data.get("rerun", []))):
            log("machine limits: kept from the earlier run (scenarios 1 and 2 do not run again)")
        else:
            limits.run(self)
        cores = others.cores()
        self.res.scenario("foreign_cores")["limits"] = cores
        if cores >= QUIET_CORES:
            self.res.note(f"while the machine limits were measured, other processes used {cores:.2f} cores.")

    def run_scenario(self, scenario, attempt: int = 1):
        """Runs a scenario module on a quiet machine; once more (RETRYABLE) if others were busy."""
        n = scenario.NUMBER
        waited, before = wait_for_quiet(f"scenario {n}")
        if waited > 5:
            log(f"  waited {waited:.0f} s for a quiet machine")
        if before >= QUIET_CORES:
            self.res.note(f"scenario {n} started although other processes still used {before:.2f} cores "
                          f"after {waited:.0f} s of waiting.")
        self.res.scenario("loadavg")[str(n)] = loadavg()
        others = ForeignCpu()
        try:
            scenario.run(self)
        except Exception as exc:  # noqa: BLE001 - report and go on with the next scenario
            traceback.print_exc()
            self.res.note(f"scenario {n} failed: {exc}")
        cores = others.cores()
        self.res.scenario("foreign_cores")[str(n)] = cores
        if cores >= QUIET_CORES:
            if scenario.RETRYABLE and attempt == 1:
                log(f"  other processes used {cores:.2f} cores during scenario {n}: running it again")
                return self.run_scenario(scenario, attempt=2)
            self.res.note(f"during scenario {n}, processes other than the benchmark used {cores:.2f} cores on "
                          f"average (of {os.cpu_count()}): its figures may be low.")
        elif attempt == 2:
            self.res.note(f"scenario {n} ran twice: other processes were busy during the first run.")

    def run(self):
        """Everything, then results.json in the work folder."""
        t_start = time.monotonic()
        self.res.data.update(about.describe(self.workdir, self.wharf_bin, self.dist))
        try:
            self.measure_limits()
            self.start_registries()
            for scenario in scenarios.WHILE_RUNNING:
                if wanted(scenario.NUMBER):
                    self.check_alive()
                    self.run_scenario(scenario)
            for reg in self.registries:
                reg.stop()
            for scenario in scenarios.AFTER_STOP:
                if wanted(scenario.NUMBER):
                    self.run_scenario(scenario)
        finally:
            for reg in self.registries:
                reg.stop()
            self.files.remove_all()
            self.res["total_seconds"] = time.monotonic() - t_start
            (self.workdir / "results.json").write_text(json.dumps(self.res.data, indent=2, default=str))
