"""Running schemathesis against a Wharf's OpenAPI document, shared by the contract tests of the
JSON API (test_openapi_contract.py) and of the Docker Hub API (test_hub_openapi_contract.py).

Every phase (examples, coverage, fuzzing, stateful) and every check, as one user with HTTP Basic,
one worker (the hooks repair state between two requests). E2E_SCHEMATHESIS_MAX_EXAMPLES (default
100) and E2E_SCHEMATHESIS_SEED change the run; a failure shows schemathesis' report, with a `curl`
line and the seed to reproduce each finding.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
MAX_EXAMPLES = int(os.environ.get("E2E_SCHEMATHESIS_MAX_EXAMPLES", "100"))
SEED = os.environ.get("E2E_SCHEMATHESIS_SEED", "20261201")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def run_schemathesis(base_url: str, document_path: str, user: str, password: str, hooks: str,
                     hook_env: dict, tmp_path: Path, timeout: int, what: str) -> str:
    """Runs schemathesis on `base_url + document_path` and asserts that it passed, tested every
    operation of the document (but the document's own GET) and never lost its credentials.
    `hooks` names the hooks module (next to this file), `hook_env` what it reads. Returns the report."""
    schemathesis = shutil.which("schemathesis")
    assert schemathesis, "schemathesis is not installed: pip install -r tests/e2e/requirements.txt"
    document = requests.get(base_url + document_path, timeout=30).json()
    # Every operation but the document's GET, which schemathesis leaves out: it just read it.
    operations = sum(1 for path, item in document["paths"].items() for method in item
                     if method in METHODS and path != document_path)
    env = dict(os.environ)
    env.update(hook_env)
    env["SCHEMATHESIS_HOOKS"] = hooks
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    command = [
        schemathesis, "run", base_url + document_path, "--url", base_url,
        "--phases", "examples,coverage,fuzzing,stateful", "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES), "--seed", SEED,
        "--auth", f"{user}:{password}",
        "--workers", "1",  # the hooks repair state between two requests
        "--request-timeout", "30", "--generation-database", "none", "--no-color",
        "--report", "junit", "--report-dir", str(tmp_path / "schemathesis-report"),
    ]
    try:
        proc = subprocess.run(command, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"schemathesis did not finish within {timeout}s\n{output or ''}")
    report = f"$ {' '.join(command)}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, f"{what} breaks its OpenAPI document:\n{report}"
    tested = re.search(r"Tested:\s+(\d+)", proc.stdout)
    assert tested and int(tested.group(1)) == operations, \
        f"schemathesis did not test all {operations} operations:\n{report}"
    # A run whose credentials stopped working passes while testing nothing but 401s.
    assert "Authentication failed" not in proc.stdout, report
    return report
