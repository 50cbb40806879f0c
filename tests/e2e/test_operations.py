"""Running Wharf: health, metrics, graceful shutdown, help, configuration, logs, upload expiry."""

import json
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness import files_under, run, wait_for, wharf_binary
from oci import (assert_oci_error, describe, make_image, random_bytes, sha256,
                 with_query)

pytestmark = pytest.mark.wharf_only(reason="Wharf's own operational endpoints and flags")


def metrics(registry) -> dict:
    r = requests.get(registry.url + "/metrics", timeout=10)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith("text/plain"), describe(r)
    return {family.name: family for family in text_string_to_metric_families(r.text)}


def sample_values(family, suffix: str = "") -> list:
    return [s for s in family.samples if s.name == family.name + suffix]


def total(family, suffix: str = "") -> float:
    return sum(s.value for s in sample_values(family, suffix))


def test_health_and_readiness(registry):
    for path in ("/healthz", "/readyz"):
        r = requests.get(registry.url + path, timeout=10)
        assert r.status_code == 200, describe(r)


def test_metrics_count_requests_bytes_uploads_and_storage(registry, client):
    image = make_image(n_layers=2, layer_size=300_000, seed="metrics")
    client.push_image("e2e/metrics", "v1", image)
    pushed = sum(len(b) for b in image.blobs.values())
    for digest in image.blobs:
        assert client.get(f"/v2/e2e/metrics/blobs/{digest}").status_code == 200
    assert client.get_manifest("e2e/metrics", "missing").status_code == 404

    fams = metrics(registry)
    for name in ("wharf_http_requests", "wharf_http_request_duration_seconds",
                 "wharf_http_received_bytes", "wharf_http_sent_bytes",
                 "wharf_upload_sessions_open", "wharf_storage_bytes"):
        assert name in fams, f"metric {name} missing; have {sorted(fams)}"

    requests_total = fams["wharf_http_requests"]
    assert requests_total.type == "counter"
    samples = sample_values(requests_total, "_total")
    label_values = [set(s.labels.values()) for s in samples]
    assert any("201" in v for v in label_values), f"no request counted with status 201: {samples}"
    assert any("404" in v for v in label_values), f"no request counted with status 404: {samples}"
    assert len({tuple(sorted(s.labels.items())) for s in samples}) >= 4, (
        f"requests are not broken down by route/status: {samples}")
    for s in samples:
        for value in s.labels.values():
            assert "sha256:" not in value and "/e2e/" not in value, (
                f"label values must be route templates, not raw paths: {s}")

    duration = fams["wharf_http_request_duration_seconds"]
    assert duration.type == "histogram"
    buckets = sample_values(duration, "_bucket")
    assert buckets and any(s.labels.get("le") == "+Inf" for s in buckets)
    assert total(duration, "_count") >= len(samples)

    assert total(fams["wharf_http_received_bytes"], "_total") >= pushed
    assert total(fams["wharf_http_sent_bytes"], "_total") >= pushed
    assert total(fams["wharf_storage_bytes"]) >= pushed


def test_open_upload_sessions_gauge(registry, client):
    def open_sessions():
        return total(metrics(registry)["wharf_upload_sessions_open"])

    before = open_sessions()
    loc = client.start_upload("e2e/gauge")
    assert open_sessions() == before + 1
    assert client.delete(loc).status_code == 204
    assert open_sessions() == before
    client.upload_blob("e2e/gauge", b"done")
    assert open_sessions() == before


def test_sigterm_exits_zero(registry, client):
    client.push_image("e2e/term", "v1", make_image(seed="term"))
    code = registry.terminate(timeout=20)
    assert code == 0, f"exit code {code} after SIGTERM\n{registry.log_tail()}"
    registry.start()  # the data survives a graceful stop
    assert registry.client().get_manifest("e2e/term", "v1").status_code == 200


def test_help_lists_options_and_environment():
    top = run([wharf_binary(), "--help"], timeout=30)
    assert "serve" in top.stdout, top.stdout
    serve = run([wharf_binary(), "serve", "--help"], timeout=30)
    for word in ("--port", "WHARF_PORT", "--host", "WHARF_HOST", "--data-dir", "WHARF_DATA_DIR",
                 "--tls-cert", "--tls-key", "--log-format", "--upload-expiry", "--config", "WHARF_CONFIG",
                 "--signup", "WHARF_SIGNUP"):
        assert word in serve.stdout, f"`wharf serve --help` does not mention {word}"


@pytest.mark.parametrize("env,flags,named", [
    ({"WHARF_SIGNUP": "maybe"}, ["--port", "0"], "signup"),
    ({"WHARF_PORT": "fifty"}, [], "port"),
    ({}, ["--port", "0", "--private-repo-limit", "-3"], "private-repo-limit"),
    ({}, ["--port", "0", "--config", "/no/such/wharf.json"], "/no/such/wharf.json"),
], ids=["env-bool", "env-int", "flag-range", "missing-file"])
def test_bad_settings_are_refused_at_start(tmp_path, env, flags, named):
    r = run([wharf_binary(), "serve", "--data-dir", str(tmp_path / "data"), *flags],
            env=env, check=False, timeout=60)
    assert r.returncode != 0, "a bad setting was accepted"
    assert named in r.stderr + r.stdout, r.stderr + r.stdout


def test_config_file_sets_options_below_flags_and_environment(registry_factory, tmp_path):
    path = tmp_path / "wharf.json"
    path.write_text(json.dumps({"signup": False, "private-repo-limit": 4, "token-lifetime": 120}))
    server = registry_factory(extra_args=["--config", str(path)], env={"WHARF_TOKEN_LIFETIME": "90"})
    r = requests.post(server.url + "/api/users", timeout=10,
                      json={"username": "carol", "email": "c@example.com", "password": "long-enough"})
    assert r.status_code == 403, describe(r)  # signup: false, from the file
    me = requests.get(server.url + "/api/user", auth=server.credentials, timeout=10).json()
    assert me["account"]["private_repo_limit"] == 4
    token = requests.get(server.url + "/token?service=wharf", auth=server.credentials, timeout=10).json()
    assert token["expires_in"] == 90  # the environment beats the file


@pytest.mark.filesystem_storage_only(reason="checks that blobs land in WHARF_DATA_DIR/blobs")
def test_environment_configures_host_port_and_data_dir(registry_factory, tmp_path):
    data = tmp_path / "env-data"
    server = registry_factory(data_dir=data, use_env_config=True)
    client = server.client()
    client.push_image("e2e/env", "v1", make_image(seed="env"))
    assert files_under(data / "blobs"), f"nothing stored under {data}/blobs"


def test_json_logs_have_one_line_per_request(registry_factory):
    server = registry_factory(extra_args=["--log-format", "json"])
    path = "/v2/e2e/logged/manifests/nope"
    assert server.client().get(path).status_code == 404

    def logged():
        for line in server.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and path in json.dumps(entry):
                return entry
        return None

    entry = wait_for(logged, 10, what=f"a JSON log line for {path}")
    flat = json.dumps(entry)
    assert "GET" in flat and "404" in flat, f"request log line lacks method/status: {entry}"


def test_text_logs_have_method_path_and_status(registry):
    path = "/v2/e2e/logged-text/manifests/nope"
    assert registry.client().get(path).status_code == 404
    line = wait_for(lambda: next((line for line in registry.log_text().splitlines()
                                  if path in line), None), 10, what="a request log line")
    assert "GET" in line and "404" in line, line


def test_idle_upload_session_expires_and_its_bytes_are_reclaimed(registry_factory):
    server = registry_factory(extra_args=["--upload-expiry", "2"])
    client = server.client()
    data = random_bytes(500_000, "expiry")
    loc = client.start_upload("e2e/expiry")
    r = client.patch(loc, data=data, headers={"Content-Range": f"0-{len(data) - 1}",
                                              "Content-Type": "application/octet-stream"})
    assert r.status_code == 202, describe(r)
    loc = client.location(r)
    staged = server.staged_upload_bytes()
    assert staged >= len(data), f"upload bytes are not staged under {server.upload_storage}"

    def expired():
        r = client.get(loc)
        return [r] if r.status_code == 404 else None  # a 404 Response is falsy itself

    [r] = wait_for(expired, 60, interval=0.5, what="the idle upload to expire")
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    wait_for(lambda: server.staged_upload_bytes() == 0, 30, interval=0.5,
             what=f"staged bytes under {server.upload_storage} to be deleted")
    r = client.put(with_query(loc, digest=sha256(data)), data=b"")
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    assert client.head(f"/v2/e2e/expiry/blobs/{sha256(data)}").status_code == 404


def test_active_upload_does_not_expire_while_used(registry_factory):
    server = registry_factory(extra_args=["--upload-expiry", "3"])
    client = server.client()
    data = random_bytes(6 * 1000, "active")
    loc = client.start_upload("e2e/active")
    for i in range(6):  # 6 chunks, 1 s apart: 6 s in all, but never 3 s idle
        chunk = data[i * 1000:(i + 1) * 1000]
        r = client.patch(loc, data=chunk, headers={
            "Content-Range": f"{i * 1000}-{i * 1000 + 999}",
            "Content-Type": "application/octet-stream"})
        assert r.status_code == 202, describe(r)
        loc = client.location(r)
        time.sleep(1)
    r = client.put(with_query(loc, digest=sha256(data)), data=b"")
    assert r.status_code == 201, describe(r)

