"""Wharf and Distribution as the benchmark runs them: the e2e harness's RegistryServer, quieter."""

from __future__ import annotations

import functools
import secrets
import shutil
import textwrap
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

    def __init__(self, workdir: Path, binary: Path, password: str = "", data_dir: Path | None = None,
                 env: dict | None = None, extra_args=(), name: str = ""):
        """`env` and `extra_args` add to the benchmark's settings (PostgreSQL and S3 for scenario 10);
        `name` replaces "Wharf" in its messages and wrk files."""
        self.password = password or "bench-" + secrets.token_hex(12)
        if name:
            self.name = name
        super().__init__(workdir, binary=binary, admin_password=self.password, data_dir=data_dir,
                         env=env, extra_args=["--log-level", "warning", *extra_args])

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


class S3Distribution(Distribution):
    """Distribution with its `s3` storage driver (aws-sdk-go) on an S3-compatible store at `endpoint`,
    in `bucket` below `root`. Distribution 2.8 has no `forcepathstyle` setting: it addresses buckets
    path-style whenever `regionendpoint` is set. Blob GETs are served by the registry itself
    (`redirect: disable`), as Wharf serves them without `--blob-redirect`."""

    def __init__(self, workdir: Path, endpoint: str, bucket: str, access_key: str, secret_key: str,
                 root: str = "/bench"):
        super().__init__(workdir)
        self.s3 = {"endpoint": endpoint, "bucket": bucket, "access_key": access_key,
                   "secret_key": secret_key, "root": root}

    def _write_distribution_config(self) -> Path:
        o, s3 = self.DISTRIBUTION_OPTIONS, self.s3
        path = self.workdir / "distribution.yml"
        path.write_text(textwrap.dedent(f"""\
            version: 0.1
            log:
              level: {o["log_level"]}
              accesslog:
                disabled: true
            storage:
              cache:
                blobdescriptor: inmemory
              s3:
                accesskey: {s3["access_key"]}
                secretkey: {s3["secret_key"]}
                region: us-east-1
                regionendpoint: {s3["endpoint"]}
                bucket: {s3["bucket"]}
                rootdirectory: {s3["root"]}
                secure: false
                v4auth: true
              redirect:
                disable: true
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: {self.host}
              secret: {o["secret"]}
            """))
        return path


class Balancer(harness.NginxBalancer):
    """The e2e suite's nginx round-robin in front of Wharf replicas, as a production balancer would be
    set up for load: keep-alive connections to the replicas (`keepalive 64`; the suite's opens one per
    request), no access log, a worker per core. `name`, `auth()` and `port` make it look like a
    registry to the blob client and wrk."""

    name = "nginx"

    def config(self) -> str:
        text = super().config()
        for old, new in (("worker_processes 1;", "worker_processes 2;"),
                         ("access_log ", "access_log off; # "),
                         ("\n    }\n    server {", "\n        keepalive 64;\n    }\n    server {"),
                         ("proxy_http_version 1.1;",
                          'proxy_http_version 1.1;\n            proxy_set_header Connection "";')):
            assert old in text, f"the e2e balancer's nginx.conf no longer has {old!r}"
            text = text.replace(old, new, 1)
        return text

    def auth(self) -> dict:
        return self.upstreams[0].auth()


def in_turn(registries: list, round_number: int) -> list:
    """The registries in the order they go in this round: each goes first every other round."""
    return registries if round_number % 2 == 0 else list(reversed(registries))
