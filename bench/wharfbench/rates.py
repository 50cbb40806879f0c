"""Raw rates of this machine, in MB/s: SHA-256, disk writes, `cat`, a file over loopback TCP."""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import socket
import threading
import time
from pathlib import Path

from .settings import HOST, MiB
from .shared import harness


def sha256_rate(buf: bytes, mib: int) -> float:
    """Python hashlib over `mib` MiB in 1 MiB updates (as a streaming hasher does), cycling `buf`."""
    mv = memoryview(buf)
    h = hashlib.sha256()
    t0 = time.perf_counter()
    done = 0
    while done < mib:
        for off in range(0, len(buf), MiB):
            h.update(mv[off:off + MiB])
            done += 1
            if done >= mib:
                break
    return mib * MiB / (time.perf_counter() - t0) / 1e6


def openssl_sha256_rate() -> float | None:
    """`openssl speed -bytes 1048576 sha256`, or None when its output is not understood."""
    o = harness.run(["openssl", "speed", "-bytes", str(MiB), "-seconds", "3", "sha256"],
                    check=False, timeout=60)
    mo = re.search(r"^sha256\s+([\d.]+)k\s*$", o.stdout, re.M)
    return float(mo.group(1)) * 1000 / 1e6 if mo else None


def fsync_write_rate(path: Path, block: bytes, mib: int) -> float:
    """`mib` MiB written through the page cache in writes of `block`, then fsync (`dd conv=fsync`)."""
    t0 = time.perf_counter()
    with open(path, "wb") as f:
        for _ in range(mib * MiB // len(block)):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    return mib * MiB / (time.perf_counter() - t0) / 1e6


def direct_write_rate(path: Path, data: bytes, mib: int) -> float | None:
    """`mib` MiB written to a new file with direct I/O (O_DIRECT, 2 MiB aligned writes), then
    fsync; None where the filesystem refuses direct I/O. The file is removed afterwards."""
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


def cat_rate(path: Path, size: int) -> float:
    """`cat FILE > /dev/null`."""
    t0 = time.perf_counter()
    harness.run(["sh", "-c", f"cat '{path}' > /dev/null"], timeout=600)
    return size / (time.perf_counter() - t0) / 1e6


def loopback_rate(path: Path, size: int, copy: bool = False) -> float:
    """`path` sent over a loopback TCP connection, with no HTTP, and read in 1 MiB pieces as
    `client.pull_blob` reads: with sendfile, or with `copy` read into one reused 1 MiB buffer and
    written to the socket. The faster of the two is what a pull could reach with this client."""
    server = socket.socket()
    server.bind((HOST, 0))
    server.listen(1)

    def send():
        conn, _ = server.accept()
        with conn, open(path, "rb", buffering=0) as f:
            if not copy:
                conn.sendfile(f)
                return
            view = memoryview(bytearray(MiB))
            while n := f.readinto(view):
                conn.sendall(view[:n])

    sender = threading.Thread(target=send)
    sender.start()
    view = memoryview(bytearray(MiB))
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
