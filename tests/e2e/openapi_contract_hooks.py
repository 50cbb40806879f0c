"""Schemathesis hooks for test_openapi_contract.py (loaded with SCHEMATHESIS_HOOKS).

Schemathesis sends every request the OpenAPI document allows, and some of them take away the
credentials it tests with: `PATCH /api/user` with a new password, `PUT /api/admin/users/{username}`
with `disabled: true` or `is_admin: false` on the test's own accounts.  Right after such a call
(responses and checks are untouched), these hooks put the account back as it was, so that the rest
of the run still tests the API rather than answering 401.  Schemathesis runs with one worker, so
no other request falls between the change and the repair.

Environment: CONTRACT_URL, CONTRACT_USER / CONTRACT_PASSWORD (the credentials schemathesis
uses) and CONTRACT_ADMIN / CONTRACT_ADMIN_PASSWORD (the server's first administrator).
"""

from __future__ import annotations

import base64
import os

import requests
import schemathesis

URL = os.environ["CONTRACT_URL"]
ACCOUNTS = {
    os.environ["CONTRACT_USER"]: os.environ["CONTRACT_PASSWORD"],
    os.environ["CONTRACT_ADMIN"]: os.environ["CONTRACT_ADMIN_PASSWORD"],
}


def _repair(method: str, path: str, auth: tuple, body: dict):
    # The password may be any Unicode: encode it as UTF-8 (requests' own Basic auth uses Latin-1).
    basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    response = requests.request(method, URL + path, headers={"Authorization": f"Basic {basic}"},
                                json=body, timeout=30)
    if response.status_code != 200:
        raise AssertionError(f"could not restore the test accounts: {method} {path} as {auth[0]} "
                             f"answered {response.status_code} {response.text}")


@schemathesis.hook
def after_call(context, case, response):
    if not 200 <= response.status_code < 300 or not isinstance(case.body, dict):
        return
    if case.method.upper() == "PATCH" and case.path == "/api/user":
        new = case.body.get("password")
        user = os.environ["CONTRACT_USER"]
        if isinstance(new, str) and new != ACCOUNTS[user]:
            _repair("PATCH", "/api/user", (user, new), {"password": ACCOUNTS[user]})
    elif case.method.upper() == "PUT" and case.path == "/api/admin/users/{username}":
        target = case.path_parameters.get("username")
        if target in ACCOUNTS and (case.body.get("disabled") is True or case.body.get("is_admin") is False):
            repairer = next(name for name in ACCOUNTS if name != target)
            _repair("PUT", f"/api/admin/users/{target}", (repairer, ACCOUNTS[repairer]),
                    {"disabled": False, "is_admin": True})
