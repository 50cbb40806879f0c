"""A webhook receiver for the e2e tests: a real HTTP server (ThreadingHTTPServer) on a loopback
address and port of its own, in a thread, that records every request it gets and answers with a
status the test chooses (and may change at any time, or decide per request).

    with WebhookReceiver() as receiver:          # 127.0.0.1, a free port, answers 200
        receiver.set_response(503)               # from now on: 503
        ...
        [hit] = receiver.wait_for_requests(1)    # Received: headers, body, .json, .status
        receiver.stop(); receiver.start()        # down, then up again on the same port

Each response closes its connection (``Connection: close``), so a stopped receiver really is
unreachable: no kept-alive connection lingers to take a retry.  Thread-safe: requests arrive on
the server's threads while the test reads ``requests()`` on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, List, Optional, Union

from requests.structures import CaseInsensitiveDict

from harness import wait_for


@dataclass
class Received:
    """One request the receiver got, and the status it answered."""

    number: int  # 1, 2, ... in the order the requests arrived
    method: str
    path: str
    headers: CaseInsensitiveDict
    body: bytes
    status: int
    at: float  # time.monotonic() when it arrived

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def event(self) -> Optional[str]:
        return self.headers.get("X-Wharf-Event")

    @property
    def delivery(self) -> Optional[str]:
        return self.headers.get("X-Wharf-Delivery")

    @property
    def webhook(self) -> Optional[str]:
        return self.headers.get("X-Wharf-Webhook")

    def describe(self) -> str:
        head = "\n".join(f"  {k}: {v}" for k, v in self.headers.items())
        return (f"#{self.number} {self.method} {self.path} -> {self.status}\n{head}\n"
                f"  {self.body[:1500].decode(errors='replace')}")


# What the receiver answers: a status, or (status, headers), or (status, headers, body).
Reply = Union[int, tuple]
Responder = Callable[[Received], Reply]


def free_port_on(host: str) -> int:
    """A port nothing listens on at `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2e-webhook-receiver/1"

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after the chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        body = self._read_body()
        headers = CaseInsensitiveDict(self.headers.items())
        status, reply_headers, reply = self.server.receiver._record(
            self.command, self.path, headers, body)
        try:
            self.send_response(status)
            for name, value in reply_headers.items():
                self.send_header(name, value)
            if "Content-Type" not in reply_headers:
                self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(reply)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender gave up (or was killed) before the answer
        self.close_connection = True

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class WebhookReceiver:
    """An HTTP receiver on `host`:`port` (default 127.0.0.1 and a free port); see the module
    docstring.  ``url`` is ``http://host:port/hook`` (``path`` changes the last part)."""

    def __init__(self, host: str = "127.0.0.1", port: Optional[int] = None, status: int = 200,
                 path: str = "/hook"):
        self.host = host
        self.port = port or free_port_on(host)
        self.path = path
        self._lock = threading.Lock()
        self._received: List[Received] = []
        self._responder: Responder = lambda _request: status
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> "WebhookReceiver":
        assert self._server is None, "receiver already running"
        server = _Server((self.host, self.port), _Handler)
        server.receiver = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"webhook-receiver-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            self._thread.join(10)

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- answers -------------------------------------------------------------------------
    def set_response(self, status: int, headers: Optional[dict] = None, body: bytes = b""):
        """Answer every request from now on with this status (and headers, body)."""
        self.set_responder(lambda _request: (status, dict(headers or {}), body))

    def set_responder(self, responder: Responder):
        """responder(Received) -> status | (status, headers) | (status, headers, body), called
        for each request (on the server's thread; Received.status is not set yet)."""
        with self._lock:
            self._responder = responder

    def _record(self, method: str, path: str, headers: CaseInsensitiveDict, body: bytes) -> tuple:
        with self._lock:
            request = Received(len(self._received) + 1, method, path, headers, body, 0,
                               time.monotonic())
            try:
                reply = self._responder(request)
            except Exception as exc:  # noqa: BLE001 - a broken responder answers 500, visibly
                reply = (500, {}, f"responder failed: {exc!r}\n".encode())
            if isinstance(reply, int):
                reply = (reply,)
            status = reply[0]
            reply_headers = dict(reply[1]) if len(reply) > 1 and reply[1] else {}
            reply_body = reply[2] if len(reply) > 2 and reply[2] else f"{status}\n".encode()
            request.status = status
            self._received.append(request)
        return status, reply_headers, reply_body

    # -- what arrived ----------------------------------------------------------------------
    def requests(self, match: Optional[Callable[[Received], bool]] = None) -> List[Received]:
        """Every request so far (that `match` accepts), in arrival order."""
        with self._lock:
            received = list(self._received)
        return [r for r in received if match is None or match(r)]

    def summary(self) -> str:
        received = self.requests()
        if not received:
            return f"{self.url} received nothing"
        return f"{self.url} received {len(received)} request(s):\n" + "\n".join(
            r.describe() for r in received)

    def wait_for_requests(self, count: int = 1,
                          match: Optional[Callable[[Received], bool]] = None,
                          timeout: float = 30, what: str = "") -> List[Received]:
        """Wait until at least `count` requests (that `match` accepts) arrived; returns them all."""
        def enough():
            found = self.requests(match)
            return found if len(found) >= count else None
        try:
            return wait_for(enough, timeout, interval=0.05,
                            what=what or f"{count} request(s) at {self.url}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.summary()}") from None


# The secret the webhook tests sign with.
SECRET = "It's a secret to everybody: 7f3a9c"


def assert_signed(hit: "Received", secret: str = SECRET):
    """Asserts that `hit` carries X-Wharf-Signature-256, the HMAC-SHA256 of its raw body keyed with `secret`."""
    expected = "sha256=" + hmac.new(secret.encode(), hit.body, hashlib.sha256).hexdigest()
    got = hit.headers.get("X-Wharf-Signature-256")
    assert got is not None, f"no X-Wharf-Signature-256\n{hit.describe()}"
    assert hmac.compare_digest(got, expected), (
        f"X-Wharf-Signature-256 {got!r} is not HMAC-SHA256(secret, body) {expected!r}\n"
        f"{hit.describe()}")
