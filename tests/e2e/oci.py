"""Content and protocol helpers: make images, OCI layouts and talk to /v2/ with requests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import re
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import requests
import requests.auth

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ALL_MANIFESTS = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])
EMPTY_JSON = b"{}"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def random_bytes(size: int, seed) -> bytes:
    return random.Random(seed).randbytes(size)


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    d = {"mediaType": media_type, "digest": sha256(data), "size": len(data)}
    d.update(extra)
    return d


def make_layer(files: Dict[str, bytes]) -> tuple:
    """A reproducible gzip'd tar of files; returns (compressed bytes, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    compressed = gzip.compress(tar_bytes, compresslevel=1, mtime=0)
    return compressed, sha256(tar_bytes)


@dataclass
class Image:
    """An image manifest with all its blobs (config + layers), ready to push or lay out."""

    manifest: bytes
    media_type: str
    blobs: Dict[str, bytes] = field(default_factory=dict)
    config_digest: str = ""
    layer_digests: List[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def json(self) -> dict:
        return json.loads(self.manifest)


def make_image(n_layers: int = 1, layer_size: int = 1024, seed="img", arch: str = "amd64",
               os_name: str = "linux", docker_media_types: bool = False,
               extra_manifest: Optional[dict] = None) -> Image:
    layers, diff_ids = [], []
    for i in range(n_layers):
        blob, diff_id = make_layer({f"layer{i}.bin": random_bytes(layer_size, f"{seed}/{i}")})
        layers.append(blob)
        diff_ids.append(diff_id)
    config = json.dumps({
        "architecture": arch, "os": os_name,
        "config": {"Env": ["E2E_SEED=" + str(seed)]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, separators=(",", ":")).encode()
    mt_manifest = DOCKER_MANIFEST if docker_media_types else OCI_MANIFEST
    mt_config = DOCKER_CONFIG if docker_media_types else OCI_CONFIG
    mt_layer = DOCKER_LAYER if docker_media_types else OCI_LAYER_GZIP
    manifest = {
        "schemaVersion": 2, "mediaType": mt_manifest,
        "config": descriptor(mt_config, config),
        "layers": [descriptor(mt_layer, b) for b in layers],
    }
    if extra_manifest:
        manifest.update(extra_manifest)
    body = json.dumps(manifest, indent=2).encode()
    blobs = {sha256(config): config}
    for b in layers:
        blobs[sha256(b)] = b
    return Image(body, mt_manifest, blobs, sha256(config), [sha256(b) for b in layers])


def make_artifact(artifact_type: str, payload: bytes, subject: Optional[dict] = None,
                  annotations: Optional[dict] = None) -> Image:
    """An OCI 1.1 artifact manifest: empty config, artifactType, one layer, optional subject."""
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": descriptor(OCI_EMPTY, EMPTY_JSON),
        "layers": [descriptor("application/octet-stream", payload)],
    }
    if subject:
        manifest["subject"] = subject
    if annotations:
        manifest["annotations"] = annotations
    body = json.dumps(manifest).encode()
    return Image(body, OCI_MANIFEST, {sha256(EMPTY_JSON): EMPTY_JSON, sha256(payload): payload},
                 sha256(EMPTY_JSON), [sha256(payload)])


def make_index(children: List[tuple], media_type: str = OCI_INDEX) -> bytes:
    """children: [(Image, {"architecture": .., "os": ..}), ...] -> index JSON bytes."""
    return json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "manifests": [dict(descriptor(img.media_type, img.manifest), platform=platform)
                      for img, platform in children],
    }, indent=2).encode()


def write_oci_layout(path: Path, refs: Dict[str, tuple], blobs: Dict[str, bytes]):
    """Write an OCI image layout. refs: {ref name: (media type, manifest/index bytes)}."""
    path = Path(path)
    (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    all_blobs = dict(blobs)
    entries = []
    for ref, (media_type, body) in refs.items():
        all_blobs[sha256(body)] = body
        entries.append(dict(descriptor(media_type, body),
                            annotations={"org.opencontainers.image.ref.name": ref}))
    for digest, data in all_blobs.items():
        (path / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
    (path / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, indent=2))


# --------------------------------------------------------------------------------------
# A small /v2/ client over requests
# --------------------------------------------------------------------------------------

def with_query(location: str, **params) -> str:
    sep = "&" if "?" in location else "?"
    return location + sep + "&".join(f"{k}={quote(str(v), safe=':')}" for k, v in params.items())


def oci_errors(resp: requests.Response) -> list:
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"{describe(resp)}\nbody is not JSON") from None
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], (
        f"{describe(resp)}\nbody is not an OCI error document")
    return body["errors"]


def assert_oci_error(resp: requests.Response, status: int, code: str):
    """Assert an OCI error response: status, JSON content type, errors[].code == code."""
    assert resp.status_code == status, f"expected {status} {code}, got\n{describe(resp)}"
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), f"error Content-Type {ctype!r}\n{describe(resp)}"
    codes = [e.get("code") for e in oci_errors(resp)]
    assert code in codes, f"expected error code {code}, got {codes}\n{describe(resp)}"
    for e in oci_errors(resp):
        assert isinstance(e.get("message", ""), str), f"message must be a string: {e}"


def describe(resp: requests.Response, body_limit: int = 1500) -> str:
    """The request and response, for assertion messages."""
    req = resp.request
    lines = [f"> {req.method} {req.url}"]
    lines += [f"> {k}: {v}" for k, v in req.headers.items()]
    lines.append(f"< {resp.status_code} {resp.reason}")
    lines += [f"< {k}: {v}" for k, v in resp.headers.items()]
    try:
        text = resp.content[:body_limit].decode(errors="replace")
    except Exception:  # noqa: BLE001 - streamed body already consumed
        text = "(streamed)"
    if text:
        lines.append(text)
    return "\n".join(lines)


_PATH_RE = re.compile(r"^/v2/(?P<name>.+?)/(?:blobs/uploads/.*|blobs/[^/]+|manifests/[^/]+"
                      r"|tags/list|referrers/[^/]+)$")
_CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')


class TokenAuth(requests.auth.AuthBase):
    """The Docker token flow, as docker does it: read the challenge of GET /v2/, fetch a bearer
    token for each repository scope from the realm with Basic credentials, cache it, send it.

    Requests that need no scope (/v2/) or whose token cannot be had use Basic directly.
    A 401 on a re-sendable request fetches a fresh token and retries once.
    """

    def __init__(self, base_url: str, credentials: tuple, verify):
        self.base, self.credentials, self.verify = base_url, credentials, verify
        self.lock = threading.Lock()
        self.tokens: Dict[str, tuple] = {}
        self.challenge: Optional[dict] = None

    def _challenge(self) -> dict:
        if self.challenge is None:
            r = requests.get(self.base + "/v2/", timeout=30, verify=self.verify)
            header = r.headers.get("WWW-Authenticate", "")
            self.challenge = dict(_CHALLENGE_RE.findall(header)) \
                if header.lower().startswith("bearer ") else {}
        return self.challenge

    @staticmethod
    def scopes(url: str) -> List[str]:
        parts = urlsplit(url)
        if parts.path == "/v2/_catalog":
            return ["registry:catalog:*"]
        m = _PATH_RE.match(parts.path)
        if not m:
            return []
        scopes = [f"repository:{m.group('name')}:pull,push,delete"]
        source = parse_qs(parts.query).get("from")
        if source:
            scopes.append(f"repository:{source[0]}:pull")
        return scopes

    def token(self, scopes: List[str], fresh: bool = False) -> Optional[str]:
        challenge = self._challenge()
        if not scopes or "realm" not in challenge:
            return None
        key = " ".join(scopes)
        with self.lock:
            cached = self.tokens.get(key)
            if cached and not fresh and time.monotonic() < cached[1]:
                return cached[0]
            params = [("service", challenge.get("service", ""))] + [("scope", s) for s in scopes]
            r = requests.get(challenge["realm"], params=params, auth=self.credentials,
                             timeout=30, verify=self.verify)
            if r.status_code != 200:
                return None
            body = r.json()
            token = body.get("token") or body.get("access_token")
            lifetime = max(int(body.get("expires_in", 60)) - 30, 10)
            self.tokens[key] = (token, time.monotonic() + lifetime)
            return token

    def _apply(self, prep, fresh=False):
        token = self.token(self.scopes(prep.url), fresh=fresh)
        if token:
            prep.headers["Authorization"] = f"Bearer {token}"
        else:
            requests.auth.HTTPBasicAuth(*self.credentials)(prep)

    def __call__(self, prep):
        self._apply(prep)
        prep.register_hook("response", self._retry_on_401)
        return prep

    def _retry_on_401(self, resp, **kwargs):
        body = resp.request.body
        if resp.status_code != 401 or not (body is None or isinstance(body, (bytes, str))) \
                or getattr(resp.request, "_e2e_retried", False):
            return resp
        resp.content  # release the connection
        prep = resp.request.copy()
        prep._e2e_retried = True
        self._apply(prep, fresh=True)
        retried = resp.connection.send(prep, **kwargs)
        retried.history.append(resp)
        retried.request = prep
        return retried


class RegistryClient:
    """Plain HTTP client for the distribution API; ``auth`` = (user, password) or None."""

    def __init__(self, base_url: str, verify=True, auth=None):
        self.base = base_url.rstrip("/")
        self.s = requests.Session()
        self.s.auth = TokenAuth(self.base, auth, verify) if auth else None
        self.verify = verify

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return self.base + "/" + path.lstrip("/")

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 60)
        kw.setdefault("verify", self.verify)  # per request: a session default loses to env vars
        kw.setdefault("allow_redirects", True)
        return self.s.request(method, self.url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def location(self, resp: requests.Response) -> str:
        loc = resp.headers.get("Location")
        assert loc, f"response has no Location header\n{describe(resp)}"
        return urljoin(self.base + "/", loc)

    # -- blobs ---------------------------------------------------------------------------
    def start_upload(self, name: str) -> str:
        r = self.post(f"/v2/{name}/blobs/uploads/", headers={"Content-Length": "0"})
        assert r.status_code == 202, f"start upload\n{describe(r)}"
        return self.location(r)

    def upload_blob(self, name: str, data: bytes, digest: Optional[str] = None,
                    chunk_size: Optional[int] = None) -> requests.Response:
        """POST + (PATCH chunks) + PUT ?digest=; asserts 201 and returns the PUT response."""
        digest = digest or sha256(data)
        loc = self.start_upload(name)
        body = data
        if chunk_size:
            offset = 0
            while offset < len(data):
                chunk = data[offset:offset + chunk_size]
                r = self.patch(loc, data=chunk, headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
                assert r.status_code == 202, f"PATCH chunk at {offset}\n{describe(r)}"
                loc = self.location(r)
                offset += len(chunk)
            body = b""
        r = self.put(with_query(loc, digest=digest), data=body,
                     headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, f"PUT blob {digest}\n{describe(r)}"
        return r

    def blob_exists(self, name: str, digest: str) -> bool:
        r = self.head(f"/v2/{name}/blobs/{digest}")
        assert r.status_code in (200, 404), describe(r)
        return r.status_code == 200

    def push_blobs(self, name: str, blobs: Dict[str, bytes]):
        for digest, data in blobs.items():
            if not self.blob_exists(name, digest):
                self.upload_blob(name, data, digest)

    # -- manifests -----------------------------------------------------------------------
    def put_manifest(self, name: str, ref: str, body: bytes, media_type: str,
                     expect: Optional[int] = 201) -> requests.Response:
        r = self.put(f"/v2/{name}/manifests/{ref}", data=body,
                     headers={"Content-Type": media_type})
        if expect is not None:
            assert r.status_code == expect, f"PUT manifest {name}:{ref}\n{describe(r)}"
        return r

    def push_image(self, name: str, ref: str, image: Image) -> requests.Response:
        self.push_blobs(name, image.blobs)
        return self.put_manifest(name, ref, image.manifest, image.media_type)

    def get_manifest(self, name: str, ref: str, accept: str = ALL_MANIFESTS):
        return self.get(f"/v2/{name}/manifests/{ref}", headers={"Accept": accept})

    # -- listing -------------------------------------------------------------------------
    def paginate(self, path: str, key: str) -> list:
        items, url, pages = [], path, 0
        while url:
            r = self.get(url)
            assert r.status_code == 200, describe(r)
            items += r.json().get(key) or []
            link = r.links.get("next", {}).get("url")
            url = link
            pages += 1
            assert pages < 1000, "pagination does not end"
        return items

    def catalog(self) -> list:
        return self.paginate("/v2/_catalog", "repositories")

    def tags(self, name: str) -> list:
        return self.paginate(f"/v2/{name}/tags/list", "tags")


def verify_blobs_on_disk(blobs_dir: Path) -> int:
    """Every content-addressed file on disk whose path names a sha256 digest hashes to it.

    A file counts when its own name, or its parent folder's name, is 64 hex characters and a
    'sha256' folder is among its ancestors (covers blobs/sha256/ab/<hex>[/data]).
    Returns how many files were checked.
    """
    checked = 0
    if not blobs_dir.exists():
        return 0
    for path in blobs_dir.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(blobs_dir).parts
        if "sha256" not in rel:
            continue
        candidates = [p for p in (path.name, path.parent.name) if _is_hex64(p)]
        if not candidates:
            continue
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        assert h.hexdigest() == candidates[0], (
            f"file {path} is stored under digest {candidates[0]} but hashes to {h.hexdigest()} "
            f"(a partial or corrupt blob is in place)")
        checked += 1
    return checked


def _is_hex64(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdef" for c in s)
