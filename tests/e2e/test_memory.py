"""Blob bodies stream end to end: a 2 GiB push and pull grow the server by at most 32 MiB."""

import hashlib
import os
import socket
import threading
import time

import pytest

from harness import rss_kib
from oci import describe, with_query

MIB = 1 << 20
BLOB_SIZE = int(os.environ.get("E2E_MEMORY_BLOB_MIB", "2048")) * MIB
PATCH_SIZE = 256 * MIB
MAX_GROWTH_KIB = 32 * 1024
PATTERN_BLOCK = MIB
_BASE = hashlib.shake_256(b"wharf-e2e-memory").digest(PATTERN_BLOCK)


def pattern_block(index: int) -> bytes:
    """Block `index` of the blob: cheap, deterministic, and different for every block."""
    return index.to_bytes(8, "big") + _BASE[8:]


class PatternStream:
    """File-like view of bytes [start, start+length) of the pattern; never all in memory."""

    def __init__(self, start: int, length: int):
        self.pos, self.end = start, start + length
        self._index, self._block = -1, b""

    def __len__(self):
        return self.end - self.pos

    def read(self, size: int = -1) -> bytes:
        if self.pos >= self.end:
            return b""
        if size is None or size < 0:
            size = PATTERN_BLOCK
        index, offset = divmod(self.pos, PATTERN_BLOCK)
        if index != self._index:
            self._index, self._block = index, pattern_block(index)
        n = min(size, PATTERN_BLOCK - offset, self.end - self.pos)
        self.pos += n
        return self._block[offset:offset + n]

    def __iter__(self):
        while True:
            data = self.read(PATTERN_BLOCK)
            if not data:
                return
            yield data


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = rss_kib(pid)
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
                self.samples += 1
            except (OSError, AssertionError):
                return
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(5)


def blob_digest(size: int) -> str:
    assert size % PATTERN_BLOCK == 0
    h = hashlib.sha256()
    for i in range(size // PATTERN_BLOCK):
        h.update(pattern_block(i))
    return "sha256:" + h.hexdigest()


def warm_up(client, name):
    """A small push and pull first, so buffers and pools exist before the baseline."""
    small = os.urandom(4 * MIB)
    put = client.upload_blob(name, small, chunk_size=MIB)
    assert client.get(put.headers["Location"]).content == small
    time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.filesystem_storage_only(
    reason="the 32 MiB bound is the filesystem path's; with S3 the push gathers 8 MiB parts and multipart "
           "pieces in memory (+27 to +29 MiB measured here) and the first pull after it reached up to +50 MiB "
           "(a fixed amount: further pulls of the blob added nothing); a known gap, see the issue notes")
def test_two_gib_blob_streams_without_memory_growth(registry):
    client = registry.client()
    name = "e2e/big"
    digest = blob_digest(BLOB_SIZE)
    warm_up(client, name)
    baseline = registry.rss_kib()
    sampler = RssSampler(registry.pid)
    sampler.start()
    try:
        loc = client.start_upload(name)
        for start in range(0, BLOB_SIZE, PATCH_SIZE):
            length = min(PATCH_SIZE, BLOB_SIZE - start)
            r = client.patch(loc, data=PatternStream(start, length), timeout=600, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{start}-{start + length - 1}",
                "Content-Length": str(length)})
            assert r.status_code == 202, describe(r)
            assert r.headers.get("Range") == f"0-{start + length - 1}", describe(r)
            loc = client.location(r)
        r = client.put(with_query(loc, digest=digest), data=b"", timeout=600)
        assert r.status_code == 201, describe(r)
        after_push = sampler.peak

        head = client.head(f"/v2/{name}/blobs/{digest}")
        assert int(head.headers["Content-Length"]) == BLOB_SIZE, describe(head)
        h, received = hashlib.sha256(), 0
        with client.get(f"/v2/{name}/blobs/{digest}", stream=True, timeout=600) as r:
            assert r.status_code == 200, describe(r)
            for chunk in r.iter_content(MIB):
                h.update(chunk)
                received += len(chunk)
        assert received == BLOB_SIZE
        assert "sha256:" + h.hexdigest() == digest, "pulled blob differs from the pushed one"
    finally:
        sampler.stop()

    growth = sampler.peak - baseline
    print(f"RSS baseline {baseline} KiB, peak during push {after_push} KiB, "
          f"peak overall {sampler.peak} KiB ({sampler.samples} samples)")
    assert sampler.samples >= 2, "RSS was hardly sampled"
    assert growth <= MAX_GROWTH_KIB, (
        f"server RSS grew by {growth / 1024:.1f} MiB while streaming a "
        f"{BLOB_SIZE // MIB} MiB blob (baseline {baseline} KiB, peak {sampler.peak} KiB, "
        f"peak during push {after_push} KiB); the limit is {MAX_GROWTH_KIB // 1024} MiB")


@pytest.mark.timeout(600)
def test_slow_reader_does_not_make_the_server_buffer_the_blob(registry):
    """Backpressure: a client that reads slowly must not make the server read ahead."""
    client = registry.client()
    name, size = "e2e/slow", 256 * MIB
    digest = blob_digest(size)
    loc = client.start_upload(name)
    r = client.put(with_query(loc, digest=digest), data=PatternStream(0, size), timeout=600,
                   headers={"Content-Type": "application/octet-stream",
                            "Content-Length": str(size)})
    assert r.status_code == 201, describe(r)
    warm_up(client, name)
    baseline = registry.rss_kib()
    sampler = RssSampler(registry.pid)
    sampler.start()
    received = 0
    try:
        with socket.create_connection(("127.0.0.1", registry.port), timeout=30) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            auth = "".join(f"{k}: {v}\r\n" for k, v in registry.auth_header().items())
            sock.sendall(f"GET /v2/{name}/blobs/{digest} HTTP/1.1\r\n"
                         f"Host: {registry.host}\r\n{auth}\r\n".encode())
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                data = sock.recv(64 * 1024)
                assert data, "server closed the connection early"
                received += len(data)
                time.sleep(0.01)
            # The server still answers other clients while this one dawdles.
            assert client.get("/v2/", timeout=5).status_code == 200
    finally:
        sampler.stop()
    growth = sampler.peak - baseline
    print(f"slow reader got {received / MIB:.1f} MiB; RSS baseline {baseline} KiB, "
          f"peak {sampler.peak} KiB")
    assert received < size / 2, "the reader was not slow enough to test backpressure"
    assert growth <= MAX_GROWTH_KIB, (
        f"server RSS grew by {growth / 1024:.1f} MiB while a slow client read "
        f"{received / MIB:.0f} MiB of a {size // MIB} MiB blob; the limit is "
        f"{MAX_GROWTH_KIB // 1024} MiB")
