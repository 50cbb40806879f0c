"""Each surface answers in its own error shape, and answers sent before a body was read reach
clients that send ``Connection: close`` (Python's urllib) instead of leaving them hanging."""

import hashlib
import json
import os
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.wharf_only(reason="Wharf's own JSON API and error shapes")


def urlopen(url, data, method, headers, timeout=15):
    """urllib sends ``Connection: close`` and writes the whole body before reading the answer."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def basic(credentials):
    import base64
    return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()


@pytest.mark.parametrize("attempt", range(3))
def test_anonymous_monolithic_upload_gets_its_401_over_connection_close(registry, attempt):
    data = os.urandom(8 * 1024 * 1024)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, headers, body = urlopen(f"{registry.url}/v2/e2e/anon/blobs/uploads/?digest={digest}", data, "POST",
                                    {"Content-Type": "application/octet-stream"})
    assert status == 401
    assert "Bearer realm=" in headers.get("WWW-Authenticate", "")
    assert json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("attempt", range(3))
def test_oversized_manifest_gets_its_413_over_connection_close(registry, attempt):
    data = json.dumps({"schemaVersion": 2, "padding": "x" * (5 * 1024 * 1024)}).encode()
    status, _, body = urlopen(f"{registry.url}/v2/e2e/big/manifests/v1", data, "PUT",
                              {"Content-Type": "application/vnd.oci.image.manifest.v1+json",
                               "Authorization": basic(registry.credentials)})
    assert status == 413
    assert json.loads(body)["errors"][0]["code"] == "MANIFEST_INVALID"


def test_api_answers_in_its_own_shape(registry):
    # Too large a JSON body: a 413 in the API's shape, not the registry's SIZE_INVALID.
    status, _, body = urlopen(f"{registry.url}/api/users", b'{"username":"' + b"x" * (2 * 1024 * 1024) + b'"}', "POST",
                              {"Content-Type": "application/json"})
    assert status == 413
    parsed = json.loads(body)
    assert "message" in parsed and "errors" not in parsed, parsed
    # An unknown API path and a wrong method: JSON messages, no OCI codes.
    for method, path in (("GET", "/api/nothing-here"), ("DELETE", "/api/users")):
        status, _, body = urlopen(f"{registry.url}{path}", None, method, {})
        parsed = json.loads(body)
        assert status in (404, 405) and "message" in parsed and "errors" not in parsed, (path, status, parsed)
    # No Docker-Distribution-API-Version header outside the registry.
    _, headers, _ = urlopen(f"{registry.url}/api/nothing-here", None, "GET", {})
    assert "Docker-Distribution-API-Version" not in headers


def test_registry_errors_use_only_oci_codes(registry):
    oci = {"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
           "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED",
           "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS", "TAG_INVALID", "RANGE_INVALID", "PAGINATION_NUMBER_INVALID",
           "NOT_FOUND", "UNKNOWN"}
    auth = {"Authorization": basic(registry.credentials)}
    cases = [
        ("GET", "/v2/e2e/x/manifests/.INVALID_NAME", None, 404, "MANIFEST_UNKNOWN"),
        ("HEAD", "/v2/e2e/x/manifests/.INVALID_NAME", None, 404, None),
        ("PUT", "/v2/e2e/x/manifests/.INVALID_NAME", b"{}", 400, "TAG_INVALID"),
        ("GET", "/v2/e2e/x/tags/list?n=-1", None, 400, "PAGINATION_NUMBER_INVALID"),
        ("PATCH", "/v2/e2e/x/tags/list", b"", 405, "UNSUPPORTED"),
    ]
    for method, path, data, status, code in cases:
        got, headers, body = urlopen(f"{registry.url}{path}", data, method, dict(auth))
        assert got == status, (method, path, got, body)
        assert headers.get("Docker-Distribution-API-Version") == "registry/2.0"
        if code:
            codes = {e["code"] for e in json.loads(body)["errors"]}
            assert codes == {code} and codes <= oci, (method, path, codes)


def test_token_endpoint_answers_oauth_errors_for_bad_grants(registry):
    status, _, body = urlopen(f"{registry.url}/token", b"grant_type=magic", "POST",
                              {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and json.loads(body)["error"] == "unsupported_grant_type"
    status, _, body = urlopen(f"{registry.url}/token", b"grant_type=password&username=admin", "POST",
                              {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and json.loads(body)["error"] == "invalid_request"
