"""Behind a load balancer: forwarding headers are believed from trusted proxies only."""

import pytest
import requests

pytestmark = pytest.mark.wharf_only(reason="Wharf's --trusted-proxies")

PASSWORD = "e2e-admin-password"


def login(server, password, forwarded_for):
    return requests.get(server.url + "/api/user", auth=("admin", password), timeout=30,
                        headers={"X-Forwarded-For": forwarded_for})


def test_throttle_follows_the_forwarded_client_behind_a_trusted_proxy(registry_factory):
    server = registry_factory(extra_args=["--trusted-proxies", "127.0.0.0/8"], env={"WHARF_ADMIN_PASSWORD": PASSWORD})
    for _ in range(5):
        assert login(server, "wrong-password", "203.0.113.1").status_code in (401, 429)
    # That client is locked out, even with the right password ...
    assert login(server, PASSWORD, "203.0.113.1").status_code == 429
    # ... while another client behind the same proxy logs in.
    assert login(server, PASSWORD, "203.0.113.2").status_code == 200


def test_forwarding_headers_from_an_untrusted_peer_are_ignored(registry_factory):
    server = registry_factory(env={"WHARF_ADMIN_PASSWORD": PASSWORD})
    for index in range(5):
        assert login(server, "wrong-password", f"203.0.113.{index}").status_code in (401, 429)
    # The claimed addresses changed nothing: the real peer (127.0.0.1) is the one locked out.
    assert login(server, PASSWORD, "198.51.100.99").status_code == 429


def test_token_realm_uses_the_scheme_the_trusted_proxy_reports(registry_factory):
    server = registry_factory(extra_args=["--trusted-proxies", "127.0.0.1"])
    behind = requests.get(server.url + "/v2/", headers={"X-Forwarded-Proto": "https"}, timeout=30)
    assert behind.status_code == 401
    assert behind.headers["WWW-Authenticate"].startswith('Bearer realm="https://'), behind.headers
    direct = requests.get(server.url + "/v2/", timeout=30)
    assert direct.headers["WWW-Authenticate"].startswith('Bearer realm="http://'), direct.headers
