"""The end-to-end suite's process harness and OCI helpers (tests/e2e), shared with the benchmark."""

import sys

from .settings import REPO_ROOT

_E2E = str(REPO_ROOT / "tests" / "e2e")
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)

import harness  # noqa: E402
import oci  # noqa: E402

__all__ = ["harness", "oci"]
