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

import pytest
import requests

from contract import run_schemathesis

pytestmark = pytest.mark.wharf_only(reason="Wharf's own JSON API")

ADMIN_PASSWORD = "e2e-admin-password"
# The account schemathesis runs as (an administrator, made for the test).
USER, PASSWORD = "contract", "contract-password"
# A run takes 1 to 3 minutes with the defaults; the bound only stops one that hangs.
TIMEOUT = 420


@pytest.fixture
def hub(registry_factory):
    # Webhook URLs on private addresses are refused after DNS resolution, which no schema can
    # express: the contract run allows them (test_webhooks.py tests the refusal).
    return registry_factory(env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD}, extra_args=["--webhook-allow-private", "true"])


def test_the_api_keeps_the_promises_of_its_openapi_document(hub, tmp_path):
    r = requests.post(f"{hub.url}/api/users", timeout=30, json={
        "username": USER, "email": f"{USER}@example.com", "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = requests.put(f"{hub.url}/api/admin/users/{USER}", json={"is_admin": True},
                     auth=("admin", ADMIN_PASSWORD), timeout=30)
    assert r.status_code == 200, r.text
    # openapi_contract_hooks.py puts the test's accounts back when schemathesis changes their
    # password or takes their admin flag away.
    report = run_schemathesis(hub.url, "/api/openapi.json", USER, PASSWORD, "openapi_contract_hooks",
                              {"CONTRACT_URL": hub.url, "CONTRACT_USER": USER, "CONTRACT_PASSWORD": PASSWORD,
                               "CONTRACT_ADMIN": "admin", "CONTRACT_ADMIN_PASSWORD": ADMIN_PASSWORD},
                              tmp_path, TIMEOUT, "the API")
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
