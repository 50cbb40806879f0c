"""Blob push and pull over raw http.client: `sendfile` up, 1 MiB reads down."""

from __future__ import annotations

import http.client
import time
import urllib.parse
from pathlib import Path

from .settings import HOST, MiB
from .shared import oci


def _path_of(reg, location: str) -> str:
    u = urllib.parse.urlsplit(urllib.parse.urljoin(reg.url + "/", location))
    return u.path + (("?" + u.query) if u.query else "")


def _connect(reg) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(HOST, reg.port, timeout=600, blocksize=MiB)


def _send(conn, method: str, path: str, headers: dict, file_path: Path | None = None,
          offset: int = 0, length: int = 0) -> http.client.HTTPResponse:
    """One request whose body (`length` bytes of the file from `offset`) goes with sendfile."""
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


def _expect(reg, resp: http.client.HTTPResponse, status: int, what: str) -> bytes:
    body = resp.read()
    if resp.status != status:
        raise RuntimeError(f"{reg.name}: {what} -> {resp.status} {body[:300]!r}")
    return body


def push_blob(reg, repo: str, file_path: Path, digest: str, size: int, chunk: int | None = None) -> float:
    """Pushes a blob (POST, then one PUT with the body, or PATCHes of `chunk` bytes and an
    empty PUT). Returns seconds from the POST to the 201."""
    conn = _connect(reg)
    try:
        t0 = time.perf_counter()
        resp = _send(conn, "POST", f"/v2/{repo}/blobs/uploads/", reg.auth())
        _expect(reg, resp, 202, "POST upload")
        loc = _path_of(reg, resp.getheader("Location"))
        if chunk is None:
            resp = _send(conn, "PUT", oci.with_query(loc, digest=digest), reg.auth(), file_path, 0, size)
        else:
            for offset in range(0, size, chunk):
                n = min(chunk, size - offset)
                hdrs = {**reg.auth(), "Content-Range": f"{offset}-{offset + n - 1}"}
                resp = _send(conn, "PATCH", loc, hdrs, file_path, offset, n)
                _expect(reg, resp, 202, f"PATCH chunk at {offset}")
                loc = _path_of(reg, resp.getheader("Location"))
            resp = _send(conn, "PUT", oci.with_query(loc, digest=digest), reg.auth())
        _expect(reg, resp, 201, "PUT upload")
        return time.perf_counter() - t0
    finally:
        conn.close()


def pull_blob(reg, repo: str, digest: str, size: int) -> float:
    """GETs a blob, reading it in 1 MiB pieces into one buffer; returns the seconds it took."""
    conn = _connect(reg)
    view = memoryview(bytearray(MiB))
    try:
        t0 = time.perf_counter()
        conn.request("GET", f"/v2/{repo}/blobs/{digest}", headers=reg.auth())
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"{reg.name}: GET blob -> {resp.status} {resp.read()[:300]!r}")
        got = 0
        while n := resp.readinto(view):
            got += n
        seconds = time.perf_counter() - t0
        if got != size:
            raise RuntimeError(f"{reg.name}: GET blob returned {got} bytes, expected {size}")
        return seconds
    finally:
        conn.close()
