"""Process harness for the end-to-end suite.

Starts and stops the programs the tests drive: the registry under test (Wharf, or CNCF
Distribution when ``E2E_REGISTRY=distribution``), a Docker engine and containerd.  Everything
runs on loopback only, in temporary folders, and is stopped by the fixtures in conftest.py.
Each Wharf server keeps its metadata in SQLite in its data folder, or in a fresh PostgreSQL
database (``E2E_DATABASE=postgres``), and its blobs in the data folder, or below a fresh prefix
of an S3 bucket (``E2E_STORAGE=s3``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
REGISTRY_KIND = os.environ.get("E2E_REGISTRY", "wharf").strip().lower() or "wharf"
if REGISTRY_KIND not in ("wharf", "distribution"):
    raise RuntimeError(f"E2E_REGISTRY must be 'wharf' or 'distribution', not {REGISTRY_KIND!r}")
# Where a Wharf server under test keeps blobs: its data folder, or S3 (E2E_STORAGE=s3, with the
# WHARF_TEST_S3_* variables scripts/test-s3 prints).
STORAGE_KIND = os.environ.get("E2E_STORAGE", "filesystem").strip().lower() or "filesystem"
if STORAGE_KIND not in ("filesystem", "s3"):
    raise RuntimeError(f"E2E_STORAGE must be 'filesystem' or 's3', not {STORAGE_KIND!r}")


# --------------------------------------------------------------------------------------
# Running commands
# --------------------------------------------------------------------------------------

def _tail(text: str, limit: int = 6000) -> str:
    text = text or ""
    return text if len(text) <= limit else "…" + text[-limit:]


def run(
    cmd: Sequence[str],
    *,
    timeout: float = 120,
    check: bool = True,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[os.PathLike] = None,
    input: Optional[str] = None,
) -> subprocess.CompletedProcess:
    """Run a command, capture stdout/stderr as text, fail the test with both on error."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    shown = " ".join(str(c) for c in cmd)
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            env=full_env,
            cwd=cwd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise AssertionError(
            f"command timed out after {timeout}s: {shown}\n--- stdout ---\n{_tail(out)}\n"
            f"--- stderr ---\n{_tail(err)}"
        ) from None
    except FileNotFoundError:
        raise AssertionError(
            f"command not found: {cmd[0]} (run ./scripts/test, which installs the e2e tools)"
        ) from None
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed with exit code {proc.returncode}: {shown}\n"
            f"--- stdout ---\n{_tail(proc.stdout)}\n--- stderr ---\n{_tail(proc.stderr)}"
        )
    return proc


def die_with_parent(sig: int = signal.SIGKILL):
    """preexec_fn: have the kernel send `sig` to the child when pytest dies, so a killed test
    run leaves no registry or daemon behind (Linux PR_SET_PDEATHSIG)."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def preexec():
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG

    return preexec


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed; ./scripts/test installs the e2e tools")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - polled predicate, reported on timeout
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (
        f" (last error: {last_exc!r})" if last_exc else ""))


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc/PID/status (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def files_under(root: Path) -> dict:
    """{relative path: size} of every regular file below root (empty if root is missing)."""
    result = {}
    if not root.exists():
        return result
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            try:
                result[str(p.relative_to(root))] = p.stat().st_size
            except FileNotFoundError:
                pass
    return result


def unmount_below(base: Path):
    """Lazily unmount every mount point below base (deepest first)."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f]
    prefix = str(base).rstrip("/") + "/"
    for mountpoint in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", mountpoint], check=False, capture_output=True)


# --------------------------------------------------------------------------------------
# The registry under test
# --------------------------------------------------------------------------------------

# Wharf's first start prints: "Created the first administrator: user admin, password PASSWORD"
ADMIN_LOGIN_RE = re.compile(r"first administrator: user (\S+), password (\S+)")


_snapshot: Optional[Path] = None


def create_postgres_database() -> str:
    """A fresh database on the test PostgreSQL server (E2E_DATABASE=postgres, WHARF_TEST_POSTGRES_URL);
    its URL. The server is thrown away with all its databases after the run (scripts/test)."""
    server = os.environ.get("WHARF_TEST_POSTGRES_URL")
    if not server:
        raise AssertionError("E2E_DATABASE=postgres needs WHARF_TEST_POSTGRES_URL (scripts/test-postgres start DIR)")
    name = "wharf_e2e_" + os.urandom(8).hex()
    run(["psql", server, "-v", "ON_ERROR_STOP=1", "-q", "-c", f"CREATE DATABASE {name}"], timeout=60)
    return server.rsplit("/", 1)[0] + "/" + name


@dataclass(frozen=True)
class S3Location:
    """A storage URL ``s3://bucket/prefix?endpoint=…&region=…&path_style=true``, taken apart."""

    bucket: str
    prefix: str  # without leading or trailing "/"
    query: tuple  # ((name, value), ...) in their order

    @classmethod
    def parse(cls, url: str) -> "S3Location":
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise AssertionError(f"not an s3://bucket/prefix?… storage URL: {url!r}")
        return cls(parts.netloc, parts.path.strip("/"), tuple(parse_qsl(parts.query)))

    @property
    def url(self) -> str:
        # Keep ':' and '/' of the endpoint readable, as scripts/test-s3 prints them.
        return f"s3://{self.bucket}/{self.prefix}?" + urlencode(self.query, safe=":/")

    @property
    def endpoint(self) -> str:
        return dict(self.query)["endpoint"]

    @property
    def region(self) -> str:
        return dict(self.query).get("region", "us-east-1")

    def key(self, below: str = "") -> str:
        """The object key (or key prefix) of `below` under this location's prefix."""
        return f"{self.prefix}/{below}" if self.prefix else below

    def child(self, name: str) -> "S3Location":
        return S3Location(self.bucket, self.key(name).strip("/"), self.query)


def s3_test_store() -> tuple:
    """(S3Location of the test bucket, access key, secret key): the store scripts/test-s3 started."""
    names = ("WHARF_TEST_S3_URL", "WHARF_TEST_S3_ACCESS_KEY", "WHARF_TEST_S3_SECRET_KEY")
    values = [os.environ.get(name) for name in names]
    if not all(values):
        raise AssertionError(f"E2E_STORAGE=s3 needs {', '.join(names)} "
                             f"(eval \"$(scripts/test-s3 start DIR)\")")
    return S3Location.parse(values[0]), values[1], values[2]


def create_s3_storage_url() -> str:
    """A fresh prefix in the test bucket (E2E_STORAGE=s3, WHARF_TEST_S3_*): the storage URL
    (`--storage`, WHARF_STORAGE) of an empty store. The bucket is thrown away with the whole
    S3 server after the run (scripts/test)."""
    location, _, _ = s3_test_store()
    return location.child("wharf-e2e-" + os.urandom(8).hex()).url


def s3_credentials_env() -> dict:
    """The environment that gives a Wharf server the test store's key."""
    _, access_key, secret_key = s3_test_store()
    return {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}


_s3_client = None


def s3_client():
    """A boto3 client for the test store, to look at what a server stored there."""
    global _s3_client
    if _s3_client is None:
        import boto3  # only runs with E2E_STORAGE=s3 need it
        from botocore.config import Config

        location, access_key, secret_key = s3_test_store()
        _s3_client = boto3.client(
            "s3", endpoint_url=location.endpoint, region_name=location.region,
            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            # Plain HTTP on loopback: no CA bundle (AWS_CA_BUNDLE) is read for it.
            verify=False if location.endpoint.startswith("http:") else None,
            config=Config(s3={"addressing_style": "path"}))
    return _s3_client


def s3_objects(location: S3Location, below: str = "") -> dict:
    """{key relative to `below` under the location's prefix: size} of every object there."""
    start = location.key(below)
    result = {}
    for page in s3_client().get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=start):
        for obj in page.get("Contents", []):
            result[obj["Key"][len(start):]] = obj["Size"]
    return result


def s3_read(location: S3Location, below: str) -> bytes:
    return s3_client().get_object(Bucket=location.bucket, Key=location.key(below))["Body"].read()


def s3_delete_all(location: S3Location):
    """Delete every object under the location's prefix."""
    keys = [location.key(k) for k in s3_objects(location)]
    for i in range(0, len(keys), 1000):
        s3_client().delete_objects(Bucket=location.bucket, Delete={
            "Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})


def built_wharf_binary() -> Path:
    """$WHARF_BIN (relative to the repository root) or .build/debug/wharf."""
    env = os.environ.get("WHARF_BIN")
    path = Path(env) if env else REPO_ROOT / ".build" / "debug" / "wharf"
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def snapshot_wharf_binary(folder: Path) -> Path:
    """Copy the built binary once per session, so a rebuild during the run (the linker
    rewriting .build/debug/wharf: 'Text file busy', or a half-written file) cannot mix two
    versions of the server in one run.  Its resource bundles (`*.resources`: the OpenAPI
    document) go along: Bundle.module looks for them next to the executable first."""
    global _snapshot
    source = built_wharf_binary()
    if not source.exists():
        raise AssertionError(f"wharf binary not found at {source}; run `swift build` "
                             f"(or set WHARF_BIN)")
    target = Path(folder) / "wharf"
    for _ in range(60):
        before = source.stat()
        shutil.copy2(source, target)
        for bundle in source.parent.glob("*.resources"):
            shutil.copytree(bundle, Path(folder) / bundle.name, dirs_exist_ok=True)
        after = source.stat()
        if (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size) and \
                subprocess.run([str(target), "--help"], capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=60).returncode == 0:
            _snapshot = target
            return target
        time.sleep(2)  # being rebuilt right now
    raise AssertionError(f"{source} kept changing or does not run `--help`")


def wharf_binary() -> Path:
    """The wharf binary the tests run (the session's snapshot once conftest has taken it)."""
    return _snapshot or built_wharf_binary()


def distribution_config(data_dir: Path, addr: str, tls: Optional[tuple] = None, *,
                        log_level: str = "info", access_log: bool = True,
                        blob_cache: bool = False, secret: str = "e2e-not-a-secret") -> str:
    """Distribution's YAML configuration: filesystem storage in data_dir, listening on addr.
    blob_cache turns on its in-memory blob descriptor cache (the benchmarks use it)."""
    cache = """
              cache:
                blobdescriptor: inmemory""" if blob_cache else ""
    tls_text = f"""
              tls:
                certificate: {tls[0]}
                key: {tls[1]}""" if tls else ""
    return textwrap.dedent(f"""\
            version: 0.1
            log:
              level: {log_level}
              accesslog:
                disabled: {'false' if access_log else 'true'}
            storage:{cache}
              filesystem:
                rootdirectory: {data_dir}
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: {addr}
              secret: {secret}{tls_text}
            """)


class RegistryServer:
    """One registry process on 127.0.0.1 with its own data folder.

    Attributes: ``url`` (http[s]://127.0.0.1:PORT), ``host`` (127.0.0.1:PORT, what clients
    put in image references), ``data_dir``, ``proc``, ``port``, ``kind``.
    ``blobs_dir`` / ``uploads_dir`` are where finished blobs and upload staging live on disk;
    with S3 storage (``E2E_STORAGE=s3``: a fresh prefix per server, in WHARF_STORAGE) they stay
    empty and ``s3_storage`` says where they are instead.  ``stored_blobs()``,
    ``staged_upload_bytes()`` and ``verify_stored_blobs()`` look at either.
    ``credentials`` is (user, password) of the administrator Wharf creates on first start:
    the password is the one given (``admin_password=`` or WHARF_ADMIN_PASSWORD in ``env``),
    else the random one Wharf prints once in its log, read from there as a person would.
    None for Distribution, which runs without authentication.
    ``binary`` is the wharf binary to run (default: ``wharf_binary()``);
    ``DISTRIBUTION_OPTIONS`` are keyword arguments for ``distribution_config``.
    """

    READY_TIMEOUT = 60
    DISTRIBUTION_OPTIONS: Mapping[str, object] = {}

    def __init__(
        self,
        workdir: Path,
        *,
        kind: str = REGISTRY_KIND,
        data_dir: Optional[Path] = None,
        extra_args: Iterable[str] = (),
        tls: Optional[tuple] = None,
        env: Optional[Mapping[str, str]] = None,
        use_env_config: bool = False,
        admin_password: Optional[str] = None,
        binary: Optional[Path] = None,
    ):
        self.kind = kind
        self.binary = Path(binary) if binary else None
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.extra_args = list(extra_args)
        self.tls = tls  # (cert_path, key_path) or None
        self.env = dict(env or {})
        self.use_env_config = use_env_config
        self.port = free_port()
        if admin_password:
            self.env["WHARF_ADMIN_PASSWORD"] = admin_password
        if kind == "wharf" and os.environ.get("E2E_DATABASE") == "postgres":
            self.env.setdefault("WHARF_DATABASE", create_postgres_database())
        if kind == "wharf" and STORAGE_KIND == "s3":
            self.env.setdefault("WHARF_STORAGE", create_s3_storage_url())
            for name, value in s3_credentials_env().items():
                self.env.setdefault(name, value)
        self.credentials = None
        if kind == "wharf" and self.env.get("WHARF_ADMIN_PASSWORD"):
            self.credentials = ("admin", self.env["WHARF_ADMIN_PASSWORD"])
        self.proc: Optional[subprocess.Popen] = None
        self.starts = 0
        self.log_path = self.workdir / "server.log"
        self._log_file = None

    # -- addresses -------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def blobs_dir(self) -> Path:
        if self.kind == "distribution":
            return self.data_dir / "docker" / "registry" / "v2" / "blobs"
        return self.data_dir / "blobs"

    @property
    def uploads_dir(self) -> Path:
        if self.kind == "distribution":
            return self.data_dir / "docker" / "registry" / "v2" / "repositories"
        return self.data_dir / "uploads"

    @property
    def s3_storage(self) -> Optional[S3Location]:
        """Where this server keeps its blobs when that is S3 (WHARF_STORAGE=s3://…), else None."""
        url = self.env.get("WHARF_STORAGE", "") if self.kind == "wharf" else ""
        return S3Location.parse(url) if url.startswith("s3://") else None

    @property
    def blob_storage(self) -> str:
        """Where the blobs are, for messages."""
        s3 = self.s3_storage
        return f"s3://{s3.bucket}/{s3.key('blobs/')}" if s3 else str(self.blobs_dir)

    @property
    def upload_storage(self) -> str:
        """Where uploads in progress are staged, for messages."""
        s3 = self.s3_storage
        return f"s3://{s3.bucket}/{s3.key('uploads/')}" if s3 else str(self.uploads_dir)

    def stored_blobs(self) -> dict:
        """{path below the blob root: size} of every stored blob: the files under blobs_dir, or
        the objects under PREFIX/blobs/ in S3 (the same `sha256/ab/<hex>` paths both ways: the
        content-addressed store's keys, which every storage driver keeps)."""
        s3 = self.s3_storage
        return s3_objects(s3, "blobs/") if s3 else files_under(self.blobs_dir)

    def staged_upload_bytes(self) -> int:
        """Bytes of uploads in progress: the files under uploads_dir, or the objects under
        PREFIX/uploads/ in S3."""
        s3 = self.s3_storage
        return sum((s3_objects(s3, "uploads/") if s3 else files_under(self.uploads_dir)).values())

    def verify_stored_blobs(self) -> int:
        """Every stored blob hashes to the digest its path names (see oci.verify_blobs_on_disk,
        which checks the files on disk); returns how many were checked."""
        from oci import verify_blobs_on_disk
        s3 = self.s3_storage
        if not s3:
            return verify_blobs_on_disk(self.blobs_dir)
        checked = 0
        for path in self.stored_blobs():
            parts = path.split("/")
            if parts[0] != "sha256" or len(parts[-1]) != 64:
                continue
            actual = hashlib.sha256(s3_read(s3, "blobs/" + path)).hexdigest()
            assert actual == parts[-1], (
                f"object blobs/{path} in {s3.url} hashes to {actual} "
                f"(a partial or corrupt blob is in place)")
            checked += 1
        return checked

    def delete_stored_objects(self):
        """Empty this server's S3 prefix (nothing to do for blobs in the data folder)."""
        if self.s3_storage:
            s3_delete_all(self.s3_storage)

    def auth_header(self) -> dict:
        """{'Authorization': 'Basic ...'} for the administrator, or {} without auth."""
        if not self.credentials:
            return {}
        token = base64.b64encode(":".join(self.credentials).encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @property
    def ca_cert(self):
        return str(self.tls[0]) if self.tls else True

    def client(self, authenticated: bool = True):
        """A RegistryClient for this server (as the administrator unless authenticated=False)."""
        from oci import RegistryClient
        return RegistryClient(self.url, verify=self.ca_cert,
                              auth=self.credentials if authenticated else None)

    @property
    def pid(self) -> int:
        assert self.proc is not None, "registry is not running"
        return self.proc.pid

    # -- lifecycle -------------------------------------------------------------------
    def command(self) -> list:
        if self.kind == "distribution":
            return [require_tool("docker-registry"), "serve", str(self._write_distribution_config())]
        binary = self.binary or wharf_binary()
        if not binary.exists():
            raise AssertionError(
                f"wharf binary not found at {binary}; run `swift build` (or set WHARF_BIN)")
        if self.use_env_config:
            cmd = [str(binary), "serve"]
        else:
            cmd = [str(binary), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--data-dir", str(self.data_dir)]
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        return cmd + self.extra_args

    def _write_distribution_config(self) -> Path:
        path = self.workdir / "distribution.yml"
        path.write_text(distribution_config(self.data_dir, self.host, self.tls,
                                            **self.DISTRIBUTION_OPTIONS))
        return path

    def start(self) -> "RegistryServer":
        """Start the process and wait until it serves."""
        self._wait_ready(self.spawn())
        return self

    def spawn(self) -> int:
        """Start the process without waiting for it; returns where its output begins in the log."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        # Hermetic: a developer's WHARF_* settings (and AWS_* credentials, region or profile)
        # must not leak into the server under test.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WHARF_", "AWS_"))}
        env.update(self.env)
        if self.use_env_config:
            env.update({"WHARF_HOST": "127.0.0.1", "WHARF_PORT": str(self.port),
                        "WHARF_DATA_DIR": str(self.data_dir)})
        self.starts += 1
        command = self.command()
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"\n===== start #{self.starts}: {' '.join(command)}\n".encode())
        self._log_file.flush()
        log_offset = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log_file,
            stderr=subprocess.STDOUT, env=env, cwd=self.workdir, start_new_session=True,
            preexec_fn=die_with_parent())
        return log_offset

    def _wait_ready(self, log_offset: int):
        deadline = time.monotonic() + self.READY_TIMEOUT
        expected = f"Wharf listening on {self.url}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.kind} exited with code {self.proc.returncode} before it was ready\n"
                    f"--- log ---\n{self.log_tail()}")
            if self.kind == "wharf":
                with open(self.log_path, "rb") as f:
                    f.seek(log_offset)
                    text = f.read().decode(errors="replace")
                if any(line.strip() == expected for line in text.splitlines()):
                    if self.credentials is None:
                        m = ADMIN_LOGIN_RE.search(text)
                        if m:
                            self.credentials = (m.group(1), m.group(2))
                    return
            else:
                try:
                    r = requests.get(self.url + "/v2/", timeout=1, verify=self.ca_cert)
                    if r.status_code == 200:
                        return
                except requests.RequestException:
                    pass
            time.sleep(0.05)
        raise AssertionError(
            f"{self.kind} did not print {expected!r} within {self.READY_TIMEOUT}s\n"
            f"--- log ---\n{self.log_tail()}")

    def kill9(self):
        """SIGKILL the server (a crash) and reap it."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._close_log()

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM the server and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._close_log()
                raise AssertionError(f"{self.kind} did not exit within {timeout}s of SIGTERM\n"
                                     f"--- log ---\n{self.log_tail()}")
        self._close_log()
        return self.proc.returncode

    stop = terminate

    def restart(self) -> "RegistryServer":
        """Start again on the same port and data folder (after kill9/terminate, or stops first)."""
        if self.proc and self.proc.poll() is None:
            self.terminate()
        return self.start()

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _close_log(self):
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self._close_log()

    def log_tail(self, limit: int = 8000) -> str:
        try:
            return _tail(self.log_path.read_text(errors="replace"), limit)
        except FileNotFoundError:
            return "(no log)"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


# --------------------------------------------------------------------------------------
# Replicas and a load balancer in front of them
# --------------------------------------------------------------------------------------

# Replicas share one PostgreSQL database and one S3 bucket (prefix included): tests of them run
# only on those stores.
SHARED_STORES = (REGISTRY_KIND == "wharf" and os.environ.get("E2E_DATABASE") == "postgres"
                 and STORAGE_KIND == "s3")
SHARED_STORES_SKIP_REASON = (
    "replicas share one PostgreSQL database and one S3 bucket: run Wharf with "
    "E2E_DATABASE=postgres E2E_STORAGE=s3 (scripts/test-postgres and scripts/test-s3)")
REPLICA_ADMIN_PASSWORD = "e2e-admin-password"


def start_replicas(make_registry, count: int = 2, extra_args: Iterable[str] = ()) -> list:
    """`count` running Wharf servers on the same database, storage URL (prefix included) and
    token signing key, each with a data folder of its own; `make_registry` is conftest's
    registry_factory. Their administrator is admin / REPLICA_ADMIN_PASSWORD."""
    shared = {"WHARF_DATABASE": create_postgres_database(),
              "WHARF_STORAGE": create_s3_storage_url(),
              "WHARF_ADMIN_PASSWORD": REPLICA_ADMIN_PASSWORD}
    first = make_registry(env=shared, extra_args=extra_args)
    others = [make_registry(env=shared, extra_args=extra_args, start=False)
              for _ in range(count - 1)]
    # Registry tokens must verify on all. Wharf keeps its signing key in the database, which they
    # share; a server that keeps it in the data folder (token-signing-key.pem) gets the first's.
    key = first.data_dir / "token-signing-key.pem"
    for other in others:
        if key.exists():
            shutil.copy2(key, other.data_dir / key.name)
        other.start()
        assert other.data_dir != first.data_dir and other.s3_storage == first.s3_storage
    return [first, *others]


class NginxBalancer:
    """nginx (Debian's package) on a free loopback port, balancing round-robin over `upstreams`
    (running RegistryServers) as a load balancer in front of replicas would: request and response
    bodies streamed both ways (no size limit, no buffering), Host (with its port),
    X-Forwarded-For and X-Forwarded-Proto passed on, a replica that refuses or drops a connection
    taken out for 2 s and the request handed to the next one when that is safe.

    One worker, so the round-robin is one sequence: requests made one after the other alternate
    between the replicas. No keep-alive to the upstreams: each request has a connection of its
    own (``body_bytes_in_flight`` relies on it). Every response carries ``X-Upstream-Addr``
    (the replica that answered, 127.0.0.1:PORT; both, comma-separated, when the first failed).
    ``entries()`` reads the access log (one JSON object per request: method, uri, status,
    upstream, upstream_status, location, request_length, request_time, msec: when it ended). ``host``/``url``/``credentials``
    make it look like a registry to ``Dockerd.login`` and ``RegistryClient``."""

    kind = "nginx"
    READY_TIMEOUT = 30

    def __init__(self, workdir: Path, upstreams: Sequence["RegistryServer"],
                 fail_timeout: str = "2s"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.upstreams = list(upstreams)
        self.fail_timeout = fail_timeout
        self.port = free_port()
        self.credentials = self.upstreams[0].credentials
        self.conf_path = self.workdir / "nginx.conf"
        self.access_log = self.workdir / "access.log"
        self.error_log = self.workdir / "error.log"
        self.pid_path = self.workdir / "nginx.pid"
        self.proc: Optional[subprocess.Popen] = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def config(self) -> str:
        d = self.workdir
        servers = "\n".join(  # indented as the template's lines below
            f"{' ' * 20}server {u.host} max_fails=1 fail_timeout={self.fail_timeout};"
            for u in self.upstreams)
        # Workers of a master started by root run as `nobody` unless told otherwise, and could
        # not write below the test's private temporary folder.
        user = "user root;" if os.geteuid() == 0 else ""
        fields = ",".join(f'"{name}":"${var}"' for name, var in (
            ("method", "request_method"), ("uri", "request_uri"), ("status", "status"),
            ("upstream", "upstream_addr"), ("upstream_status", "upstream_status"),
            ("location", "sent_http_location"), ("request_length", "request_length"),
            ("request_time", "request_time"), ("msec", "msec")))
        return textwrap.dedent(f"""\
            {user}
            daemon off;
            worker_processes 1;
            pid {d}/nginx.pid;
            error_log {d}/error.log info;
            events {{ worker_connections 512; }}
            http {{
                log_format wharf escape=json '{{{fields}}}';
                access_log {d}/access.log wharf;
                client_body_temp_path {d}/tmp/body;
                proxy_temp_path {d}/tmp/proxy;
                fastcgi_temp_path {d}/tmp/fastcgi;
                uwsgi_temp_path {d}/tmp/uwsgi;
                scgi_temp_path {d}/tmp/scgi;
                upstream wharf {{
{servers}
                }}
                server {{
                    listen {self.host};
                    client_max_body_size 0;
                    location / {{
                        proxy_pass http://wharf;
                        proxy_http_version 1.1;
                        # Layers stream through as they come, both ways.
                        proxy_request_buffering off;
                        proxy_buffering off;
                        proxy_set_header Host $http_host;
                        # nginx is the edge: the client is its peer, whatever the request claims.
                        proxy_set_header X-Forwarded-For $remote_addr;
                        proxy_set_header X-Forwarded-Proto $scheme;
                        # To the next replica when this one refused the connection or timed out
                        # before answering; nginx never resends a POST or PATCH it has begun to
                        # send, nor a body it has begun to stream (request buffering is off).
                        proxy_next_upstream error timeout http_502;
                        proxy_next_upstream_tries {len(self.upstreams)};
                        proxy_connect_timeout 2s;
                        proxy_send_timeout 60s;
                        proxy_read_timeout 60s;
                        add_header X-Upstream-Addr $upstream_addr always;
                    }}
                }}
            }}
            """)

    def start(self) -> "NginxBalancer":
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                           else None)
        if binary is None:
            raise AssertionError("nginx is not installed; ./scripts/test installs it (Debian's "
                                 "nginx package)")
        (self.workdir / "tmp").mkdir(exist_ok=True)
        self.conf_path.write_text(self.config())
        command = [binary, "-p", str(self.workdir), "-c", str(self.conf_path),
                   "-e", str(self.error_log)]
        checked = run([*command, "-t"], timeout=30, check=False)
        assert checked.returncode == 0, (
            f"nginx rejects its configuration\n{checked.stderr}\n--- {self.conf_path} ---\n"
            f"{self.config()}")
        out = open(self.workdir / "nginx.out", "wb")
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=die_with_parent(signal.SIGTERM))
        out.close()
        deadline = time.monotonic() + self.READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited with {self.proc.returncode} before it "
                                     f"served\n{self.log_tail()}")
            try:
                r = requests.get(self.url + "/v2/", timeout=2)
                if r.status_code in (200, 401) and r.headers.get("X-Upstream-Addr"):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError(f"nginx did not pass GET /v2/ on to a replica within "
                             f"{self.READY_TIMEOUT}s\n{self.log_tail()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish their requests
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def entries(self) -> list:
        """The access log: one dict per finished request, in the order they finished."""
        import json
        try:
            lines = self.access_log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def log_tail(self, limit: int = 6000) -> str:
        parts = []
        for path in (self.error_log, self.access_log):
            try:
                parts.append(f"--- {path.name} ---\n" + _tail(path.read_text(errors="replace"),
                                                               limit // 2))
            except FileNotFoundError:
                parts.append(f"--- {path.name} --- (none)")
        return "\n".join(parts)


def body_bytes_in_flight(port: int) -> int:
    """The most bytes any open connection to 127.0.0.1:`port` has received so far (ss's
    bytes_received): behind NginxBalancer, which opens a connection per request, more than a
    few KiB means a request body (a layer) is streaming into that server right now."""
    out = run(["ss", "-Htin", "state", "established", f"( sport = :{port} )"],
              timeout=10).stdout
    return max((int(n) for n in re.findall(r"bytes_received:(\d+)", out)), default=0)


# --------------------------------------------------------------------------------------
# Private daemons
# --------------------------------------------------------------------------------------

class PrivateDaemon:
    """A daemon of our own (dockerd, containerd) in a new folder below /tmp (``base``), logging
    to ``log_path`` there; ``stop`` ends it and removes the folder."""

    NAME = "daemon"

    def __init__(self, prefix: str):
        self.base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self.log_path = self.base / f"{self.NAME}.log"
        self.proc: Optional[subprocess.Popen] = None

    def _log_tail(self) -> str:
        return _tail(self.log_path.read_text(errors="replace"))

    def _launch(self, cmd: Sequence[str], ready, timeout: float):
        """Start cmd and poll ready() until it is true (the daemon answers)."""
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM))
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.NAME} exited with {self.proc.returncode}\n"
                                     f"{self._log_tail()}")
            if ready():
                return self
            time.sleep(0.2)
        raise AssertionError(f"{self.NAME} did not become ready\n" + self._log_tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # Snapshots may be overlay mounts; unmount anything left below our root first.
        unmount_below(self.base)
        shutil.rmtree(self.base, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Docker engine
# --------------------------------------------------------------------------------------

class Dockerd(PrivateDaemon):
    """A private dockerd (vfs storage, no networking) with its own socket."""

    NAME = "dockerd"

    def __init__(self):
        require_tool("dockerd")
        require_tool("docker")
        # Keep the exec-root short: dockerd puts containerd's socket below it.
        super().__init__("e2edk-")
        self.socket = self.base / "d.sock"
        self.env = {"DOCKER_HOST": f"unix://{self.socket}", "DOCKER_BUILDKIT": "0",
                    "DOCKER_CONFIG": str(self.base / "cli-config"),
                    "DOCKER_CLI_HINTS": "false"}
        (self.base / "cli-config").mkdir()

    def start(self):
        return self._launch(
            ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
             "--storage-driver=vfs", "--data-root", self.base / "data",
             "--exec-root", self.base / "x", "--pidfile", self.base / "pid",
             "--host", f"unix://{self.socket}"],
            lambda: self.socket.exists() and self.docker(
                "version", "--format", "{{.Server.Version}}", check=False,
                timeout=20).returncode == 0,
            timeout=90)

    def docker(self, *args, timeout: float = 300, check: bool = True):
        return run(["docker", *args], env=self.env, timeout=timeout, check=check)

    def login(self, registry: "RegistryServer"):
        """docker login to the registry as its administrator (no-op without authentication)."""
        if registry.credentials:
            user, password = registry.credentials
            run(["docker", "login", "--username", user, "--password-stdin", registry.host],
                env=self.env, input=password, timeout=60)

    def image_id(self, ref: str) -> str:
        return self.docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()

    def has_image(self, ref: str) -> bool:
        return self.docker("image", "inspect", ref, check=False).returncode == 0

    def remove_all_images(self):
        """Delete every local image (no containers are ever left, so all are unused)."""
        self.docker("image", "prune", "--all", "--force")
        left = self.docker("images", "--all", "--quiet").stdout.split()
        for image in left:
            self.docker("rmi", "--force", image, check=False)
        left = self.docker("images", "--all", "--quiet").stdout.split()
        assert not left, f"images still present after removing all: {left}"


# --------------------------------------------------------------------------------------
# containerd
# --------------------------------------------------------------------------------------

class Containerd(PrivateDaemon):
    """A private containerd with its own root, state and socket (CRI plugin disabled)."""

    NAME = "containerd"

    def __init__(self):
        require_tool("containerd")
        require_tool("ctr")
        super().__init__("e2ect-")
        self.socket = self.base / "c.sock"

    def start(self):
        config = self.base / "config.toml"
        config.write_text(textwrap.dedent(f"""\
            version = 2
            root = "{self.base}/root"
            state = "{self.base}/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "{self.socket}"
            [ttrpc]
              address = "{self.socket}.ttrpc"
            [debug]
              address = ""
            [metrics]
              address = ""
            """))
        return self._launch(
            ["containerd", "--config", config],
            lambda: self.socket.exists() and self.ctr("version", check=False).returncode == 0,
            timeout=60)

    def ctr(self, *args, timeout: float = 180, check: bool = True):
        return run(["ctr", "--address", str(self.socket), *args], timeout=timeout, check=check)

    def pull(self, registry: "RegistryServer", ref: str, *args):
        """ctr images pull over plain HTTP, with the registry's credentials if it has any."""
        user = ["--user", ":".join(registry.credentials)] if registry.credentials else []
        return self.ctr("images", "pull", "--plain-http", *user, *args, ref)


# --------------------------------------------------------------------------------------
# containers/image tools (skopeo, podman, buildah)
# --------------------------------------------------------------------------------------

class ContainersTools:
    """skopeo / podman / buildah with a private storage root and an accept-all policy."""

    def __init__(self, base: Path):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.policy = self.base / "policy.json"
        self.policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}\n')
        self.storage_args = ["--root", str(self.base / "root"), "--runroot",
                             str(self.base / "run"), "--storage-driver", "vfs"]
        # skopeo, podman and buildah all read credentials from REGISTRY_AUTH_FILE.
        self.auth_file = self.base / "auth.json"
        self.auth_file.write_text('{"auths": {}}')
        self.env = {"REGISTRY_AUTH_FILE": str(self.auth_file), "BUILDAH_ISOLATION": "chroot"}

    def login(self, registry: "RegistryServer", tls_verify: bool = False, cert_dir=None):
        """Store the registry's administrator credentials (no-op without authentication)."""
        if registry.credentials:
            user, password = registry.credentials
            tls = [f"--tls-verify={'true' if tls_verify else 'false'}"]
            if cert_dir:
                tls += ["--cert-dir", str(cert_dir)]
            self.skopeo("login", *tls, "--username", user, "--password-stdin", registry.host,
                        input=password)

    def skopeo(self, *args, timeout: float = 300, check: bool = True, input=None):
        return run(["skopeo", "--policy", str(self.policy), *args], timeout=timeout, check=check,
                   env=self.env, input=input)

    def podman(self, *args, timeout: float = 300, check: bool = True):
        return run(["podman", *self.storage_args, *args], timeout=timeout, check=check,
                   env=self.env)

    def buildah(self, *args, timeout: float = 300, check: bool = True):
        return run(["buildah", *self.storage_args, *args], timeout=timeout, check=check,
                   env=self.env)

    def cleanup(self):
        subprocess.run(["buildah", *self.storage_args, "rm", "--all"], capture_output=True,
                       stdin=subprocess.DEVNULL, check=False)
        unmount_below(self.base)
        shutil.rmtree(self.base, ignore_errors=True)


DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
