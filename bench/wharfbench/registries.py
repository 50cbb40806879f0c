"""Wharf and Distribution as the benchmark runs them: the e2e harness's RegistryServer, quieter."""

from __future__ import annotations

import functools
import secrets
import shutil
from pathlib import Path

from .console import log
from .shared import harness, oci


class BenchRegistry(harness.RegistryServer):
    """A registry on 127.0.0.1 with a data folder below `workdir`; `name` keys its results."""

    name = "?"
    KIND = "?"

    def __init__(self, workdir: Path, **kwargs):
        super().__init__(workdir, kind=self.KIND, **kwargs)

    def auth(self) -> dict:
        """The headers that authenticate as the administrator ({} without authentication)."""
        return self.auth_header()

    def new_api(self) -> "oci.RegistryClient":
        """A requests client of /v2/ that sends `auth()` with every request."""
        client = oci.RegistryClient(self.url)
        client.s.headers.update(self.auth())
        return client

    @functools.cached_property
    def api(self) -> "oci.RegistryClient":
        """The client of this registry for one thread (the benchmark's own)."""
        return self.new_api()

    def start_fresh(self) -> "BenchRegistry":
        """Starts on an empty data folder."""
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        return self.start()

    def stop(self):
        """SIGTERM and wait (SIGKILL after 30 s); does nothing when not running."""
        if self.is_running():
            try:
                self.terminate()
            except AssertionError as exc:
                log(f"{self.name}: {str(exc).splitlines()[0]}")
        self.cleanup()

    def probe(self, workdir: Path, data_dir: Path) -> "BenchRegistry":
        """Another registry like this one (same binary and password), not started."""
        raise NotImplementedError

    def version(self) -> str:
        return ""


class Wharf(BenchRegistry):
    name, KIND = "Wharf", "wharf"

    def __init__(self, workdir: Path, binary: Path, password: str = "", data_dir: Path | None = None):
        self.password = password or "bench-" + secrets.token_hex(12)
        super().__init__(workdir, binary=binary, admin_password=self.password, data_dir=data_dir,
                         extra_args=["--log-level", "warning"])

    def probe(self, workdir: Path, data_dir: Path) -> "Wharf":
        return Wharf(workdir, self.binary, self.password, data_dir)

    def bearer_token(self, scope: str) -> str:
        """A registry token from Wharf's /token, as docker gets one."""
        token = oci.TokenAuth(self.url, self.credentials, True).token([scope])
        if not token:
            raise RuntimeError(f"Wharf gave no token for {scope}")
        return token


class Distribution(BenchRegistry):
    name, KIND = "Distribution", "distribution"
    DISTRIBUTION_OPTIONS = {"log_level": "warn", "access_log": False, "blob_cache": True,
                            "secret": "bench-not-a-secret"}

    def probe(self, workdir: Path, data_dir: Path) -> "Distribution":
        return Distribution(workdir, data_dir=data_dir)

    def version(self) -> str:
        return harness.run(["docker-registry", "--version"], check=False).stdout.strip()


def in_turn(registries: list, round_number: int) -> list:
    """The registries in the order they go in this round: each goes first every other round."""
    return registries if round_number % 2 == 0 else list(reversed(registries))
