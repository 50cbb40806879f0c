"""Fixtures for Wharf's end-to-end suite.

Every test gets its own registry process on a free loopback port with a fresh data folder
(``registry``; ``registry_factory`` for custom flags).  The Docker engine and containerd are
started once per session, only when a test asks for them.  ``E2E_REGISTRY=distribution``
runs the same tests against CNCF Distribution (``docker-registry``); tests of Wharf-only
behaviour carry ``@pytest.mark.wharf_only`` and are skipped there (``E2E_RUN_WHARF_ONLY=1``
runs them anyway, to see how Distribution differs).  ``E2E_DATABASE=postgres`` gives each Wharf
server a fresh PostgreSQL database and ``E2E_STORAGE=s3`` a fresh prefix in an S3 bucket (see
harness.py); tests that look at blob files in the data folder carry
``@pytest.mark.filesystem_storage_only`` and are skipped with S3.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import harness
from harness import (REGISTRY_KIND, STORAGE_KIND, Containerd, ContainersTools, Dockerd,
                     RegistryServer)
from oci import RegistryClient


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "wharf_only(reason): behaviour Distribution does not have; skipped when "
                   "E2E_REGISTRY=distribution")
    config.addinivalue_line(
        "markers", "filesystem_storage_only(reason): looks at the files of the data folder's "
                   "blobs/ or uploads/; skipped when E2E_STORAGE=s3")
    config.addinivalue_line("markers", "slow: long-running test (large blobs)")


def pytest_report_header(config):
    target = REGISTRY_KIND
    if REGISTRY_KIND == "wharf":
        target += f" ({harness.built_wharf_binary()})"
        database = "postgres" if os.environ.get("E2E_DATABASE") == "postgres" else "sqlite"
        target += f", database {database}, storage {STORAGE_KIND}"
    return f"e2e registry under test: {target}"


@pytest.fixture(scope="session", autouse=True)
def wharf_snapshot(tmp_path_factory):
    """Run one copy of the wharf binary for the whole session (see snapshot_wharf_binary)."""
    if REGISTRY_KIND != "wharf":
        return None
    return harness.snapshot_wharf_binary(tmp_path_factory.mktemp("bin"))


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("wharf_only")
    if marker and REGISTRY_KIND != "wharf" and not os.environ.get("E2E_RUN_WHARF_ONLY"):
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        pytest.skip(f"Wharf-only behaviour{': ' + reason if reason else ''}")
    marker = item.get_closest_marker("filesystem_storage_only")
    if marker and REGISTRY_KIND == "wharf" and STORAGE_KIND != "filesystem":
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        pytest.skip(f"needs blobs in the data folder, not E2E_STORAGE={STORAGE_KIND}"
                    f"{': ' + reason if reason else ''}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_e2e_{report.when}_failed", report.failed)
    if report.failed:
        for server in getattr(item, "_e2e_servers", []):
            report.sections.append(
                (f"{server.kind} log ({server.host})", server.log_tail(6000)))
        # Other processes a test started (a load balancer): (title, function giving the log).
        for title, log_tail in getattr(item, "_e2e_logs", []):
            report.sections.append((title, log_tail()))


# --------------------------------------------------------------------------------------
# The registry under test
# --------------------------------------------------------------------------------------

@pytest.fixture
def free_port() -> int:
    return harness.free_port()


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def registry_factory(request, tmp_path):
    """make(extra_args=(), tls=None, data_dir=None, start=True, **kw) -> RegistryServer."""
    servers = []
    request.node._e2e_servers = servers

    def make(extra_args=(), tls=None, data_dir=None, start=True, **kw) -> RegistryServer:
        workdir = tmp_path / f"registry{len(servers)}"
        server = RegistryServer(workdir, extra_args=extra_args, tls=tls, data_dir=data_dir, **kw)
        servers.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in servers:
        server.cleanup()
    # Keep a failed test's data for a look; drop a passed one's (the memory test's is 2 GiB).
    if not getattr(request.node, "_e2e_call_failed", True):
        for server in servers:
            shutil.rmtree(server.data_dir, ignore_errors=True)
            try:
                server.delete_stored_objects()
            except Exception as exc:  # noqa: BLE001 - tidying only; the store goes after the run
                print(f"could not empty {server.s3_storage}: {exc!r}")


@pytest.fixture
def registry(registry_factory) -> RegistryServer:
    """A running registry with an empty data folder (Wharf unless E2E_REGISTRY says otherwise)."""
    return registry_factory()


@pytest.fixture
def client(registry) -> RegistryClient:
    """HTTP client for ``registry``, authenticated as its administrator when it has auth."""
    return registry.client()


# --------------------------------------------------------------------------------------
# Client engines (session-wide, started on first use)
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def dockerd():
    engine = Dockerd()
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def containerd():
    daemon = Containerd()
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def docker(dockerd, registry):
    """The session's Docker engine, logged in to this test's registry."""
    dockerd.login(registry)
    return dockerd


@pytest.fixture
def ctools():
    """skopeo/podman/buildah with private storage (vfs) and an accept-anything policy."""
    base = Path(tempfile.mkdtemp(prefix="e2ecs-", dir="/tmp"))
    tools = ContainersTools(base)
    yield tools
    tools.cleanup()


class DockerImages:
    """Two locally built images: ``base`` (3 layers) and ``derived`` (base + 1 layer).

    Built once with ``docker build`` FROM scratch; saved to a tar so that a test that deletes
    every local image can get them back with ``ensure_loaded()``.
    """

    BASE = "e2e-local/base:latest"
    DERIVED = "e2e-local/derived:latest"

    def __init__(self, engine: Dockerd, workdir: Path):
        self.engine = engine
        self.workdir = workdir
        self.archive = workdir / "images.tar"

    def build(self):
        base_ctx = self.workdir / "base"
        base_ctx.mkdir()
        for name in ("one", "two", "three"):
            (base_ctx / name).write_bytes(os.urandom(96 * 1024))
        (base_ctx / "Dockerfile").write_text(
            "FROM scratch\nCOPY one /one\nCOPY two /two\nCOPY three /three\n")
        self.engine.docker("build", "--tag", self.BASE, str(base_ctx))
        derived_ctx = self.workdir / "derived"
        derived_ctx.mkdir()
        (derived_ctx / "four").write_bytes(os.urandom(64 * 1024))
        (derived_ctx / "Dockerfile").write_text(f"FROM {self.BASE}\nCOPY four /four\n")
        self.engine.docker("build", "--tag", self.DERIVED, str(derived_ctx))
        self.base_id = self.engine.image_id(self.BASE)
        self.derived_id = self.engine.image_id(self.DERIVED)
        self.engine.docker("save", "--output", str(self.archive), self.BASE, self.DERIVED)
        return self

    def ensure_loaded(self):
        if not (self.engine.has_image(self.BASE) and self.engine.has_image(self.DERIVED)):
            self.engine.docker("load", "--input", str(self.archive))
        assert self.engine.image_id(self.BASE) == self.base_id
        assert self.engine.image_id(self.DERIVED) == self.derived_id
        return self


@pytest.fixture(scope="session")
def docker_images(dockerd, tmp_path_factory) -> DockerImages:
    return DockerImages(dockerd, tmp_path_factory.mktemp("docker-images")).build()


@pytest.fixture
def local_images(docker_images) -> DockerImages:
    """docker_images, guaranteed present in the engine at the start of the test."""
    return docker_images.ensure_loaded()


# --------------------------------------------------------------------------------------
# TLS material
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """(cert.pem, key.pem) self-signed for IP 127.0.0.1 and localhost."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    cert_path, key_path = d / "cert.pem", d / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path

