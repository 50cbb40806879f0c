"""The JSON API keeps the promises of its OpenAPI document.

schemathesis (pinned in requirements.txt) reads `/api/openapi.json` from a running Wharf and
tests every operation in it with all of its phases (examples, coverage, fuzzing, stateful) and
all of its checks: no 5xx, only documented statuses, content types, headers and bodies, schema-
violating requests rejected and schema-valid ones accepted, 405 for undocumented methods,
authentication enforced, created resources readable and deleted ones gone.  It authenticates
with HTTP Basic as an administrator made for the test, so that the administration operations are
tested too.  The document's agreement with the router (every route documented, every documented
operation routed) is a Swift test, OpenAPIDocumentTests.

To run it alone: ``python3 -m pytest tests/e2e/test_openapi_contract.py``.
E2E_SCHEMATHESIS_MAX_EXAMPLES (default 100) and E2E_SCHEMATHESIS_SEED change the run; a failure
prints schemathesis' report, with a `curl` line and the seed to reproduce each finding.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.wharf_only(reason="Wharf's own JSON API")

HERE = Path(__file__).resolve().parent
ADMIN_PASSWORD = "e2e-admin-password"
# The account schemathesis runs as (an administrator, made for the test).
USER, PASSWORD = "contract", "contract-password"
MAX_EXAMPLES = int(os.environ.get("E2E_SCHEMATHESIS_MAX_EXAMPLES", "100"))
SEED = os.environ.get("E2E_SCHEMATHESIS_SEED", "20261201")
# A run takes 1 to 3 minutes with the defaults; the bound only stops one that hangs.
TIMEOUT = 420


@pytest.fixture
def hub(registry_factory):
    return registry_factory(env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})


def test_the_api_keeps_the_promises_of_its_openapi_document(hub, tmp_path):
    schemathesis = shutil.which("schemathesis")
    assert schemathesis, "schemathesis is not installed: pip install -r tests/e2e/requirements.txt"

    r = requests.post(f"{hub.url}/api/users", timeout=30, json={
        "username": USER, "email": f"{USER}@example.com", "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = requests.put(f"{hub.url}/api/admin/users/{USER}", json={"is_admin": True},
                     auth=("admin", ADMIN_PASSWORD), timeout=30)
    assert r.status_code == 200, r.text
    document = requests.get(f"{hub.url}/api/openapi.json", timeout=30).json()
    # Every operation but GET /api/openapi.json, which schemathesis leaves out: it just read it.
    operations = sum(1 for path, item in document["paths"].items() for method in item
                     if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace")
                     and path != "/api/openapi.json")

    env = dict(os.environ)
    env.update({
        # openapi_contract_hooks.py puts the test's accounts back when schemathesis changes
        # their password or takes their admin flag away.
        "SCHEMATHESIS_HOOKS": "openapi_contract_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
        "CONTRACT_URL": hub.url, "CONTRACT_USER": USER, "CONTRACT_PASSWORD": PASSWORD,
        "CONTRACT_ADMIN": "admin", "CONTRACT_ADMIN_PASSWORD": ADMIN_PASSWORD,
    })
    command = [
        schemathesis, "run", f"{hub.url}/api/openapi.json", "--url", hub.url,
        "--phases", "examples,coverage,fuzzing,stateful", "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES), "--seed", SEED,
        "--auth", f"{USER}:{PASSWORD}",
        "--workers", "1",  # the hooks repair accounts between two requests
        "--request-timeout", "30", "--generation-database", "none", "--no-color",
        "--report", "junit", "--report-dir", str(tmp_path / "schemathesis-report"),
    ]
    try:
        proc = subprocess.run(command, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"schemathesis did not finish within {TIMEOUT}s\n{output or ''}")
    report = f"$ {' '.join(command)}\n{proc.stdout}\n{proc.stderr}"

    assert proc.returncode == 0, f"the API breaks its OpenAPI document:\n{report}"
    tested = re.search(r"Tested:\s+(\d+)", proc.stdout)
    assert tested and int(tested.group(1)) == operations, \
        f"schemathesis did not test all {operations} operations:\n{report}"
    # A run whose credentials stopped working passes while testing nothing but 401s.
    assert "Authentication failed" not in proc.stdout, report
    r = requests.get(f"{hub.url}/api/user", auth=(USER, PASSWORD), timeout=30)
    assert r.status_code == 200 and r.json()["account"]["is_admin"], \
        f"the test account did not survive the run: {r.status_code} {r.text}\n{report}"


def test_a_request_body_over_1_mib_is_a_documented_413(hub):
    """The document promises 413 with the error body for bodies over 1 MiB; schemathesis never
    sends one that large, so this checks it directly."""
    body = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    r = requests.post(f"{hub.url}/api/orgs", data=body, auth=("admin", ADMIN_PASSWORD),
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413, f"{r.status_code} {r.text[:500]}"
    assert r.headers["Content-Type"] == "application/json"
    error = r.json()
    assert isinstance(error.get("message"), str) and set(error) <= {"message", "field"}, error
