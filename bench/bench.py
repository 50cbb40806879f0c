#!/usr/bin/env python3
"""Wharf and CNCF Distribution, side by side, on this machine.

Run through ./bench/run (see bench/README.md). Starts both registries on 127.0.0.1 with fresh
data folders (filesystem storage for both), runs every scenario against both in the same run and
writes BENCHMARKS.md. Benchmarks are not tests: nothing here fails on a time; a target that is
missed is reported as missed.

Every load loop here is bounded in time and count and sends traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import fcntl
import datetime
import hashlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
HOST = "127.0.0.1"


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


# ---------------------------------------------------------------------------------------------
# Settings (environment; defaults are the benchmark as the issue defines it)
# ---------------------------------------------------------------------------------------------

BLOB_MIB = env_int("BENCH_BLOB_MIB", 1024)            # scenarios 1 and 2
CHUNK_MIB = env_int("BENCH_CHUNK_MIB", 16)            # scenario 1, chunked
PUSH_REPS = env_int("BENCH_PUSH_REPS", 2)             # scenario 1, pushes per mode (distinct data)
PULL_WARM_REPS = env_int("BENCH_PULL_REPS", 3)        # scenario 2, warm pulls
PULL_COLD_REPS = env_int("BENCH_PULL_COLD_REPS", 3)   # scenario 2, cold pulls (cache dropped before each)
BIG_BLOB_MIB = env_int("BENCH_BIG_BLOB_MIB", 2048)    # scenario 7, push while sampling RSS
WRK_SECONDS = env_int("BENCH_WRK_SECONDS", 20)        # scenario 3
WRK_CONNECTIONS = env_int("BENCH_WRK_CONNECTIONS", 64)
WRK_THREADS = env_int("BENCH_WRK_THREADS", 2)
TAGS = env_int("BENCH_TAGS", 10_000)                  # scenario 4
REPOS = env_int("BENCH_REPOS", 10_000)                # scenario 5
PAGE = env_int("BENCH_PAGE", 100)                     # scenarios 4 and 5, n=
LIST_WRK_SECONDS = env_int("BENCH_LIST_WRK_SECONDS", 10)          # scenario 4, wrk per list kind
LIST_WRK_CONNECTIONS = env_int("BENCH_LIST_WRK_CONNECTIONS", 16)
LISTING_REPS = env_int("BENCH_LISTING_REPS", 5)       # scenarios 4 and 5 (fewer if slow)
LISTING_BUDGET = env_int("BENCH_LISTING_BUDGET", 60)  # seconds per (registry, listing kind)
SETUP_THREADS = env_int("BENCH_SETUP_THREADS", 16)
SETUP_BUDGET = env_int("BENCH_SETUP_BUDGET", 180)     # seconds per registry for 10k setups
LAYER_MIB = env_int("BENCH_LAYER_MIB", 100)           # scenario 6, 5 layers of this size
DOCKER_REPS = env_int("BENCH_DOCKER_PULLS", 4)       # scenario 6, pulls per registry
DOCKER_PUSHES = env_int("BENCH_DOCKER_PUSHES", 3)     # scenario 6, pushes per registry (a new image each)
STARTUP_RUNS = env_int("BENCH_STARTUP_RUNS", 5)       # scenario 8
ONLY = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
OUTPUT = Path(os.environ.get("BENCH_OUTPUT", str(REPO_ROOT / "BENCHMARKS.md")))
KEEP = os.environ.get("BENCH_KEEP", "") == "1"


def wanted(n: int) -> bool:
    return not ONLY or str(n) in ONLY


def log(msg: str):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_breakdown(pid: int) -> dict:
    """Anonymous and file-backed parts of the RSS, and the page faults taken so far. The kernel maps
    cached file pages in blocks of up to 64 KiB around each file page fault (fault-around), so
    file-backed RSS can be many times the pages a process actually touched (≤ faults × 4 KiB)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile", "RssShmem"):
                    out[key.lower() + "_mib"] = int(value.split()[0]) / 1024
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out["minor_faults"] = int(fields[7])
    except (OSError, ValueError, IndexError):
        pass
    return out


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class RssSampler:
    """Samples VmRSS of a process every 100 ms in a thread; `peak_mib`, `samples`."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval = pid, interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            v = rss_kib(self.pid)
            if v:
                self.samples.append(v)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        v = rss_kib(self.pid)
        if v:
            self.samples.append(v)

    @property
    def peak_mib(self) -> float:
        return max(self.samples) / 1024 if self.samples else float("nan")


def write_random_file(path: Path, mib: int) -> str:
    """Writes `mib` MiB of incompressible data; returns its sha256 digest."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(mib):
            block = os.urandom(MiB)
            h.update(block)
            f.write(block)
    return "sha256:" + h.hexdigest()


def sh(cmd, timeout=600, check=True, env=None, input=None, cwd=None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       env=full_env, input=input, cwd=cwd,
                       stdin=None if input is not None else subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n"
                           f"{p.stderr[-3000:]}")
    return p


def drop_caches() -> tuple[bool, str]:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True, "sync; echo 3 > /proc/sys/vm/drop_caches"
    except OSError as exc:
        return False, f"could not drop the page cache ({exc})"


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except Exception:  # noqa: BLE001
        return float("nan")


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_stats() -> dict:
    """{pid: (ppid, cpu seconds incl. reaped children)} of every user-space process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        f = raw[raw.rindex(")") + 2:].split()
        ppid = int(f[1])
        if ppid == 2 or name == "2":
            continue  # kernel threads (I/O and network work done for the benchmark itself)
        out[int(name)] = (ppid, sum(int(x) for x in f[11:15]) / CLK_TCK)
    return out


def foreign_cpu_seconds() -> float:
    """CPU seconds used so far by processes that are not this benchmark or its descendants (the
    CPU time of exited processes counts through their parents), to tell whether something else
    was running on the machine during a measurement."""
    stats = _proc_stats()
    children: dict[int, list] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    mine, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        if pid not in mine:
            mine.add(pid)
            todo.extend(children.get(pid, []))
    return sum(cpu for pid, (_, cpu) in stats.items() if pid not in mine)


QUIET_WAIT = env_int("BENCH_QUIET_WAIT", 600)   # seconds to wait, per scenario, for a quiet machine
QUIET_CORES = 0.15                              # "quiet": other processes use less than this


def wait_for_quiet(what: str) -> tuple[float, float]:
    """Waits (at most QUIET_WAIT s) until other processes use < QUIET_CORES cores over 3 s.
    Returns (seconds waited, cores used by others in the last window)."""
    t0 = time.monotonic()
    announced = False
    while True:
        a = foreign_cpu_seconds()
        time.sleep(3)
        cores = (foreign_cpu_seconds() - a) / 3
        if cores < QUIET_CORES or time.monotonic() - t0 > QUIET_WAIT:
            return time.monotonic() - t0, cores
        if not announced:
            log(f"  waiting for a quiet machine before {what} (other processes use {cores:.2f} cores)")
            announced = True


def in_turn(registries: list, round_number: int) -> list:
    """The registries in the order they go in this round: each goes first every other round."""
    return registries if round_number % 2 == 0 else list(reversed(registries))


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------------------------------------
# Registries
# ---------------------------------------------------------------------------------------------

class Registry:
    name = "?"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.data_dir = self.workdir / "data"
        self._log = None
        self.session = requests.Session()
        self.session.headers.update(self.auth())

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def auth(self) -> dict:
        return {}

    def command(self) -> list:
        raise NotImplementedError

    def env(self) -> dict:
        return {}

    def start(self, data_dir: Path | None = None, fresh: bool = True) -> "Registry":
        self.data_dir = data_dir or self.data_dir
        if fresh and self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.popen()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log_path}")
            try:
                if requests.get(self.url + "/v2/", headers=self.auth(), timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} was not ready within 60 s; see {self.log_path}")

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def popen(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("WHARF_")}
        env.update(self.env())
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, cwd=self.workdir,
                                     start_new_session=True)
        return self.proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        if self._log:
            self._log.close()
            self._log = None

    def version(self) -> str:
        return ""


class Wharf(Registry):
    name = "Wharf"

    def __init__(self, workdir: Path, binary: Path):
        self.binary = binary
        self.password = "bench-" + secrets.token_hex(12)
        super().__init__(workdir)

    def auth(self) -> dict:
        token = base64.b64encode(f"admin:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def env(self) -> dict:
        return {"WHARF_ADMIN_PASSWORD": self.password}

    def command(self) -> list:
        return [str(self.binary), "serve", "--host", HOST, "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--log-level", "warning"]

    def bearer_token(self, scope: str) -> str:
        """A registry token from Wharf's /token, as docker gets one."""
        r = requests.get(self.url + "/v2/", timeout=10)
        challenge = r.headers.get("WWW-Authenticate", "")
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.get("realm", self.url + "/token")
        q = {"scope": scope}
        if "service" in params:
            q["service"] = params["service"]
        r = requests.get(realm, params=q, headers=self.auth(), timeout=10)
        r.raise_for_status()
        body = r.json()
        return body.get("token") or body["access_token"]


class Distribution(Registry):
    name = "Distribution"

    def command(self) -> list:
        config = self.workdir / "config.yml"
        config.write_text(textwrap.dedent(f"""\
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: true
            storage:
              cache:
                blobdescriptor: inmemory
              filesystem:
                rootdirectory: {self.data_dir}
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: {HOST}:{self.port}
              secret: bench-not-a-secret
            """))
        return [shutil.which("docker-registry") or "/usr/bin/docker-registry", "serve", str(config)]

    def version(self) -> str:
        return sh(["docker-registry", "--version"], check=False).stdout.strip()


# ---------------------------------------------------------------------------------------------
# Registry API (raw http.client for the bulk data: sendfile up, 1 MiB reads down)
# ---------------------------------------------------------------------------------------------

def path_of(reg: Registry, location: str) -> str:
    u = urllib.parse.urlsplit(urllib.parse.urljoin(reg.url + "/", location))
    return u.path + (("?" + u.query) if u.query else "")


def with_query(path: str, **params) -> str:
    return path + ("&" if "?" in path else "?") + urllib.parse.urlencode(params)


def connect(reg: Registry) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(HOST, reg.port, timeout=600, blocksize=MiB)


def send_file_request(conn, method: str, path: str, headers: dict, file_path: Path | None,
                      offset: int = 0, length: int = 0) -> http.client.HTTPResponse:
    conn.putrequest(method, path, skip_accept_encoding=True)
    hdrs = dict(headers)
    hdrs["Content-Length"] = str(length)
    if length:
        hdrs.setdefault("Content-Type", "application/octet-stream")
    for k, v in hdrs.items():
        conn.putheader(k, v)
    conn.endheaders()
    if length:
        with open(file_path, "rb") as f:
            try:
                # socket.sendfile: os.sendfile (zero-copy) in a loop that honours the socket timeout.
                conn.sock.sendfile(f, offset=offset, count=length)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early; its response tells why
    return conn.getresponse()


def start_upload(reg: Registry, conn, repo: str) -> str:
    resp = send_file_request(conn, "POST", f"/v2/{repo}/blobs/uploads/", reg.auth(), None)
    body = resp.read()
    if resp.status != 202:
        raise RuntimeError(f"{reg.name}: POST upload -> {resp.status} {body[:300]!r}")
    return path_of(reg, resp.getheader("Location"))


def push_blob(reg: Registry, repo: str, file_path: Path, digest: str, size: int,
              chunk: int | None = None) -> float:
    """Pushes a blob (POST, then one PUT with the body, or PATCHes of `chunk` bytes and an
    empty PUT). Returns seconds from the POST to the 201."""
    conn = connect(reg)
    try:
        t0 = time.perf_counter()
        loc = start_upload(reg, conn, repo)
        if chunk is None:
            resp = send_file_request(conn, "PUT", with_query(loc, digest=digest), reg.auth(), file_path, 0, size)
        else:
            offset = 0
            while offset < size:
                n = min(chunk, size - offset)
                hdrs = dict(reg.auth())
                hdrs["Content-Range"] = f"{offset}-{offset + n - 1}"
                resp = send_file_request(conn, "PATCH", loc, hdrs, file_path, offset, n)
                body = resp.read()
                if resp.status != 202:
                    raise RuntimeError(f"{reg.name}: PATCH chunk at {offset} -> {resp.status} {body[:300]!r}")
                loc = path_of(reg, resp.getheader("Location"))
                offset += n
            resp = send_file_request(conn, "PUT", with_query(loc, digest=digest), reg.auth(), None)
        body = resp.read()
        t1 = time.perf_counter()
        if resp.status != 201:
            raise RuntimeError(f"{reg.name}: PUT upload -> {resp.status} {body[:300]!r}")
        return t1 - t0
    finally:
        conn.close()


def direct_write_rate(path: Path, data: bytes, mib: int) -> float | None:
    """MB/s writing `mib` MiB to a new file with direct I/O (O_DIRECT, 2 MiB aligned writes), then
    fsync; None where the filesystem refuses direct I/O. The file is removed afterwards."""
    import mmap
    piece = mmap.mmap(-1, 2 * MiB)  # page-aligned, as O_DIRECT needs
    piece.write(data[:2 * MiB])
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
    except OSError:
        return None
    try:
        t0 = time.perf_counter()
        for i in range(mib // 2):
            os.pwrite(fd, piece, i * 2 * MiB)
        os.fsync(fd)
        return mib * MiB / (time.perf_counter() - t0) / 1e6
    except OSError:
        return None
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


def loopback_rate(path: Path, size: int, copy: bool = False) -> float:
    """MB/s of `path` sent over a loopback TCP connection, with no HTTP, and read in 1 MiB pieces as
    `pull_blob` reads: with sendfile, or with `copy` read into one reused 1 MiB buffer and written
    to the socket. The faster of the two is what a pull could reach on this machine with this client."""
    server = socket.socket()
    server.bind((HOST, 0))
    server.listen(1)

    def send():
        conn, _ = server.accept()
        with conn, open(path, "rb", buffering=0) as f:
            if not copy:
                conn.sendfile(f)
                return
            piece = bytearray(MiB)
            view = memoryview(piece)
            while n := f.readinto(view):
                conn.sendall(view[:n])

    sender = threading.Thread(target=send)
    sender.start()
    buf = bytearray(MiB)
    view = memoryview(buf)
    got = 0
    with socket.create_connection(server.getsockname()) as client:
        t0 = time.perf_counter()
        while n := client.recv_into(view):
            got += n
        seconds = time.perf_counter() - t0
    sender.join()
    server.close()
    if got != size:
        raise RuntimeError(f"loopback: read {got} bytes, expected {size}")
    return size / seconds / 1e6


def pull_blob(reg: Registry, repo: str, digest: str, size: int) -> float:
    conn = connect(reg)
    buf = bytearray(MiB)
    try:
        t0 = time.perf_counter()
        conn.request("GET", f"/v2/{repo}/blobs/{digest}", headers=reg.auth())
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"{reg.name}: GET blob -> {resp.status} {resp.read()[:300]!r}")
        got = 0
        view = memoryview(buf)
        while True:
            n = resp.readinto(view)
            if not n:
                break
            got += n
        t1 = time.perf_counter()
        if got != size:
            raise RuntimeError(f"{reg.name}: GET blob returned {got} bytes, expected {size}")
        return t1 - t0
    finally:
        conn.close()


def push_small_blob(reg: Registry, s: requests.Session, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = s.post(f"{reg.url}/v2/{repo}/blobs/uploads/", timeout=60)
    if r.status_code != 202:
        raise RuntimeError(f"{reg.name}: POST upload -> {r.status_code} {r.text[:300]}")
    loc = urllib.parse.urljoin(reg.url + "/", r.headers["Location"])
    r = s.put(with_query(loc, digest=digest), data=data,
              headers={"Content-Type": "application/octet-stream"}, timeout=60)
    if r.status_code != 201:
        raise RuntimeError(f"{reg.name}: PUT blob -> {r.status_code} {r.text[:300]}")
    return digest


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = ", ".join([OCI_MANIFEST, "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"])


class SmallImage:
    """A tiny OCI image (config + one 1 KiB layer) for the manifest, tag and catalog scenarios."""

    def __init__(self):
        self.layer = os.urandom(1024)
        self.layer_digest = "sha256:" + hashlib.sha256(self.layer).hexdigest()
        self.config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [self.layer_digest]},
            "config": {}}, sort_keys=True).encode()
        self.config_digest = "sha256:" + hashlib.sha256(self.config).hexdigest()
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": self.config_digest, "size": len(self.config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": self.layer_digest, "size": len(self.layer)}],
        }, sort_keys=True, indent=2).encode()
        self.manifest_digest = "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    def push(self, reg: Registry, s: requests.Session, repo: str, tag: str):
        push_small_blob(reg, s, repo, self.config)
        push_small_blob(reg, s, repo, self.layer)
        put_manifest(reg, s, repo, tag, self.manifest)

    def mount_and_tag(self, reg: Registry, s: requests.Session, repo: str, source: str, tag: str):
        for digest in (self.config_digest, self.layer_digest):
            r = s.post(f"{reg.url}/v2/{repo}/blobs/uploads/",
                       params={"mount": digest, "from": source}, timeout=60)
            if r.status_code != 201:
                raise RuntimeError(f"{reg.name}: mount into {repo} -> {r.status_code} {r.text[:300]}")
        put_manifest(reg, s, repo, tag, self.manifest)


def put_manifest(reg: Registry, s: requests.Session, repo: str, tag: str, body: bytes):
    r = s.put(f"{reg.url}/v2/{repo}/manifests/{tag}", data=body,
              headers={"Content-Type": OCI_MANIFEST}, timeout=60)
    if r.status_code != 201:
        raise RuntimeError(f"{reg.name}: PUT manifest {repo}:{tag} -> {r.status_code} {r.text[:300]}")


def parallel(reg: Registry, items, fn, budget: float) -> tuple[int, float]:
    """Runs fn(session, item) for every item on SETUP_THREADS threads (one session each),
    stopping early when `budget` seconds are over. Returns (done, seconds)."""
    local = threading.local()
    deadline = time.monotonic() + budget
    done = [0]
    lock = threading.Lock()
    errors: list[str] = []

    def work(item):
        if time.monotonic() > deadline or errors:
            return
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = requests.Session()
            s.headers.update(reg.auth())
            adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1)
            s.mount("http://", adapter)
        try:
            fn(s, item)
        except Exception as exc:  # noqa: BLE001
            errors.append(str(exc))
            return
        with lock:
            done[0] += 1

    t0 = time.monotonic()
    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        list(pool.map(work, items))
    if errors:
        raise RuntimeError(f"{reg.name}: setup failed: {errors[0]}")
    return done[0], time.monotonic() - t0


def list_all(reg: Registry, first: str) -> tuple[float, int, int]:
    """GETs `first` and follows Link rel=next until done. Returns (seconds, items, requests)."""
    s = reg.session
    url = reg.url + first
    items = reqs = 0
    t0 = time.perf_counter()
    while url and reqs < 100_000:
        r = s.get(url, timeout=300)
        reqs += 1
        if r.status_code != 200:
            raise RuntimeError(f"{reg.name}: GET {url} -> {r.status_code} {r.text[:300]}")
        body = r.json()
        items += len(body.get("tags") or body.get("repositories") or [])
        nxt = r.links.get("next", {}).get("url")
        url = urllib.parse.urljoin(reg.url + "/", nxt) if nxt else None
    return time.perf_counter() - t0, items, reqs


def time_listing(reg: Registry, first: str) -> dict:
    runs = []
    items = reqs = 0
    deadline = time.monotonic() + LISTING_BUDGET
    while len(runs) < LISTING_REPS and (not runs or time.monotonic() < deadline):
        seconds, items, reqs = list_all(reg, first)
        runs.append(seconds)
    return {"seconds": median(runs), "runs": runs, "items": items, "requests": reqs}


# ---------------------------------------------------------------------------------------------
# Results and report
# ---------------------------------------------------------------------------------------------

class Results:
    def __init__(self):
        self.data: dict = {"notes": [], "scenarios": {}}

    def __getitem__(self, k):
        return self.data[k]

    def __setitem__(self, k, v):
        self.data[k] = v

    def scenario(self, key: str) -> dict:
        return self.data["scenarios"].setdefault(key, {})

    def note(self, text: str):
        log("NOTE: " + text)
        self.data["notes"].append(text)


def fmt(v, unit="", digits=None):
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    if digits is None:
        a = abs(v)
        digits = 0 if a >= 100 else (1 if a >= 10 else (2 if a >= 1 else 3))
    return f"{v:,.{digits}f}{(' ' + unit) if unit else ''}"


class Table:
    """Metric | Wharf | Distribution | Wharf advantage | Target | Met?"""

    def __init__(self):
        self.rows: list[str] = []

    def row(self, metric: str, w, d, unit: str, higher_better: bool, target: str = "", met=None,
            digits=None):
        adv = None
        if w and d and w == w and d == d and unit != "%":
            adv = (w / d) if higher_better else (d / w)
        met_s = "" if met is None else ("✅ yes" if met else "❌ no")
        self.rows.append(f"| {metric} | {fmt(w, unit, digits)} | {fmt(d, unit, digits)} | "
                         f"{fmt(adv, '×', 2) if adv else '—'} | {target} | {met_s} |")

    def counts(self, metric: str, w: dict, d: dict):
        """Items listed / requests made, for each registry's listing `w` and `d`."""
        self.rows.append(f"| {metric} | {w.get('items', '—')} / {w.get('requests', '—')} | "
                         f"{d.get('items', '—')} / {d.get('requests', '—')} | | | |")

    def setup(self, metric: str, section: dict):
        """The seconds each registry's setup took, from a scenario's results."""
        w = section.get("Wharf", {}).get("setup_seconds")
        d = section.get("Distribution", {}).get("setup_seconds")
        self.rows.append(f"| {metric} | {fmt(w)} | {fmt(d)} | {fmt(adv(w, d, False), '×', 2)} | | |")

    def render(self) -> str:
        head = ("| Metric | Wharf | Distribution | Wharf advantage | Target | Met? |\n"
                "|---|---:|---:|---:|---|---|")
        return head + "\n" + "\n".join(self.rows)


def adv(w, d, higher_better=True):
    if not w or not d:
        return None
    return w / d if higher_better else d / w


def render(res: Results) -> str:
    d = res.data
    sc = d["scenarios"]
    out = []
    out.append("# Benchmarks: Wharf and CNCF Distribution\n")
    out.append("Generated by `./bench/run` (see [bench/README.md](bench/README.md)). Both registries ran on "
               "127.0.0.1 on the same machine in the same run, each with a fresh data folder on the same "
               "disk and its filesystem storage; every scenario ran against one registry at a time while "
               "the other was idle. *Wharf advantage* is Wharf ÷ Distribution for rates and "
               "Distribution ÷ Wharf for times and sizes, so above 1× means Wharf did better. "
               "Benchmarks are not tests: nothing asserts on these numbers.\n")
    m = d["machine"]
    out.append("## Run\n")
    out.append("| | |\n|---|---|")
    if d.get("merged_from"):
        out.append(f"| Date | {d['merged_from']} (scenarios {', '.join(d['rerun'])}: {d['date']}) |")
    else:
        out.append(f"| Date | {d['date']} |")
    out.append(f"| Machine | {m['cores']} cores, {m['cpu']}, {m['memory_gib']:.0f} GiB RAM, {m['os']}, kernel {m['kernel']} |")
    out.append(f"| Disk (data folders) | {m['disk']} |")
    out.append(f"| Wharf | commit {d['wharf_commit']}, release build ({d['wharf_binary']}) |")
    out.append(f"| Distribution | `{d['distribution_version']}` (Debian package `docker-registry`), `blobdescriptor: inmemory` cache, no auth |")
    out.append(f"| Load generators | wrk {d.get('wrk_version', '?')}; Python {platform.python_version()} (http.client with sendfile for blobs, requests for the rest); Docker {d.get('docker_version', '?')} |")
    la = d["scenarios"].get("loadavg", {})
    la_s = ", ".join(f"before {k}: {v:.2f}" for k, v in la.items())
    out.append(f"| 1-minute load average | at start: {d.get('loadavg_start', float('nan')):.2f}{'; ' + la_s if la_s else ''} |")
    fc = d["scenarios"].get("foreign_cores", {})
    if fc:
        out.append("| CPU used by other processes during each step (cores) | "
                   + ", ".join(f"{k}: {v:.2f}" for k, v in fc.items()) + " |")
    if d.get("merged_from"):
        out.append(f"| Partly re-run | scenarios {', '.join(d['rerun'])} ran again on {d['date']} (same binary, "
                   f"fresh registries) because other processes had disturbed them; the rest is from the run of "
                   f"{d['merged_from']} |")
    out.append(f"| Total run time | {d.get('total_seconds', 0) / 60:.1f} min"
               f"{' (the re-run alone)' if d.get('merged_from') else ''} |")
    out.append("")

    lim = d.get("limits", {})
    if lim:
        out.append("## The machine's limits (measured in the same run)\n")
        out.append("| Measure | Rate |\n|---|---:|")
        out.append(f"| SHA-256, one core (Python hashlib / OpenSSL, 1 MiB updates over {lim.get('sha_mib')} MiB) | {fmt(lim.get('sha256_mbps'), 'MB/s')} |")
        if lim.get("openssl_sha256_mbps"):
            out.append(f"| SHA-256, one core (`openssl speed -bytes 1048576 sha256`) | {fmt(lim.get('openssl_sha256_mbps'), 'MB/s')} |")
        out.append(f"| Disk write, {lim.get('disk_mib')} MiB in 16 MiB writes + fsync, new files (median of 3: {', '.join(fmt(x) for x in lim.get('disk_fsync_runs', []))}) | {fmt(lim.get('disk_fsync_mbps'), 'MB/s')} |")
        if lim.get("disk_reused_mbps"):
            out.append(f"| The same into a file deleted just before (median of 3: {', '.join(fmt(x) for x in lim.get('disk_reused_runs', []))}) | {fmt(lim.get('disk_reused_mbps'), 'MB/s')} |")
        if lim.get("disk_direct_mbps"):
            out.append(f"| Disk write with direct I/O (`O_DIRECT`, 2 MiB writes, no page cache) + fsync, new files (median of 3: {', '.join(fmt(x) for x in lim.get('disk_direct_runs', []))}) | {fmt(lim.get('disk_direct_mbps'), 'MB/s')} |")
        for name, label in (("cat", "`cat FILE > /dev/null`"),
                            ("loopback", "The same file sent with `sendfile` over loopback TCP (no HTTP), read in 1 MiB pieces (the pull client's reader)"),
                            ("loopback_copy", "The same, but read into a 1 MiB buffer and written to the socket (no `sendfile`)")):
            for mode in ("warm", "cold"):
                runs = lim.get(f"{name}_{mode}_runs") or []
                each = f" (median of {len(runs)}: {', '.join(fmt(x) for x in runs)})" if len(runs) > 1 else ""
                out.append(f"| {label}, {BLOB_MIB} MiB, {mode} page cache{each} | {fmt(lim.get(f'{name}_{mode}_mbps'), 'MB/s')} |")
        out.append("\nMB/s are 10⁶ bytes per second throughout. The disk limit used for the push target is the "
                   "new-file rate through the page cache (what `dd conv=fsync` to a new file measures). On this "
                   "virtual machine that rate is set by memory, not by the disk: filling page cache with memory "
                   "the VM has not touched before is slow (the same slowdown shows on a tmpfs, with no disk at "
                   "all), reused memory is fast, and direct I/O, which bypasses the page cache, is faster "
                   "still. Wharf writes uploads with direct I/O; Distribution writes through the page cache.\n")

    s1 = sc.get("push")
    if s1:
        limit = lim.get("push_limit_mbps")
        out.append(f"## 1. Blob push, {BLOB_MIB} MiB\n")
        out.append(f"POST, then the whole blob in one PUT (monolithic), or in {CHUNK_MIB} MiB PATCHes with "
                   f"`Content-Range` and an empty PUT (chunked); timed from the POST to the 201. "
                   f"Median of {PUSH_REPS} pushes of distinct random data per mode. The client sends with "
                   f"`sendfile` from a warm page cache. 80 % of min(SHA-256, fsync'd disk write) = "
                   f"{fmt(limit * 0.8 if limit else None, 'MB/s')}.\n")
        t = Table()
        for mode, label in (("monolithic", "Monolithic"), ("chunked", f"Chunked ({CHUNK_MIB} MiB)")):
            w = s1.get("Wharf", {}).get(mode)
            dd = s1.get("Distribution", {}).get(mode)
            a = adv(w, dd)
            t.row(f"{label}, MB/s", w, dd, "MB/s", True, "≥ 1.5× Distribution", None if a is None else a >= 1.5)
            if limit:
                t.row(f"{label}, share of min(SHA-256, disk)", w / limit * 100 if w else None,
                      dd / limit * 100 if dd else None, "%", True, "Wharf ≥ 80 %",
                      None if not w else w / limit >= 0.8)
            sha = lim.get("sha256_mbps")
            if sha:
                t.row(f"{label}, share of SHA-256 alone (the CPU ceiling)", w / sha * 100 if w else None,
                      dd / sha * 100 if dd else None, "%", True)
            direct = lim.get("disk_direct_mbps")
            if direct:
                t.row(f"{label}, share of the direct-I/O disk rate", w / direct * 100 if w else None,
                      dd / direct * 100 if dd else None, "%", True)
        out.append(t.render() + "\n")

    s2 = sc.get("pull")
    if s2:
        out.append(f"## 2. Blob pull, {BLOB_MIB} MiB\n")
        out.append(f"`GET /v2/<name>/blobs/<digest>`, read in 1 MiB pieces and discarded. Cold: "
                   f"{s2.get('cold_note', '')} before each pull, median of {PULL_COLD_REPS} (the registries "
                   f"take turns going first). Warm: one untimed pull, then the median of {PULL_WARM_REPS}.\n")
        t = Table()
        for mode, catkey in (("cold", "cat_cold_mbps"), ("warm", "cat_warm_mbps")):
            w = s2.get("Wharf", {}).get(mode)
            dd = s2.get("Distribution", {}).get(mode)
            cat = lim.get(catkey)
            a = adv(w, dd)
            t.row(f"{mode.capitalize()} page cache, MB/s", w, dd, "MB/s", True, "≥ Distribution",
                  None if a is None else a >= 1.0)
            wr, dr = s2.get("Wharf", {}).get(mode + "_runs") or [], s2.get("Distribution", {}).get(mode + "_runs") or []
            if len(wr) > 1 or len(dr) > 1:
                t.rows.append(f"| {mode.capitalize()}, each pull | {', '.join(fmt(x) for x in wr)} MB/s | "
                              f"{', '.join(fmt(x) for x in dr)} MB/s | | | |")
            if cat:
                t.row(f"{mode.capitalize()}, share of `cat` ({mode}: {fmt(cat, 'MB/s')})",
                      w / cat * 100 if w else None, dd / cat * 100 if dd else None, "%", True,
                      "Wharf ≥ 80 %", None if not w else w / cat >= 0.8)
            for key, what in (("loopback", "loopback with `sendfile`"), ("loopback_copy", "loopback with read + write")):
                ceiling = lim.get(f"{key}_{mode}_mbps")
                if ceiling:
                    t.row(f"{mode.capitalize()}, share of {what} ({fmt(ceiling, 'MB/s')})",
                          w / ceiling * 100 if w else None, dd / ceiling * 100 if dd else None, "%", True)
        out.append(t.render() + "\n")

    s3 = sc.get("manifest")
    if s3:
        out.append("## 3. Manifest GET by tag\n")
        out.append(f"`wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s --latency` on "
                   f"`GET /v2/bench/manifest/manifests/latest` with an `Accept` header listing the OCI and "
                   f"Docker manifest types (a ~{s3.get('manifest_bytes', '?')}-byte OCI manifest). "
                   f"wrk runs on the same 2 cores as the registry. Wharf is measured with a Bearer "
                   f"token from its `/token` (what `docker pull` sends), with Basic credentials (cached "
                   f"after the first bcrypt check) and anonymously (public repository); Distribution "
                   f"runs without authentication.\n")
        t = Table()
        dist = s3.get("Distribution", {})
        for variant, label in (("bearer", "Bearer token"), ("basic", "Basic"), ("anonymous", "anonymous")):
            w = s3.get("Wharf", {}).get(variant)
            if not w:
                continue
            a = adv(w.get("rps"), dist.get("rps"))
            t.row(f"Requests/s (Wharf: {label})", w.get("rps"), dist.get("rps"), "req/s", True,
                  "≥ 5× Distribution", None if a is None else a >= 5)
            t.row(f"p50 latency (Wharf: {label})", w.get("p50_ms"), dist.get("p50_ms"), "ms", False)
            t.row(f"p99 latency (Wharf: {label})", w.get("p99_ms"), dist.get("p99_ms"), "ms", False,
                  "Wharf ≤ 10 ms", None if w.get("p99_ms") is None else w["p99_ms"] <= 10)
            if w.get("errors") or dist.get("errors"):
                t.row(f"Non-2xx / socket errors (Wharf: {label})", w.get("errors"), dist.get("errors"), "", False)
        out.append(t.render() + "\n")

    s4 = sc.get("tags")
    if s4:
        out.append(f"## 4. Tag list, {TAGS:,} tags in one repository\n")
        out.append(f"Server throughput: `wrk -t{WRK_THREADS} -c{LIST_WRK_CONNECTIONS} -d{LIST_WRK_SECONDS}s` on "
                   f"`GET /v2/<name>/tags/list` (the full list, ~{TAGS * 9 // 1000} kB of JSON) and on its first "
                   f"page `?n={PAGE}`; Wharf with a Bearer token, Distribution without authentication. "
                   f"Distribution 2.8 ignores `n` and answers every page request with the full list. "
                   f"One client: a Python `requests` client lists everything, following `Link: rel=\"next\"` "
                   f"until there is none (so the time includes parsing the JSON in Python: ~1-2 ms for "
                   f"{TAGS:,} tags); median of up to {LISTING_REPS} listings. Setup (tagging one manifest "
                   f"{TAGS:,} times on {SETUP_THREADS} threads) is not timed in the table.\n")
        t = Table()
        for kind, label in (("full_wrk", "Full list"), ("page_wrk", f"First page (n={PAGE})")):
            w = s4.get("Wharf", {}).get(kind, {})
            dd = s4.get("Distribution", {}).get(kind, {})
            a = adv(w.get("rps"), dd.get("rps"))
            t.row(f"{label}, requests/s (wrk)", w.get("rps"), dd.get("rps"), "req/s", True,
                  "≥ 10× Distribution", None if a is None else a >= 10)
            t.row(f"{label}, p99 latency (wrk)", w.get("p99_ms"), dd.get("p99_ms"), "ms", False)
        for kind, label in (("full", "Full list"), ("paged", f"Every page (n={PAGE})")):
            w = s4.get("Wharf", {}).get(kind, {})
            dd = s4.get("Distribution", {}).get(kind, {})
            t.row(f"{label}, one client, ms per complete listing", (w.get("seconds") or 0) * 1000 or None,
                  (dd.get("seconds") or 0) * 1000 or None, "ms", False)
            t.counts(f"{label}, one client, tags listed / requests", w, dd)
        t.setup(f"Setup: {TAGS:,} manifest PUTs, s", s4)
        out.append(t.render() + "\n")

    s5 = sc.get("catalog")
    if s5:
        out.append(f"## 5. Catalog, {REPOS:,} repositories\n")
        out.append(f"`GET /v2/_catalog` following `Link: rel=\"next\"` until done: with each registry's "
                   f"default page size (Wharf: 1,000; Distribution 2.8: 100 — see the request counts) and with `?n={PAGE}`. Time per complete listing, "
                   f"median of up to {LISTING_REPS}. Wharf is asked as the administrator (it lists only what "
                   f"the caller may see). Setup: per repository, two cross-repository mounts and one "
                   f"manifest PUT, on {SETUP_THREADS} threads.\n")
        t = Table()
        for kind, label in (("default", "Default page size"), ("paged", f"Paginated (n={PAGE})")):
            w = s5.get("Wharf", {}).get(kind, {})
            dd = s5.get("Distribution", {}).get(kind, {})
            a = adv(w.get("seconds"), dd.get("seconds"), False)
            t.row(f"{label}, ms per listing", (w.get("seconds") or 0) * 1000 or None,
                  (dd.get("seconds") or 0) * 1000 or None, "ms", False, "≥ 10× Distribution",
                  None if a is None else a >= 10)
            t.counts(f"{label}, repositories listed / requests", w, dd)
        t.setup(f"Setup: {REPOS:,} repositories, s", s5)
        out.append(t.render() + "\n")

    s6 = sc.get("docker")
    if s6:
        out.append(f"## 6. `docker push` and `docker pull`, 5 layers × {LAYER_MIB} MiB\n")
        out.append(f"A private `dockerd` ({s6.get('docker_version', '')}, vfs storage, no networking) builds "
                   f"`FROM scratch` with 5 `COPY` layers of {LAYER_MIB} MiB of random data each "
                   f"(~{5 * LAYER_MIB} MiB, incompressible). Push: `docker push` wall time (Docker gzips each "
                   f"layer while pushing). Pull: after removing every local image, `docker pull` wall time "
                   f"(includes vfs unpacking, the same work for both). `docker login` to Wharf first. "
                   f"{DOCKER_PUSHES} push round(s), each with a newly built image, and {DOCKER_REPS} pulls; "
                   f"the registries take turns going first; medians.\n")
        t = Table()
        for kind in ("push", "pull"):
            w = s6.get("Wharf", {}).get(kind)
            dd = s6.get("Distribution", {}).get(kind)
            a = adv(w, dd, False)
            t.row(f"docker {kind}, s", w, dd, "s", False, "no slower than Distribution",
                  None if a is None else a >= 1.0)
            wr, dr = s6.get("Wharf", {}).get(kind + "_runs") or [], s6.get("Distribution", {}).get(kind + "_runs") or []
            if len(wr) > 1 or len(dr) > 1:
                t.rows.append(f"| docker {kind}, each run | {', '.join(f'{x:.1f}' for x in wr)} s | "
                              f"{', '.join(f'{x:.1f}' for x in dr)} s | | | |")
        out.append(t.render() + "\n")

    s7 = sc.get("memory")
    if s7:
        out.append("## 7. Memory (VmRSS from /proc/PID/status, sampled every 100 ms)\n")
        out.append(f"Idle: 2 s after the registry first answered, before any scenario. Under load: peak during "
                   f"the scenario 3 wrk runs. Big push: peak while pushing a {BIG_BLOB_MIB} MiB blob "
                   f"monolithically, against the RSS just before that push.\n")
        t = Table()
        W, D = s7.get("Wharf", {}), s7.get("Distribution", {})
        t.row("RSS idle after start, MiB", W.get("idle_mib"), D.get("idle_mib"), "MiB", False,
              "Wharf ≤ 30 MiB", None if W.get("idle_mib") is None else W["idle_mib"] <= 30)
        t.row("… anonymous memory (RssAnon), MiB", W.get("rssanon_mib"), D.get("rssanon_mib"), "MiB", False)
        t.row("… file-backed pages mapped (RssFile), MiB", W.get("rssfile_mib"), D.get("rssfile_mib"), "MiB", False)
        t.row("… page faults until then (at most × 4 KiB touched)", W.get("minor_faults"), D.get("minor_faults"), "", False)
        t.row("Peak RSS under scenario 3 load, MiB", W.get("load_peak_mib"), D.get("load_peak_mib"), "MiB",
              False, "Wharf ≤ 100 MiB", None if W.get("load_peak_mib") is None else W["load_peak_mib"] <= 100)
        t.row(f"RSS before the {BIG_BLOB_MIB} MiB push, MiB", W.get("big_before_mib"), D.get("big_before_mib"),
              "MiB", False)
        t.row(f"Peak RSS during the {BIG_BLOB_MIB} MiB push, MiB", W.get("big_peak_mib"), D.get("big_peak_mib"),
              "MiB", False)
        t.row(f"Growth during the {BIG_BLOB_MIB} MiB push, MiB", W.get("big_growth_mib"),
              D.get("big_growth_mib"), "MiB", False, "Wharf ≤ +32 MiB",
              None if W.get("big_growth_mib") is None else W["big_growth_mib"] <= 32, digits=1)
        if W.get("big_mbps"):
            t.row(f"{BIG_BLOB_MIB} MiB push rate, MB/s", W.get("big_mbps"), D.get("big_mbps"), "MB/s", True)
        out.append(t.render() + "\n")

    s8 = sc.get("startup")
    if s8:
        out.append("## 8. Start-up\n")
        out.append(f"From just before the process is spawned to the first HTTP response of any status and to "
                   f"the first 200 on `GET /v2/` (Wharf with Basic credentials: anonymous /v2/ is 401). Polled "
                   f"every 2 ms with a new connection. Median of {STARTUP_RUNS} runs: on a fresh, empty data "
                   f"folder (Wharf creates its database and hashes the admin password) and on an existing "
                   f"one (a restart).\n")
        t = Table()
        W, D = s8.get("Wharf", {}), s8.get("Distribution", {})
        for mode, label in (("fresh", "empty data folder"), ("existing", "existing data folder")):
            w, dd = W.get(mode, {}), D.get(mode, {})
            t.row(f"First response ({label}), ms", w.get("first_response_ms"), dd.get("first_response_ms"),
                  "ms", False)
            t.row(f"First 200 on /v2/ ({label}), ms", w.get("first_200_ms"), dd.get("first_200_ms"), "ms",
                  False, "Wharf ≤ 300 ms", None if w.get("first_200_ms") is None else w["first_200_ms"] <= 300)
        out.append(t.render() + "\n")

    # Summary of targets
    out.append("## Targets\n")
    out.append("| Target | Result | Met? |\n|---|---|---|")
    for line in summarize(res):
        out.append(line)
    out.append("")

    held = held_back(res)
    if held:
        out.append("## What holds the unmet targets back\n")
        out.extend(held)
        out.append("")

    if d["notes"]:
        out.append("## Notes\n")
        for n in d["notes"]:
            out.append(f"- {n}")
        out.append("")
    return "\n".join(out)


def held_back(res: Results) -> list[str]:
    """A paragraph for each unmet target, with the measurements of this run that explain it."""
    sc = res.data["scenarios"]
    lim = res.data.get("limits", {})
    out = []
    pl = sc.get("pull", {})
    for mode in ("cold", "warm"):
        w, cat = pl.get("Wharf", {}).get(mode), lim.get(f"cat_{mode}_mbps")
        plain = {k: lim.get(f"{k}_{mode}_mbps") for k in ("loopback", "loopback_copy")}
        if w and cat and w / cat < 0.8 and all(plain.values()):
            out.append(f"- **Blob pull ({mode}) vs `cat`.** A pull moves every byte through a TCP connection into "
                       f"another process; `cat FILE > /dev/null` copies from the page cache into nothing. Moving the "
                       f"same file over loopback TCP to the same 1 MiB reader with no HTTP at all reaches "
                       f"{fmt(plain['loopback'], 'MB/s')} with `sendfile` and {fmt(plain['loopback_copy'], 'MB/s')} with "
                       f"read + write ({max(plain.values()) / cat * 100:.0f} % of `cat` at best), and Wharf reaches "
                       f"{fmt(w, 'MB/s')} ({w / max(plain.values()) * 100:.0f} % of the faster). "
                       + ("On 2 cores shared with the client, 80 % of `cat` is out of reach of any server. "
                          if max(plain.values()) / cat < 0.8 else
                          "The rest of the gap is Wharf's own: serving through HTTP with reads on a thread pool "
                          "handing 1 MiB pieces to the event loop. ")
                       + "Wharf cannot use `sendfile`: Hummingbird's response writer takes buffers, not files.")
        dw, dd = pl.get("Wharf", {}).get(mode), pl.get("Distribution", {}).get(mode)
        if dw and dd and dw < dd:
            out.append(f"- **Blob pull ({mode}) vs Distribution.** Each pull: Wharf "
                       f"{', '.join(fmt(x) for x in pl['Wharf'].get(mode + '_runs', []))} MB/s, Distribution "
                       f"{', '.join(fmt(x) for x in pl['Distribution'].get(mode + '_runs', []))} MB/s: the runs of "
                       f"each registry spread wider than the difference of the medians.")
    mem = sc.get("memory", {}).get("Wharf", {})
    if mem.get("idle_mib") is not None and mem["idle_mib"] > 30 and mem.get("rssanon_mib") is not None:
        out.append(f"- **Idle RSS.** Of {fmt(mem['idle_mib'], 'MiB', 1)}, {fmt(mem['rssanon_mib'], 'MiB', 1)} are "
                   f"anonymous memory (everything Wharf allocated); {fmt(mem.get('rssfile_mib'), 'MiB', 1)} are clean, "
                   f"shared pages of the executable and the Swift runtime and Foundation libraries. Start-up took "
                   f"{mem.get('minor_faults', 0):,} page faults, so it touched at most "
                   f"{fmt(mem.get('minor_faults', 0) * 4 / 1024, 'MiB', 1)}; the kernel maps up to 64 KiB of "
                   f"already-cached file pages around each fault (fault-around), which the process cannot opt out of "
                   f"(`madvise(MADV_RANDOM)` on the mappings left it unchanged, and so did linking the Swift runtime and "
                   f"Foundation statically: 39.9 MiB; both tried by hand on 2026-11-25). Those pages are page cache the "
                   f"system can drop at any time; Distribution, a single static Go binary, maps "
                   f"{fmt(sc.get('memory', {}).get('Distribution', {}).get('rssfile_mib'), 'MiB', 1)} of them.")
    dk = sc.get("docker", {})
    for kind in ("push", "pull"):
        w, dd = dk.get("Wharf", {}).get(kind), dk.get("Distribution", {}).get(kind)
        if w and dd and w > dd:
            out.append(f"- **docker {kind}.** Each run: Wharf {', '.join(f'{x:.1f}' for x in dk['Wharf'].get(kind + '_runs', []))} s, "
                       f"Distribution {', '.join(f'{x:.1f}' for x in dk['Distribution'].get(kind + '_runs', []))} s "
                       f"(medians {w:.2f} vs {dd:.2f} s). The runs of each registry spread wider than the difference: "
                       f"the time is Docker's own work, gzip while pushing and unpacking into vfs while pulling, on "
                       f"the same 2 cores.")
    return out


def summarize(res: Results) -> list[str]:
    sc = res.data["scenarios"]
    lim = res.data.get("limits", {})
    lines = []

    def add(target, result, met):
        lines.append(f"| {target} | {result} | {'—' if met is None else ('✅ yes' if met else '❌ no')} |")

    m = sc.get("manifest", {})
    w, dd = m.get("Wharf", {}).get("bearer") or m.get("Wharf", {}).get("anonymous"), m.get("Distribution")
    if w and dd:
        a = adv(w.get("rps"), dd.get("rps"))
        add("Manifest GET ≥ 5× Distribution's requests/s", f"{fmt(a, '×', 2)} ({fmt(w.get('rps'))} vs {fmt(dd.get('rps'))} req/s, Wharf with Bearer token)", a is not None and a >= 5)
        add("Manifest GET p99 ≤ 10 ms", f"{fmt(w.get('p99_ms'), 'ms')} (Wharf with Bearer token)", w.get("p99_ms") is not None and w["p99_ms"] <= 10)
    t = sc.get("tags", {})
    for kind, label in (("full_wrk", "full list"), ("page_wrk", f"first page, n={PAGE}")):
        w, dd = t.get("Wharf", {}).get(kind, {}).get("rps"), t.get("Distribution", {}).get(kind, {}).get("rps")
        a = adv(w, dd)
        if a is not None:
            add(f"Tag list (10k, {label}) ≥ 10× Distribution", f"{fmt(a, '×', 2)} ({fmt(w)} vs {fmt(dd)} req/s)", a >= 10)
    c = sc.get("catalog", {})
    for kind, label in (("default", "default pages"), ("paged", f"n={PAGE}")):
        a = adv(c.get("Wharf", {}).get(kind, {}).get("seconds"), c.get("Distribution", {}).get(kind, {}).get("seconds"), False)
        if a is not None:
            add(f"Catalog (10k, {label}) ≥ 10× Distribution", fmt(a, "×", 2), a >= 10)
    p = sc.get("push", {})
    limit = lim.get("push_limit_mbps")
    for mode in ("monolithic", "chunked"):
        w, dd = p.get("Wharf", {}).get(mode), p.get("Distribution", {}).get(mode)
        a = adv(w, dd)
        if a is not None:
            add(f"Blob push ({mode}) ≥ 1.5× Distribution", f"{fmt(a, '×', 2)} ({fmt(w, 'MB/s')} vs {fmt(dd, 'MB/s')})", a >= 1.5)
        if w and limit:
            add(f"Blob push ({mode}) ≥ 80 % of min(SHA-256, disk) = {fmt(limit * 0.8, 'MB/s')}", f"{w / limit * 100:.0f} %", w / limit >= 0.8)
    pl = sc.get("pull", {})
    for mode, catkey in (("cold", "cat_cold_mbps"), ("warm", "cat_warm_mbps")):
        w, dd = pl.get("Wharf", {}).get(mode), pl.get("Distribution", {}).get(mode)
        a = adv(w, dd)
        if a is not None:
            add(f"Blob pull ({mode}) ≥ Distribution", f"{fmt(a, '×', 2)} ({fmt(w, 'MB/s')} vs {fmt(dd, 'MB/s')})", a >= 1)
        cat = lim.get(catkey)
        if w and cat:
            plain = [x for x in (lim.get(f"loopback_{mode}_mbps"), lim.get(f"loopback_copy_{mode}_mbps")) if x]
            why = (f" (moving the same file over loopback to the same reader with no HTTP at all, the faster of "
                   f"`sendfile` and read + write, reaches {fmt(max(plain), 'MB/s')} = {max(plain) / cat * 100:.0f} % "
                   f"of `cat`; Wharf reaches {w / max(plain) * 100:.0f} % of that)") if plain else ""
            add(f"Blob pull ({mode}) ≥ 80 % of `cat` ({fmt(cat, 'MB/s')})", f"{w / cat * 100:.0f} %{why}", w / cat >= 0.8)
    dk = sc.get("docker", {})
    for kind in ("push", "pull"):
        w, dd = dk.get("Wharf", {}).get(kind), dk.get("Distribution", {}).get(kind)
        if w and dd:
            add(f"docker {kind} no slower than Distribution", f"{fmt(w, 's')} vs {fmt(dd, 's')}", w <= dd)
    mem = sc.get("memory", {}).get("Wharf", {})
    if mem.get("idle_mib") is not None:
        why = ""
        if mem.get("rssanon_mib") is not None and mem.get("minor_faults"):
            why = (f" ({fmt(mem['rssanon_mib'], 'MiB', 1)} anonymous; {fmt(mem.get('rssfile_mib'), 'MiB', 1)} are clean "
                   f"file-backed pages of the binary and Swift libraries, which the kernel maps in blocks of up "
                   f"to 64 KiB around each of {mem['minor_faults']:,} page faults (fault-around) that touched at most "
                   f"{fmt(mem['minor_faults'] * 4 / 1024, 'MiB', 1)})")
        add("RSS idle ≤ 30 MiB", fmt(mem["idle_mib"], "MiB", 1) + why, mem["idle_mib"] <= 30)
    if mem.get("load_peak_mib") is not None:
        add("RSS under load ≤ 100 MiB", fmt(mem["load_peak_mib"], "MiB", 1), mem["load_peak_mib"] <= 100)
    if mem.get("big_growth_mib") is not None:
        add(f"RSS flat (+≤ 32 MiB) while pushing {BIG_BLOB_MIB} MiB", f"+{fmt(mem['big_growth_mib'], 'MiB', 1)}", mem["big_growth_mib"] <= 32)
    st = sc.get("startup", {}).get("Wharf", {})
    for mode, label in (("fresh", "empty data folder"), ("existing", "existing data folder")):
        v = st.get(mode, {}).get("first_200_ms")
        if v is not None:
            add(f"Start-up ≤ 300 ms ({label}, first 200 on /v2/)", fmt(v, "ms"), v <= 300)
    return lines


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, workdir: Path, wharf_bin: Path):
        self.workdir = workdir
        self.wharf_bin = wharf_bin
        self.res = Results()
        self.wharf = Wharf(workdir / "wharf", wharf_bin)
        self.dist = Distribution(workdir / "distribution")
        self.registries: list[Registry] = [self.wharf, self.dist]
        self.files: dict[str, tuple[Path, str, int]] = {}
        self.image = SmallImage()
        self.extra_procs: list = []

    # -- inputs ---------------------------------------------------------------------------
    def blob_file(self, key: str, mib: int) -> tuple[Path, str, int]:
        if key not in self.files:
            p = self.workdir / f"blob-{key}.bin"
            log(f"writing {mib} MiB of random data to {p.name}")
            self.files[key] = (p, write_random_file(p, mib), mib * MiB)
        return self.files[key]

    def remove_file(self, key: str):
        if key in self.files and not KEEP:
            self.files.pop(key)[0].unlink(missing_ok=True)

    # -- machine --------------------------------------------------------------------------
    def describe_machine(self):
        cpu = "?"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = 0
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
        osname = "?"
        try:
            for line in Path("/etc/os-release").read_text().splitlines():
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip('"')
        except FileNotFoundError:
            pass
        df = sh(["df", "-hT", str(self.workdir)], check=False).stdout.splitlines()
        disk = " ".join(df[-1].split()[:3]) if len(df) > 1 else "?"
        self.res["machine"] = {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": mem_kib / 1024 / 1024,
                               "os": osname, "kernel": platform.release(),
                               "disk": f"{disk} (filesystem, type, size), {self.workdir}"}
        commit = sh(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], check=False).stdout.strip()
        dirty = sh(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "Sources", "Package.swift"],
                   check=False).stdout.strip()
        label = f"`{commit}`" + (" (with uncommitted changes in Sources/)" if dirty else "")
        head_time = sh(["git", "-C", str(REPO_ROOT), "log", "-1", "--format=%ct"], check=False).stdout.strip()
        if head_time.isdigit() and self.wharf_bin.stat().st_mtime < int(head_time):
            # BENCH_SKIP_BUILD with a binary older than HEAD: name the commit it was built after.
            before = sh(["git", "-C", str(REPO_ROOT), "log", "-1", "--format=%h",
                         f"--before=@{int(self.wharf_bin.stat().st_mtime)}"], check=False).stdout.strip()
            label = (f"`{before}` + the changes not yet committed then (the binary predates HEAD `{commit}`: "
                     f"BENCH_SKIP_BUILD=1)")
        self.res["wharf_commit"] = os.environ.get("BENCH_WHARF_COMMIT") or label
        try:
            rel = self.wharf_bin.relative_to(REPO_ROOT)
        except ValueError:
            rel = self.wharf_bin
        built = datetime.datetime.fromtimestamp(self.wharf_bin.stat().st_mtime, datetime.timezone.utc)
        self.res["wharf_binary"] = f"{rel}, built {built:%Y-%m-%d %H:%M} UTC"
        self.res["distribution_version"] = self.dist.version()
        wrk = sh(["wrk", "--version"], check=False)
        mv = re.search(r"wrk (\S+)", wrk.stdout + wrk.stderr)
        self.res["wrk_version"] = mv.group(1) if mv else "?"
        dv = sh(["docker", "--version"], check=False).stdout.strip()
        self.res["docker_version"] = dv.replace("Docker version ", "") if dv else "?"
        self.res["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.res["loadavg_start"] = loadavg()

    def machine_limits(self):
        log("machine limits: SHA-256, fsync'd disk write, cat")
        lim = self.res.data.setdefault("limits", {})
        # SHA-256 on one core over 1 GiB (64 MiB buffer, 1 MiB updates, as a streaming hasher does).
        buf = os.urandom(64 * MiB)
        mv = memoryview(buf)
        sha_mib = BLOB_MIB
        h = hashlib.sha256()
        t0 = time.perf_counter()
        done = 0
        while done < sha_mib:
            for off in range(0, len(buf), MiB):
                h.update(mv[off:off + MiB])
                done += 1
                if done >= sha_mib:
                    break
        lim["sha256_mbps"] = sha_mib * MiB / (time.perf_counter() - t0) / 1e6
        lim["sha_mib"] = sha_mib
        o = sh(["openssl", "speed", "-bytes", str(MiB), "-seconds", "3", "sha256"], check=False, timeout=60)
        mo = re.search(r"^sha256\s+([\d.]+)k\s*$", o.stdout, re.M)
        if mo:
            lim["openssl_sha256_mbps"] = float(mo.group(1)) * 1000 / 1e6
        # Disk write with fsync, on the disk the registries write to, through the page cache as
        # `dd conv=fsync` does. On this virtual machine that is much faster when the page cache
        # reuses memory freed moments before than when it must take memory the VM has not touched
        # yet, so both are measured: three new files (kept until all three are written), then three
        # rewrites of one file deleted in between; and, for reference, direct I/O (no page cache).
        disk_mib = max(1, BLOB_MIB // 16) * 16
        block = buf[:16 * MiB]

        def write_fsync(p: Path) -> float:
            t0 = time.perf_counter()
            with open(p, "wb") as f:
                for _ in range(disk_mib // 16):
                    f.write(block)
                f.flush()
                os.fsync(f.fileno())
            return disk_mib * MiB / (time.perf_counter() - t0) / 1e6

        os.sync()
        fresh = [write_fsync(self.workdir / f"fsync-test-{i}.bin") for i in range(3)]
        for i in range(3):
            (self.workdir / f"fsync-test-{i}.bin").unlink()
        reused = []
        for _ in range(3):
            reused.append(write_fsync(self.workdir / "fsync-test.bin"))
            (self.workdir / "fsync-test.bin").unlink()
        lim["disk_fsync_mbps"] = median(fresh)
        lim["disk_fsync_runs"] = fresh
        lim["disk_reused_mbps"] = median(reused)
        lim["disk_reused_runs"] = reused
        lim["disk_mib"] = disk_mib
        direct = [direct_write_rate(self.workdir / f"direct-test-{i}.bin", block, disk_mib) for i in range(3)]
        if all(direct):
            lim["disk_direct_mbps"] = median(direct)
            lim["disk_direct_runs"] = direct
        del buf, mv, block
        lim["push_limit_mbps"] = min(lim["sha256_mbps"], lim["disk_fsync_mbps"])
        # cat rate, cold and warm, on the blob file of scenario 2; and the same file sent over a
        # loopback socket to the pull client's reader, with sendfile and with read + write.
        path, _, size = self.blob_file("pull", BLOB_MIB)

        def cat() -> float:
            t0 = time.perf_counter()
            sh(["sh", "-c", f"cat '{path}' > /dev/null"])
            return size / (time.perf_counter() - t0) / 1e6

        for name, measure in (("cat", cat), ("loopback", lambda: loopback_rate(path, size)),
                              ("loopback_copy", lambda: loopback_rate(path, size, copy=True))):
            cold = []
            for _ in range(3):
                ok, how = drop_caches()
                if not ok:
                    break
                cold.append(measure())
            if cold:
                lim[f"{name}_cold_mbps"] = median(cold)
                lim[f"{name}_cold_runs"] = cold
            measure()
            warm = [measure() for _ in range(3)]
            lim[f"{name}_warm_mbps"] = median(warm)
            lim[f"{name}_warm_runs"] = warm
        log(f"  limits: {json.dumps({k: round(v, 1) for k, v in lim.items() if isinstance(v, (int, float))})}")

    # -- registries -----------------------------------------------------------------------
    def start_registries(self):
        mem = self.res.scenario("memory")
        for reg in self.registries:
            log(f"starting {reg.name} on {reg.url}")
            reg.start()
            time.sleep(2)
            mem.setdefault(reg.name, {})["idle_mib"] = rss_kib(reg.pid) / 1024
            mem[reg.name].update(rss_breakdown(reg.pid))
            log(f"  {reg.name} pid {reg.pid}, idle RSS {mem[reg.name]['idle_mib']:.1f} MiB")

    def check_alive(self):
        for reg in self.registries:
            if reg.proc is None or reg.proc.poll() is not None:
                self.res.note(f"{reg.name} was not running (exit code {reg.proc.returncode if reg.proc else '?'}); "
                              f"restarted on its data folder. See {reg.log_path}.")
                reg.start(fresh=False)

    # -- 1 --------------------------------------------------------------------------------
    def s1_push(self):
        log(f"scenario 1: blob push {BLOB_MIB} MiB, monolithic and {CHUNK_MIB} MiB chunks")
        s = self.res.scenario("push")
        for mode in ("monolithic", "chunked"):
            files = [self.blob_file(f"push-{mode}-{i}", BLOB_MIB) for i in range(PUSH_REPS)]
            for reg in self.registries:
                rates = []
                for i, (path, digest, size) in enumerate(files):
                    os.sync()
                    secs = push_blob(reg, "bench/blobs", path, digest, size,
                                     chunk=None if mode == "monolithic" else CHUNK_MIB * MiB)
                    rates.append(size / secs / 1e6)
                    log(f"  {reg.name} {mode} #{i + 1}: {secs:.2f} s, {rates[-1]:.0f} MB/s")
                s.setdefault(reg.name, {})[mode] = median(rates)
                s[reg.name][mode + "_runs"] = rates
            for i in range(PUSH_REPS):
                self.remove_file(f"push-{mode}-{i}")
        os.sync()

    # -- 2 --------------------------------------------------------------------------------
    def s2_pull(self):
        log(f"scenario 2: blob pull {BLOB_MIB} MiB, cold and warm")
        s = self.res.scenario("pull")
        path, digest, size = self.blob_file("pull", BLOB_MIB)
        for reg in self.registries:
            push_blob(reg, "bench/pull", path, digest, size)
        os.sync()
        # Cold: the page cache is dropped before every pull; the order of the registries
        # alternates from one round to the next.
        cold: dict[str, list] = {r.name: [] for r in self.registries}
        for rep in range(PULL_COLD_REPS):
            for reg in in_turn(self.registries, rep):
                ok, how = drop_caches()
                s["cold_note"] = f"`{how}`" if ok else how
                if not ok:
                    break
                secs = pull_blob(reg, "bench/pull", digest, size)
                cold[reg.name].append(size / secs / 1e6)
                log(f"  {reg.name} cold: {secs:.2f} s, {cold[reg.name][-1]:.0f} MB/s")
        if not cold[self.wharf.name]:
            self.res.note(f"cold pull skipped: {s.get('cold_note')}")
        for reg in self.registries:
            r = s.setdefault(reg.name, {})
            r["cold"] = median(cold[reg.name])
            r["cold_runs"] = cold[reg.name]
            pull_blob(reg, "bench/pull", digest, size)  # warms the cache (the last cold round dropped it)
            rates = []
            for _ in range(PULL_WARM_REPS):
                secs = pull_blob(reg, "bench/pull", digest, size)
                rates.append(size / secs / 1e6)
            r["warm"] = median(rates)
            r["warm_runs"] = rates
            log(f"  {reg.name} warm: {', '.join(f'{x:.0f}' for x in rates)} MB/s")
        self.remove_file("pull")

    # -- 3 --------------------------------------------------------------------------------
    def wrk(self, reg: Registry, headers: dict, path: str, seconds: int, connections: int = WRK_CONNECTIONS) -> dict:
        script = self.workdir / f"wrk-{reg.name}.lua"
        lua = ['wrk.method = "GET"']
        for k, v in headers.items():
            lua.append(f'wrk.headers["{k}"] = "{v}"')
        script.write_text("\n".join(lua) + "\n")
        cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
               "--latency", "-s", str(script), reg.url + path]
        with RssSampler(reg.pid) as sampler:
            p = sh(cmd, timeout=seconds + 60)
        out = p.stdout
        (self.workdir / f"wrk-{reg.name}-{int(time.time())}.txt").write_text(out)

        def dur(s: str) -> float:
            mm = re.match(r"([\d.]+)(us|ms|s|m)", s)
            v, u = float(mm.group(1)), mm.group(2)
            return v * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[u]

        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p50 = dur(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
        p99 = dur(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
        total = int(re.search(r"(\d+) requests in", out).group(1))
        errors = 0
        me = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if me:
            errors += int(me.group(1))
        ms = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        if ms:
            errors += sum(int(x) for x in ms.groups())
        return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "requests": total, "errors": errors,
                "peak_rss_mib": sampler.peak_mib}

    def s3_manifest(self):
        log(f"scenario 3: manifest GET by tag, wrk {WRK_CONNECTIONS} connections, {WRK_SECONDS} s")
        s = self.res.scenario("manifest")
        s["manifest_bytes"] = len(self.image.manifest)
        mem = self.res.scenario("memory")
        repo, path = "bench/manifest", "/v2/bench/manifest/manifests/latest"
        for reg in self.registries:
            self.image.push(reg, reg.session, repo, "latest")
            r = requests.get(reg.url + path, headers={"Accept": ACCEPT}, timeout=10)
            if reg is self.dist and r.status_code != 200:
                raise RuntimeError(f"{reg.name}: manifest GET -> {r.status_code}")
        variants = [(self.dist, "none", {})]
        token = self.wharf.bearer_token(f"repository:{repo}:pull")
        r = requests.get(self.wharf.url + path, headers={"Accept": ACCEPT, "Authorization": f"Bearer {token}"}, timeout=10)
        if r.status_code != 200:
            raise RuntimeError(f"Wharf: manifest GET with Bearer -> {r.status_code} {r.text[:200]}")
        variants += [(self.wharf, "bearer", {"Authorization": f"Bearer {token}"}),
                     (self.wharf, "basic", self.wharf.auth()),
                     (self.wharf, "anonymous", {})]
        for reg, variant, hdrs in variants:
            headers = {"Accept": ACCEPT, **hdrs}
            result = self.wrk(reg, headers, path, WRK_SECONDS)
            log(f"  {reg.name} ({variant}): {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
                f"p99 {result['p99_ms']:.2f} ms, errors {result['errors']}, peak RSS {result['peak_rss_mib']:.1f} MiB")
            if reg is self.dist:
                s["Distribution"] = result
            else:
                s.setdefault("Wharf", {})[variant] = result
            m = mem.setdefault(reg.name, {})
            m["load_peak_mib"] = max(m.get("load_peak_mib") or 0, result["peak_rss_mib"])
            if result["errors"]:
                self.res.note(f"{reg.name} ({variant}) answered {result['errors']} of {result['requests']} "
                              f"manifest GETs with an error or a socket error under wrk.")

    def set_up_each(self, s: dict, count: int, items: str, key: str, seed, make):
        """On each registry: `seed(registry)` makes the first of `count` items, then
        `make(registry, session, i)` the others (i from 1) on SETUP_THREADS threads within
        SETUP_BUDGET seconds. When a registry runs out of time, the next one gets as many items.
        Records each registry's setup_seconds and, under `key`, how many items it has."""
        for reg in self.registries:
            seed(reg)
            done, secs = parallel(reg, range(1, count), lambda sess, i: make(reg, sess, i), SETUP_BUDGET)
            r = s.setdefault(reg.name, {})
            r["setup_seconds"] = secs
            r[key] = done + 1
            log(f"  {reg.name}: created {done + 1} {items} in {secs:.1f} s")
            if done + 1 < count:
                self.res.note(f"{reg.name}: only {done + 1} of {count} {items} were created within the "
                              f"{SETUP_BUDGET} s setup budget; the other registry gets as many.")
                count = done + 1

    # -- 4 --------------------------------------------------------------------------------
    def s4_tags(self):
        log(f"scenario 4: tag list, {TAGS} tags")
        s = self.res.scenario("tags")
        repo = "bench/tags"
        self.set_up_each(s, TAGS, "tags", "tags_created",
                         lambda reg: self.image.push(reg, reg.session, repo, "t00000"),
                         lambda reg, sess, i: put_manifest(reg, sess, repo, f"t{i:05d}", self.image.manifest))
        for reg in self.registries:
            r = s[reg.name]
            r["full"] = time_listing(reg, f"/v2/{repo}/tags/list")
            r["paged"] = time_listing(reg, f"/v2/{repo}/tags/list?n={PAGE}")
            log(f"  {reg.name}: full {r['full']['seconds'] * 1000:.1f} ms ({r['full']['items']} tags, "
                f"{r['full']['requests']} requests); n={PAGE}: {r['paged']['seconds'] * 1000:.1f} ms "
                f"({r['paged']['items']} tags, {r['paged']['requests']} requests)")
            if r["paged"]["requests"] == 1 and r["paged"]["items"] > PAGE:
                self.res.note(f"{reg.name} ignored `n={PAGE}` on the tag list: it returned all "
                              f"{r['paged']['items']} tags in one response.")
        # The server's side: requests/s under wrk, which reads responses without parsing them.
        headers = {"Authorization": f"Bearer {self.wharf.bearer_token(f'repository:{repo}:pull')}"}
        for reg in self.registries:
            r = s[reg.name]
            for kind, path in (("full_wrk", f"/v2/{repo}/tags/list"), ("page_wrk", f"/v2/{repo}/tags/list?n={PAGE}")):
                r[kind] = self.wrk(reg, headers if reg is self.wharf else {}, path, LIST_WRK_SECONDS, LIST_WRK_CONNECTIONS)
                log(f"  {reg.name} {kind}: {r[kind]['rps']:.0f} req/s, p50 {r[kind]['p50_ms']:.2f} ms, "
                    f"p99 {r[kind]['p99_ms']:.2f} ms, errors {r[kind]['errors']}")
                if r[kind]["errors"]:
                    self.res.note(f"{reg.name} answered {r[kind]['errors']} of {r[kind]['requests']} tag list "
                                  f"requests ({kind}) with an error or a socket error under wrk.")

    # -- 5 --------------------------------------------------------------------------------
    def s5_catalog(self):
        log(f"scenario 5: catalog, {REPOS} repositories")
        s = self.res.scenario("catalog")
        source = "bench/catalog-source"
        self.set_up_each(s, REPOS, "repositories", "repos_created",
                         lambda reg: self.image.push(reg, reg.session, source, "latest"),
                         lambda reg, sess, i: self.image.mount_and_tag(reg, sess, f"cat/r{i - 1:05d}", source, "latest"))
        for reg in self.registries:
            r = s[reg.name]
            r["default"] = time_listing(reg, "/v2/_catalog")
            r["paged"] = time_listing(reg, f"/v2/_catalog?n={PAGE}")
            log(f"  {reg.name}: default pages {r['default']['seconds'] * 1000:.1f} ms ({r['default']['items']} repos, "
                f"{r['default']['requests']} requests); n={PAGE}: {r['paged']['seconds'] * 1000:.1f} ms "
                f"({r['paged']['items']} repos, {r['paged']['requests']} requests)")
        s["note"] = "other scenarios' repositories are listed too (the same set on both)"

    # -- 6 --------------------------------------------------------------------------------
    def s6_docker(self):
        log(f"scenario 6: docker push/pull, 5 × {LAYER_MIB} MiB")
        s = self.res.scenario("docker")
        base = Path(tempfile.mkdtemp(prefix="wbdk-", dir="/tmp"))  # short: dockerd puts sockets below it
        sock = base / "d.sock"
        env = {"DOCKER_HOST": f"unix://{sock}", "DOCKER_BUILDKIT": "0",
               "DOCKER_CONFIG": str(base / "cli"), "DOCKER_CLI_HINTS": "false"}
        (base / "cli").mkdir()
        dlog = open(self.workdir / "dockerd.log", "wb")
        proc = subprocess.Popen(["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
                                 "--storage-driver=vfs", "--data-root", str(base / "data"),
                                 "--exec-root", str(base / "x"), "--pidfile", str(base / "pid"),
                                 "--host", f"unix://{sock}"],
                                stdin=subprocess.DEVNULL, stdout=dlog, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.extra_procs.append(proc)

        def docker(*args, timeout=900, check=True, input=None):
            return sh(["docker", *args], env=env, timeout=timeout, check=check, input=input)

        def timed_docker(*args) -> tuple[float, str]:
            """Seconds a docker command takes after the disks are synced, and what it printed."""
            os.sync()
            t0 = time.monotonic()
            out = docker(*args).stdout
            return time.monotonic() - t0, out

        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"dockerd exited ({proc.returncode}); see {self.workdir / 'dockerd.log'}")
                if sock.exists() and docker("version", "--format", "{{.Server.Version}}", check=False,
                                            timeout=20).returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("dockerd did not become ready")
                time.sleep(0.2)
            s["docker_version"] = "Docker engine " + docker("version", "--format", "{{.Server.Version}}").stdout.strip()
            docker("login", "--username", "admin", "--password-stdin", f"{HOST}:{self.wharf.port}",
                   input=self.wharf.password, timeout=60)
            pushes: dict[str, list] = {r.name: [] for r in self.registries}
            pulls: dict[str, list] = {r.name: [] for r in self.registries}
            # Each push round builds an image of new random layers (pushing the same layers again
            # would be "Layer already exists" or a cross-repository mount, not an upload); the
            # registries take turns going first.
            for rnd in range(DOCKER_PUSHES):
                ctx = self.workdir / "docker-ctx"
                ctx.mkdir(exist_ok=True)
                lines = ["FROM scratch"]
                for i in range(1, 6):
                    write_random_file(ctx / f"layer{i}", LAYER_MIB)
                    lines.append(f"COPY layer{i} /layer{i}")
                (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
                t0 = time.monotonic()
                docker("build", "--tag", f"bench/img:v{rnd}", str(ctx))
                log(f"  built image v{rnd} in {time.monotonic() - t0:.1f} s")
                shutil.rmtree(ctx)
                for reg in in_turn(self.registries, rnd):
                    ref = f"{HOST}:{reg.port}/bench/img:v{rnd}"
                    docker("tag", f"bench/img:v{rnd}", ref)
                    seconds, out = timed_docker("push", ref)
                    pushes[reg.name].append(seconds)
                    log(f"  {reg.name}: docker push {pushes[reg.name][-1]:.1f} s "
                        f"({out.count('Pushed')} layers pushed)")
                    if out.count("Pushed") != 5:
                        self.res.note(f"docker push to {reg.name} pushed {out.count('Pushed')} layers, not 5: "
                                      f"{out[-300:]!r}")
            refs = {reg.name: f"{HOST}:{reg.port}/bench/img:v0" for reg in self.registries}
            # Pull: remove every local image first, so that all 5 layers are downloaded.
            for rep in range(DOCKER_REPS):
                for reg in in_turn(self.registries, rep):
                    docker("image", "prune", "--all", "--force")
                    for image in docker("images", "--all", "--quiet").stdout.split():
                        docker("rmi", "--force", image, check=False)
                    seconds, out = timed_docker("pull", refs[reg.name])
                    pulls[reg.name].append(seconds)
                    log(f"  {reg.name}: docker pull {pulls[reg.name][-1]:.1f} s "
                        f"({out.count('Pull complete')} layers)")
            for reg in self.registries:
                s.setdefault(reg.name, {})["push"] = median(pushes[reg.name])
                s[reg.name]["pull"] = median(pulls[reg.name])
                s[reg.name]["push_runs"] = pushes[reg.name]
                s[reg.name]["pull_runs"] = pulls[reg.name]
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            dlog.close()
            with open("/proc/self/mounts") as f:
                mounts = [line.split()[1] for line in f]
            for mp in sorted((m for m in mounts if m.startswith(str(base) + "/")), key=len, reverse=True):
                subprocess.run(["umount", "-l", mp], check=False, capture_output=True)
            shutil.rmtree(base, ignore_errors=True)

    # -- 7 --------------------------------------------------------------------------------
    def s7_memory_big_push(self):
        log(f"scenario 7: RSS while pushing a {BIG_BLOB_MIB} MiB blob")
        mem = self.res.scenario("memory")
        path, digest, size = self.blob_file("big", BIG_BLOB_MIB)
        for reg in self.registries:
            os.sync()
            time.sleep(1)
            before = rss_kib(reg.pid) / 1024
            with RssSampler(reg.pid) as sampler:
                secs = push_blob(reg, "bench/big", path, digest, size)
            m = mem.setdefault(reg.name, {})
            m["big_before_mib"] = before
            m["big_peak_mib"] = sampler.peak_mib
            m["big_growth_mib"] = sampler.peak_mib - before
            m["big_mbps"] = size / secs / 1e6
            m["big_after_mib"] = rss_kib(reg.pid) / 1024
            log(f"  {reg.name}: before {before:.1f} MiB, peak {sampler.peak_mib:.1f} MiB, "
                f"{m['big_mbps']:.0f} MB/s")
        self.remove_file("big")

    # -- 8 --------------------------------------------------------------------------------
    def startup_once(self, reg: Registry, data_dir: Path, fresh: bool) -> dict:
        if fresh and data_dir.exists():
            shutil.rmtree(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = type(reg)(reg.workdir / "startup", self.wharf_bin) if isinstance(reg, Wharf) else type(reg)(reg.workdir / "startup")
        if isinstance(reg, Wharf):
            probe.password = reg.password
        probe.data_dir = data_dir
        auth = probe.auth()
        req = f"GET /v2/ HTTP/1.1\r\nHost: {HOST}:{probe.port}\r\nConnection: close\r\n"
        req += "".join(f"{k}: {v}\r\n" for k, v in auth.items()) + "\r\n"
        req_b = req.encode()
        first_response = first_200 = None
        t0 = time.perf_counter()
        probe.popen()
        try:
            deadline = t0 + 30
            while time.perf_counter() < deadline:
                if probe.proc.poll() is not None:
                    raise RuntimeError(f"{probe.name} exited during start-up; see {probe.log_path}")
                try:
                    with socket.create_connection((HOST, probe.port), timeout=5) as c:
                        c.sendall(req_b)
                        data = c.recv(64)
                    if data.startswith(b"HTTP/"):
                        now = time.perf_counter()
                        if first_response is None:
                            first_response = now - t0
                        if data.split(b" ", 2)[1] == b"200":
                            first_200 = now - t0
                            break
                except OSError:
                    pass
                time.sleep(0.002)
            rss = rss_kib(probe.pid) / 1024
        finally:
            probe.stop()
        return {"first_response_ms": first_response * 1000 if first_response else None,
                "first_200_ms": first_200 * 1000 if first_200 else None, "rss_mib": rss}

    def s8_startup(self):
        log(f"scenario 8: start-up, {STARTUP_RUNS} runs each")
        s = self.res.scenario("startup")
        for reg in self.registries:
            r = s.setdefault(reg.name, {})
            data_dir = reg.workdir / "startup-data"
            for mode in ("fresh", "existing"):
                runs = [self.startup_once(reg, data_dir, fresh=(mode == "fresh")) for _ in range(STARTUP_RUNS)]
                r[mode] = {"first_response_ms": median([x["first_response_ms"] for x in runs]),
                           "first_200_ms": median([x["first_200_ms"] for x in runs]),
                           "runs": runs}
                log(f"  {reg.name} ({mode}): first response {fmt(r[mode]['first_response_ms'])} ms, "
                    f"first 200 {fmt(r[mode]['first_200_ms'])} ms")
            shutil.rmtree(data_dir, ignore_errors=True)

    # -- all ------------------------------------------------------------------------------
    RETRYABLE = {1, 2, 3, 8}  # scenarios that can simply run again on the same registries

    def run_scenario(self, n: int, fn, attempt: int = 1):
        waited, before = wait_for_quiet(f"scenario {n}")
        if waited > 5:
            log(f"  waited {waited:.0f} s for a quiet machine")
        if before >= QUIET_CORES:
            self.res.note(f"scenario {n} started although other processes still used {before:.2f} cores "
                          f"after {waited:.0f} s of waiting.")
        self.res.scenario("loadavg")[str(n)] = loadavg()
        cpu0, t0 = foreign_cpu_seconds(), time.monotonic()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - report and go on with the next scenario
            traceback.print_exc()
            self.res.note(f"scenario {n} failed: {exc}")
        cores = (foreign_cpu_seconds() - cpu0) / max(time.monotonic() - t0, 0.001)
        self.res.scenario("foreign_cores")[str(n)] = cores
        if cores >= QUIET_CORES:
            if n in self.RETRYABLE and attempt == 1:
                log(f"  other processes used {cores:.2f} cores during scenario {n}: running it again")
                return self.run_scenario(n, fn, attempt=2)
            self.res.note(f"during scenario {n}, processes other than the benchmark used {cores:.2f} cores on "
                          f"average (of {os.cpu_count()}): its figures may be low.")
        elif attempt == 2:
            self.res.note(f"scenario {n} ran twice: other processes were busy during the first run.")

    def run(self):
        t_start = time.monotonic()
        self.describe_machine()
        try:
            wait_for_quiet("the machine limits")
            cpu0, t0 = foreign_cpu_seconds(), time.monotonic()
            if self.res.data.get("merged_from") and not ({"1", "2"} & set(self.res.data.get("rerun", []))):
                log("machine limits: kept from the earlier run (scenarios 1 and 2 do not run again)")
            else:
                self.machine_limits()
            cores = (foreign_cpu_seconds() - cpu0) / max(time.monotonic() - t0, 0.001)
            self.res.scenario("foreign_cores")["limits"] = cores
            if cores >= QUIET_CORES:
                self.res.note(f"while the machine limits were measured, other processes used {cores:.2f} cores.")
            self.start_registries()
            steps = [(1, self.s1_push), (2, self.s2_pull), (3, self.s3_manifest), (4, self.s4_tags),
                     (5, self.s5_catalog), (7, self.s7_memory_big_push), (6, self.s6_docker)]
            for n, fn in steps:
                if not wanted(n):
                    continue
                self.check_alive()
                self.run_scenario(n, fn)
            for reg in self.registries:
                reg.stop()
            if wanted(8):
                self.run_scenario(8, self.s8_startup)
        finally:
            for reg in self.registries:
                reg.stop()
            for p in self.extra_procs:
                if p.poll() is None:
                    p.kill()
            for key in list(self.files):
                self.remove_file(key)
            self.res["total_seconds"] = time.monotonic() - t_start
            (self.workdir / "results.json").write_text(json.dumps(self.res.data, indent=2, default=str))
        report = render(self.res)
        OUTPUT.write_text(report)
        log(f"wrote {OUTPUT} (raw results: {self.workdir / 'results.json'})")


def profile(workdir: Path, wharf_bin: Path):
    """BENCH_PROFILE=1: where Wharf's CPU time goes (perf, flat profile by symbol) during the
    manifest GET load of scenario 3 and a monolithic blob push of scenario 1. Not part of the
    report; prints the top symbols and leaves perf's output in the work folder."""
    if shutil.which("perf") is None:
        sys.exit("perf is not installed (apt-get install linux-perf)")
    swift = shutil.which("swift")
    wharf = Wharf(workdir / "wharf-profile", wharf_bin)
    image = SmallImage()
    path = workdir / "profile-blob.bin"
    try:
        wharf.start()
        repo, mpath = "bench/manifest", "/v2/bench/manifest/manifests/latest"
        image.push(wharf, wharf.session, repo, "latest")
        token = wharf.bearer_token(f"repository:{repo}:pull")
        script = workdir / "wrk-profile.lua"
        script.write_text(f'wrk.method = "GET"\nwrk.headers["Accept"] = "{ACCEPT}"\n'
                          f'wrk.headers["Authorization"] = "Bearer {token}"\n')

        def record(name: str, seconds: float, load):
            data = workdir / f"perf-{name}.data"
            graph = ["-g"] if os.environ.get("BENCH_PROFILE_CALLGRAPH") == "1" else []
            perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", *graph, "-o", str(data),
                                     "-p", str(wharf.pid), "--", "sleep", str(seconds)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                load()
            finally:
                perf.wait(timeout=seconds + 60)
            rep = sh(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort", "dso,symbol",
                      "--percent-limit", "0.7"], check=False, timeout=300).stdout
            if swift:
                rep = sh([swift, "demangle", "--simplified"], input=rep, check=False, timeout=120).stdout or rep
            lines = [l for l in rep.splitlines() if l.strip() and not l.startswith("#")]
            (workdir / f"perf-{name}.txt").write_text(rep)
            print(f"\n=== Wharf, {name}: top symbols (perf, cpu-clock) ===")
            for l in lines[:40]:
                print(l[:220])

        def manifest_load():
            p = sh(["wrk", "-t2", f"-c{WRK_CONNECTIONS}", "-d12s", "--latency", "-s", str(script),
                    wharf.url + mpath], timeout=120)
            rps = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
            print("wrk:", rps.group(0) if rps else p.stdout[-500:])

        record("manifest-get", 10, manifest_load)
        _, digest, size = None, write_random_file(path, BLOB_MIB), BLOB_MIB * MiB

        def push_load():
            secs = push_blob(wharf, "bench/blobs", path, digest, size)
            print(f"push: {size / secs / 1e6:.0f} MB/s")

        record("blob-push", max(4, BLOB_MIB / 200), push_load)
    finally:
        wharf.stop()
        path.unlink(missing_ok=True)


def merged_base(old: dict, rerun: set) -> dict:
    """BENCH_MERGE=results.json with BENCH_ONLY=5,6: the earlier run's results, less what the
    scenarios run again will measure anew (their figures, notes and load). Used to redo
    scenarios that something else on the machine disturbed, without redoing the whole run."""
    data = json.loads(json.dumps(old))
    data["merged_from"] = data.get("date")
    keys = {"1": "push", "2": "pull", "3": "manifest", "4": "tags", "5": "catalog", "6": "docker", "8": "startup"}
    for n in rerun:
        if n in keys:
            data["scenarios"].pop(keys[n], None)
        for k in ("loadavg", "foreign_cores"):
            data["scenarios"].get(k, {}).pop(n, None)
    if "7" in rerun:
        for reg in data["scenarios"].get("memory", {}).values():
            for k in [k for k in reg if k.startswith("big_")]:
                reg.pop(k)
    data["notes"] = [t for t in data.get("notes", [])
                     if not any(re.search(rf"scenario {n}\b", t) for n in rerun)]
    data["rerun"] = sorted(rerun)
    return data


def main():
    if os.environ.get("BENCH_RENDER"):
        # Only write the report again from a results.json (e.g. after changing the template).
        res = Results()
        res.data = json.loads(Path(os.environ["BENCH_RENDER"]).read_text())
        OUTPUT.write_text(render(res))
        log(f"wrote {OUTPUT} from {os.environ['BENCH_RENDER']}")
        return
    wharf_bin = Path(os.environ.get("WHARF_BIN") or REPO_ROOT / ".build" / "release" / "wharf")
    if not wharf_bin.exists():
        sys.exit(f"no Wharf binary at {wharf_bin}")
    for tool in ("wrk", "docker-registry", "dockerd", "docker", "openssl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (./bench/run installs it)")
    workdir = Path(os.environ.get("BENCH_WORKDIR") or tempfile.mkdtemp(prefix="wharf-bench-", dir="/var/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    # One benchmark at a time: two runs would share the machine, and in one folder their files.
    lock = open("/var/tmp/wharf-bench.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit("another ./bench/run is running on this machine; wait for it to finish")
    log(f"work folder {workdir}")
    if os.environ.get("BENCH_PROFILE") == "1":
        profile(workdir, wharf_bin)
        return
    bench = Bench(workdir, wharf_bin)
    merge = os.environ.get("BENCH_MERGE")
    if merge:
        if not ONLY:
            sys.exit("BENCH_MERGE needs BENCH_ONLY: the scenarios to run again")
        bench.res.data = merged_base(json.loads(Path(merge).read_text()), ONLY)
    try:
        bench.run()
    finally:
        if not KEEP:
            for sub in ("wharf", "distribution"):
                for name in ("data", "startup-data", "startup"):
                    shutil.rmtree(workdir / sub / name, ignore_errors=True)


if __name__ == "__main__":
    main()
