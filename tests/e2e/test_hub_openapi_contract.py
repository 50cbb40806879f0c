"""The Docker Hub API keeps the promises of its OpenAPI document.

schemathesis (pinned in requirements.txt) reads `/v2/openapi.json` from a running Wharf and
tests every operation in it with all of its phases (examples, coverage, fuzzing, stateful) and
all of its checks: no 5xx, only documented statuses, content types, headers and bodies, schema-
violating requests rejected and schema-valid ones accepted, 405 for undocumented methods,
authentication enforced, created resources readable and deleted ones gone.  It authenticates
with HTTP Basic as `alice`, a user made for the test, who owns `alice/tools` (public; `latest` a
multi-platform index with an attestation, `1.0` a single image, `latest` pulled once) and
`alice/webapp` (private).  The document's examples name these, so the examples phase reads and
changes real repositories and tags; hub_openapi_contract_hooks.py pushes `alice/tools` again
when the run deletes it or its tags, and keeps the run's wrong-password logins as `alice` from
locking the account out.

To run it alone: ``python3 -m pytest tests/e2e/test_hub_openapi_contract.py``.
E2E_SCHEMATHESIS_MAX_EXAMPLES (default 100) and E2E_SCHEMATHESIS_SEED change the run; a failure
prints schemathesis' report, with a `curl` line and the seed to reproduce each finding.
"""

from __future__ import annotations

import pytest
import requests

from contract import run_schemathesis
from hub_openapi_contract_hooks import REPOSITORY, TAGS, push_fixtures

pytestmark = pytest.mark.wharf_only(reason="Wharf's Docker Hub API")

# The account schemathesis runs as: the user and password of the document's examples.
USER, PASSWORD = "alice", "correct horse"
# The bound only stops a run that hangs (pytest.ini gives the whole test 600 s).
TIMEOUT = 480


@pytest.fixture
def hub(registry_factory):
    return registry_factory()


def test_the_hub_api_keeps_the_promises_of_its_openapi_document(hub, tmp_path):
    r = requests.post(f"{hub.url}/api/users", timeout=30, json={
        "username": USER, "email": f"{USER}@example.com", "password": PASSWORD})
    assert r.status_code == 201, r.text
    push_fixtures(hub.url, (USER, PASSWORD))
    r = requests.get(f"{hub.url}/v2/repositories/{USER}/{REPOSITORY}/tags/", auth=(USER, PASSWORD), timeout=30)
    assert r.status_code == 200 and {tag["name"] for tag in r.json()["results"]} == set(TAGS), \
        f"the fixtures are not visible through the Hub API: {r.status_code} {r.text}"
    # hub_openapi_contract_hooks.py pushes alice/tools again when the run deletes it and clears
    # alice's failed logins after each wrong password the run sends.
    report = run_schemathesis(hub.url, "/v2/openapi.json", USER, PASSWORD, "hub_openapi_contract_hooks",
                              {"CONTRACT_URL": hub.url, "CONTRACT_USER": USER, "CONTRACT_PASSWORD": PASSWORD},
                              tmp_path, TIMEOUT, "the Hub API")
    r = requests.get(f"{hub.url}/v2/repositories/{USER}/{REPOSITORY}/tags/", auth=(USER, PASSWORD), timeout=30)
    assert r.status_code == 200 and {tag["name"] for tag in r.json()["results"]} >= set(TAGS), \
        f"the test account or its repository did not survive the run: {r.status_code} {r.text}\n{report}"


def test_a_request_body_over_1_mib_is_a_documented_413(hub):
    """The document promises 413 with the error body for bodies over 1 MiB; schemathesis never
    sends one that large, so this checks it directly."""
    r = requests.post(f"{hub.url}/api/users", timeout=30, json={
        "username": USER, "email": f"{USER}@example.com", "password": PASSWORD})
    assert r.status_code == 201, r.text
    body = b'{"namespace": "alice", "name": "big", "description": "' + b"x" * (1024 * 1024) + b'"}'
    r = requests.post(f"{hub.url}/v2/repositories/", data=body, auth=(USER, PASSWORD),
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413, f"{r.status_code} {r.text[:500]}"
    assert r.headers["Content-Type"] == "application/json"
    error = r.json()
    assert set(error) == {"detail", "message"} and all(isinstance(v, str) for v in error.values()), error
