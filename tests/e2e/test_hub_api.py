"""The Docker Hub–compatible API (issue 11) with real clients: requests for the JSON routes, the
Docker engine for pushes, pulls and `docker login` with personal access tokens, buildah and
skopeo for a multi-arch manifest list.  `docker search` is in test_docker_search.py; the shapes
the server promises are in the issue (Docker Hub's field names and types)."""

from __future__ import annotations

import json
import os
import re

import pytest
import requests

from harness import wait_for
from hubapi import engine, hub  # noqa: F401 (fixtures)
from hubapi import (assert_hub_error, assert_recent, call,
                    create_repository, denied, docker_login, docker_logout, get_json, hub_login,
                    is_int, manifest_size, parse_time, password, patch_repository, pretty,
                    push_small_image, repository_detail, sign_up, star, user_client)
from oci import DOCKER_MANIFEST, OCI_MANIFEST, describe, random_bytes, sha256

pytestmark = pytest.mark.wharf_only(reason="the Docker Hub API")

PUSH_DIGEST_RE = re.compile(r": digest: (sha256:[0-9a-f]{64}) size: \d+")

README = (
    "# App\n\nA *Markdown* README with `code`, a [link](https://example.com), a table\n\n"
    "| a | b |\n| - | - |\n| 1 | 2 |\n\nand ünïcödé ✓.\n\n"
    "```sh\ndocker pull HOST/alice/app\n```\n"
)



# --------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------

def optional_time(value, what):
    if value is not None:
        parse_time(value, what)


def assert_repository_summary(body: dict, namespace: str, name: str):
    """A repository in a listing: Hub's summary fields with their types."""
    assert body.get("namespace") == namespace and body.get("name") == name, pretty(body)
    assert body.get("repository_type") == "image", pretty(body)
    assert body.get("status") == 1 and is_int(body["status"]), pretty(body)
    assert body.get("status_description") == "active", pretty(body)
    assert isinstance(body.get("description"), str), pretty(body)
    assert isinstance(body.get("is_private"), bool), pretty(body)
    assert is_int(body.get("star_count")) and is_int(body.get("pull_count")), pretty(body)
    optional_time(body.get("last_updated", "missing"), "last_updated")
    parse_time(body.get("date_registered"), "date_registered")
    assert "affiliation" in body and body["affiliation"] is None, pretty(body)
    assert isinstance(body.get("media_types"), list), pretty(body)
    assert isinstance(body.get("content_types"), list), pretty(body)


def assert_repository_detail(body: dict, namespace: str, name: str):
    """GET/PATCH/POST /v2/repositories/…: every field Hub's detail has, with its type."""
    assert_repository_summary(body, namespace, name)
    assert body.get("user") == namespace and body.get("hub_user") == namespace, pretty(body)
    assert body.get("is_automated") is False, pretty(body)
    assert isinstance(body.get("can_edit"), bool), pretty(body)
    assert is_int(body.get("collaborator_count")), pretty(body)
    assert isinstance(body.get("has_starred"), bool), pretty(body)
    assert isinstance(body.get("full_description"), str), pretty(body)
    permissions = body.get("permissions")
    assert isinstance(permissions, dict) and set(permissions) >= {"read", "write", "admin"}, \
        pretty(body)
    assert all(isinstance(permissions[k], bool) for k in ("read", "write", "admin")), pretty(body)


def assert_tag_shape(tag: dict):
    """A tag object: Hub's fields with their types (values are checked by the tests)."""
    assert isinstance(tag.get("name"), str) and tag["name"], pretty(tag)
    assert isinstance(tag.get("digest"), str) and tag["digest"].startswith("sha256:"), pretty(tag)
    assert is_int(tag.get("id")), pretty(tag)
    assert is_int(tag.get("full_size")) and tag["full_size"] > 0, pretty(tag)
    parse_time(tag.get("last_updated"), "last_updated")
    parse_time(tag.get("tag_last_pushed"), "tag_last_pushed")
    optional_time(tag.get("tag_last_pulled", "missing"), "tag_last_pulled")
    assert isinstance(tag.get("last_updater_username"), str), pretty(tag)
    assert isinstance(tag.get("media_type"), str), pretty(tag)
    assert tag.get("content_type") == "image", pretty(tag)
    assert tag.get("v2") is True and tag.get("tag_status") == "active", pretty(tag)
    assert isinstance(tag.get("images"), list) and tag["images"], pretty(tag)
    for image in tag["images"]:
        assert isinstance(image.get("architecture"), str), pretty(image)
        assert isinstance(image.get("os"), str), pretty(image)
        assert "variant" in image and (image["variant"] is None
                                       or isinstance(image["variant"], str)), pretty(image)
        assert isinstance(image.get("digest"), str), pretty(image)
        assert is_int(image.get("size")) and image["size"] > 0, pretty(image)
        assert image.get("status") == "active", pretty(image)
        parse_time(image.get("last_pushed"), "images[].last_pushed")
        optional_time(image.get("last_pulled", "missing"), "images[].last_pulled")
        assert image.get("features") == "" and image.get("os_features") == "", pretty(image)
        assert "os_version" in image and image["os_version"] is None, pretty(image)


def names(page: dict) -> list:
    return [item["name"] for item in page["results"]]


def assert_absolute(url, hub, what):
    assert isinstance(url, str) and url.startswith(hub.url + "/v2/"), \
        f"{what} must be an absolute URL on {hub.url}: {url!r}"


# --------------------------------------------------------------------------------------
# Login, repository detail and PATCH (the "Docker Hub description" CI actions' flow)
# --------------------------------------------------------------------------------------

def test_users_login_then_patch_description_and_readme(hub):
    """POST /v2/users/login gives a JWT; PATCH with `Authorization: JWT …` sets the description
    and the Markdown README; the PATCH answer, a GET with `Bearer …` and an anonymous GET show
    them byte for byte with every field of Hub's detail; a PATCH with `Bearer` (no trailing
    slash) changes only the field it sends; can_edit and permissions follow the caller."""
    sign_up(hub, "alice")
    push_small_image(hub, "alice", "alice/app", "v1", seed="readme")
    token = hub_login(hub, "alice")

    r = call(hub, "PATCH", "/v2/repositories/alice/app/", token, scheme="JWT",
             json={"description": "Short description", "full_description": README})
    assert r.status_code == 200, describe(r)
    patched = r.json()
    assert_repository_detail(patched, "alice", "app")
    assert patched["description"] == "Short description" and patched["full_description"] == README

    owner = repository_detail(hub, "alice", "app", token)
    assert_repository_detail(owner, "alice", "app")
    assert owner["description"] == "Short description", pretty(owner)
    assert owner["full_description"] == README, pretty(owner)
    assert owner["is_private"] is False and owner["can_edit"] is True, pretty(owner)
    assert owner["permissions"] == {"read": True, "write": True, "admin": True}, pretty(owner)
    assert OCI_MANIFEST in owner["media_types"] and owner["content_types"] == ["image"], \
        pretty(owner)

    anonymous = repository_detail(hub, "alice", "app")
    assert anonymous["full_description"] == README, pretty(anonymous)
    assert anonymous["can_edit"] is False, pretty(anonymous)
    assert anonymous["permissions"] == {"read": True, "write": False, "admin": False}, \
        pretty(anonymous)

    r = call(hub, "PATCH", "/v2/repositories/alice/app", token,
             json={"full_description": README + "\nMore.\n"})
    assert r.status_code == 200, describe(r)
    again = repository_detail(hub, "alice", "app", token)
    assert again["full_description"] == README + "\nMore.\n", pretty(again)
    assert again["description"] == "Short description", "a PATCH changes only what it sends"

    # The /api view shows the same description.
    r = requests.get(hub.url + "/api/repositories/alice/app", timeout=30)
    assert r.status_code == 200 and r.json()["description"] == "Short description", describe(r)


def test_patch_limits_strangers_and_private_repositories(hub):
    """description > 100 characters and full_description > 25,000 are refused with 400
    {"detail","message"} (the limits themselves pass) and change nothing; on a public
    repository a stranger's PATCH is 403 and an anonymous one 401, and they change nothing;
    a private repository answers 404 to anonymous and to a stranger, exactly like a missing
    one, and 200 to its owner."""
    sign_up(hub, "alice", "bobby")
    push_small_image(hub, "alice", "alice/app", "v1", seed="limits")
    create_repository(hub, "alice", "secret", private=True)
    alice = hub_login(hub, "alice")

    patch_repository(hub, alice, "alice", "app", description="d" * 100,
                     full_description="r" * 25_000)
    r = call(hub, "PATCH", "/v2/repositories/alice/app/", alice, json={"description": "x" * 101})
    assert_hub_error(r, 400)
    r = call(hub, "PATCH", "/v2/repositories/alice/app/", alice,
             json={"full_description": "x" * 25_001})
    assert_hub_error(r, 400)

    bobby = hub_login(hub, "bobby")
    r = call(hub, "PATCH", "/v2/repositories/alice/app/", bobby, json={"description": "mine"})
    assert_hub_error(r, 403)
    r = call(hub, "PATCH", "/v2/repositories/alice/app/", json={"description": "anyone's"})
    assert_hub_error(r, 401)
    detail = repository_detail(hub, "alice", "app", alice)
    assert detail["description"] == "d" * 100, "a refused PATCH must change nothing"
    assert detail["full_description"] == "r" * 25_000, "a refused PATCH must change nothing"

    missing = call(hub, "GET", "/v2/repositories/alice/nosuch/")
    assert_hub_error(missing, 404)
    for token in (None, bobby):
        private = call(hub, "GET", "/v2/repositories/alice/secret/", token)
        assert_hub_error(private, 404)
        assert private.json() == json.loads(missing.text.replace("nosuch", "secret")), \
            f"a private repository must look missing:\n{describe(private)}\n{describe(missing)}"
        assert private.headers.get("Content-Type") == missing.headers.get("Content-Type")
    r = call(hub, "PATCH", "/v2/repositories/alice/secret/", bobby, json={"description": "x"})
    assert_hub_error(r, 404)
    owner = repository_detail(hub, "alice", "secret", alice)
    assert owner["is_private"] is True and owner["description"] == "", pretty(owner)


def test_auth_token_endpoint_schemes_and_wrong_credentials(hub):
    """POST /v2/auth/token {"identifier","secret"} gives an access_token that works as
    `Bearer` and as `JWT` (and HTTP Basic works on Hub routes too); a wrong password is 401
    {"detail"} on /v2/auth/token and on /v2/users/login."""
    sign_up(hub, "alice")
    create_repository(hub, "alice", "secret", private=True)

    r = requests.post(hub.url + "/v2/auth/token", timeout=30,
                      json={"identifier": "alice", "secret": password("alice")})
    assert r.status_code == 200, describe(r)
    access = r.json().get("access_token")
    assert isinstance(access, str) and access.count(".") == 2, r.text
    for scheme in ("Bearer", "JWT"):
        body = get_json(hub, "/v2/repositories/alice/secret/", access, scheme)
        assert body["is_private"] is True and body["can_edit"] is True, pretty(body)
    body = get_json(hub, "/v2/repositories/alice/secret/", auth=("alice", password("alice")))
    assert body["name"] == "secret", pretty(body)

    r = requests.post(hub.url + "/v2/auth/token", timeout=30,
                      json={"identifier": "alice", "secret": "not-the-password"})
    assert_hub_error(r, 401)
    r = requests.post(hub.url + "/v2/users/login", timeout=30,
                      json={"username": "alice", "password": "not-the-password"})
    assert_hub_error(r, 401, detail="Incorrect authentication credentials")


def test_jwt_from_access_token_carries_its_scope_and_dies_with_it(hub):
    """/v2/users/login with a personal access token gives a JWT with the token's scope: a
    repo:read one reads a private repository but may not PATCH nor manage tokens (403, as the
    token itself with Basic); a repo:admin one PATCHes, until the token is deleted through
    /v2/access-tokens/{uuid}: then its JWT is refused with 401 and the token no longer logs
    in."""
    sign_up(hub, "alice")
    push_small_image(hub, "alice", "alice/app", "v1", seed="pat-jwt")
    create_repository(hub, "alice", "secret", private=True)
    session = hub_login(hub, "alice")
    tokens = {}
    for scope in ("repo:read", "repo:admin"):
        r = call(hub, "POST", "/v2/access-tokens", session,
                 json={"token_label": scope, "scopes": [scope]})
        assert r.status_code == 201, describe(r)
        tokens[scope] = r.json()

    read_jwt = hub_login(hub, "alice", tokens["repo:read"]["token"])
    assert get_json(hub, "/v2/repositories/alice/secret/", read_jwt)["is_private"] is True
    r = call(hub, "PATCH", "/v2/repositories/alice/app/", read_jwt, json={"description": "no"})
    assert_hub_error(r, 403)
    r = call(hub, "POST", "/v2/access-tokens", read_jwt,
             json={"token_label": "more", "scopes": ["repo:admin"]})
    assert_hub_error(r, 403)
    r = call(hub, "GET", "/v2/access-tokens",
             auth=("alice", tokens["repo:read"]["token"]))
    assert_hub_error(r, 403)

    admin_secret = tokens["repo:admin"]["token"]
    admin_jwt = hub_login(hub, "alice", admin_secret)
    patch_repository(hub, admin_jwt, "alice", "app", description="set with a token's JWT")
    r = call(hub, "DELETE", f"/v2/access-tokens/{tokens['repo:admin']['uuid']}", session)
    assert r.status_code == 204, describe(r)

    r = call(hub, "PATCH", "/v2/repositories/alice/app/", admin_jwt, json={"description": "late"})
    assert_hub_error(r, 401)
    r = call(hub, "GET", "/v2/repositories/alice/secret/", admin_jwt)
    assert_hub_error(r, 401)
    assert repository_detail(hub, "alice", "app")["description"] == "set with a token's JWT"
    r = requests.post(hub.url + "/v2/users/login", timeout=30,
                      json={"username": "alice", "password": admin_secret})
    assert_hub_error(r, 401)


# --------------------------------------------------------------------------------------
# Tags: multi-arch images, layers, listing, pulls
# --------------------------------------------------------------------------------------

def build_platform_image(ctools, tmp_path, name: str, arch: str, variant, size: int):
    """buildah FROM scratch + one file, configured for linux/arch[/variant]; committed as name."""
    payload = tmp_path / f"{arch}.bin"
    payload.write_bytes(random_bytes(size, f"hub-{arch}"))
    container = ctools.buildah("from", "scratch").stdout.strip().splitlines()[-1]
    ctools.buildah("copy", container, str(payload), f"/{arch}.bin")
    platform = ["--arch", arch, "--os", "linux"] + (["--variant", variant] if variant else [])
    ctools.buildah("config", *platform, container)
    ctools.buildah("commit", "--quiet", container, name)
    ctools.buildah("rm", container)


def skopeo_raw(ctools, ref: str) -> str:
    return ctools.skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout


def without_layers(images: list) -> list:
    """images[] sorted by digest, without layers and last_pulled (skopeo's GETs are pulls)."""
    return sorted(({k: v for k, v in image.items() if k not in ("layers", "last_pulled")}
                   for image in images), key=lambda image: image["digest"])


def test_multi_arch_tag_lists_one_image_per_platform(hub, ctools, tmp_path):
    """A buildah manifest list (linux/amd64 and linux/arm64/v8) pushed with --all: the tag's
    digest is the index digest, images[] has exactly one entry per platform with the digests
    `skopeo inspect --raw` shows in manifests[], the platform's architecture/os/variant and
    size = config + layers of that platform's manifest; the single-tag and /v2/namespaces forms
    agree."""
    sign_up(hub, "alice")
    ctools.skopeo("login", "--tls-verify=false", "--username", "alice", "--password-stdin",
                  hub.host, input=password("alice"))
    build_platform_image(ctools, tmp_path, "localhost/hub-amd64", "amd64", None, 40_000)
    build_platform_image(ctools, tmp_path, "localhost/hub-arm64", "arm64", "v8", 70_000)
    ctools.buildah("manifest", "create", "hub-list")
    ctools.buildah("manifest", "add", "hub-list", "containers-storage:localhost/hub-amd64")
    ctools.buildah("manifest", "add", "hub-list", "containers-storage:localhost/hub-arm64")
    ref = f"{hub.host}/alice/multi:v1"
    ctools.buildah("manifest", "push", "--all", "--tls-verify=false", "hub-list",
                   f"docker://{ref}")

    raw = skopeo_raw(ctools, ref)
    index = json.loads(raw)
    r = user_client(hub, "alice").get_manifest("alice/multi", "v1")
    assert r.status_code == 200, describe(r)
    index_digest = r.headers["Docker-Content-Digest"]
    assert sha256(raw.encode()) == index_digest, "skopeo's raw bytes are the stored index"
    platforms = {m["digest"]: m["platform"] for m in index["manifests"]}
    assert sorted(p["architecture"] for p in platforms.values()) == ["amd64", "arm64"], raw
    sizes = {digest: manifest_size(json.loads(skopeo_raw(ctools,
                                                          f"{hub.host}/alice/multi@{digest}")))
             for digest in platforms}

    listing = get_json(hub, "/v2/repositories/alice/multi/tags/")
    assert listing["count"] == 1 and names(listing) == ["v1"], pretty(listing)
    tag = listing["results"][0]
    assert_tag_shape(tag)
    assert tag["digest"] == index_digest, pretty(tag)
    assert tag["media_type"] == r.headers["Content-Type"], pretty(tag)
    assert tag["last_updater_username"] == "alice", pretty(tag)
    assert sorted(image["digest"] for image in tag["images"]) == sorted(platforms), \
        f"one images[] entry per platform manifest:\n{pretty(tag)}\n{raw}"
    for image in tag["images"]:
        platform = platforms[image["digest"]]
        assert image["architecture"] == platform["architecture"], pretty(image)
        assert image["os"] == platform["os"] == "linux", pretty(image)
        assert image["variant"] == (platform.get("variant") or None), pretty(image)
        assert image["size"] == sizes[image["digest"]], \
            f"size must be config + layers of {image['digest']}: {pretty(image)}"
    arm = next(image for image in tag["images"] if image["architecture"] == "arm64")
    assert arm["variant"] == "v8", pretty(tag)

    single = get_json(hub, "/v2/repositories/alice/multi/tags/v1/")
    assert single["name"] == "v1" and single["digest"] == index_digest, pretty(single)
    assert without_layers(single["images"]) == without_layers(tag["images"]), pretty(single)
    other_form = get_json(hub, "/v2/namespaces/alice/repositories/multi/tags")
    assert [t["digest"] for t in other_form["results"]] == [index_digest], pretty(other_form)


def test_single_tag_lists_layers_with_history_instructions(hub, engine, tmp_path):
    """An image built with `docker build` and pushed by docker: GET …/tags/{tag}/ gives
    images[].layers in history order, each layer's digest and size those of the manifest, the
    instruction the Dockerfile line (COPY … /one), and the ENV line without a layer as size 0
    with no digest."""
    sign_up(hub, "alice")
    assert docker_login(engine, hub, "alice").returncode == 0
    context = tmp_path / "context"
    context.mkdir()
    (context / "one").write_bytes(os.urandom(6000))
    (context / "two").write_bytes(os.urandom(9000))
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY one /one\nENV E2E_MARK=hub-layers\nCOPY two /two\n")
    ref = f"{hub.host}/alice/layered:v1"
    engine.docker("build", "--tag", ref, str(context))
    pushed = engine.docker("push", ref).stdout
    m = PUSH_DIGEST_RE.search(pushed)
    assert m, pushed
    digest = m.group(1)
    r = user_client(hub, "alice").get_manifest("alice/layered", digest)
    assert r.status_code == 200, describe(r)
    manifest = r.json()

    tag = get_json(hub, "/v2/repositories/alice/layered/tags/v1/")
    assert_tag_shape(tag)
    assert tag["name"] == "v1" and tag["digest"] == digest, pretty(tag)
    assert tag["media_type"] == DOCKER_MANIFEST and tag["last_updater_username"] == "alice"
    assert len(tag["images"]) == 1, pretty(tag)
    image = tag["images"][0]
    assert image["digest"] == digest and image["size"] == manifest_size(manifest), pretty(image)
    platform = engine.docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}",
                             ref).stdout.strip()
    assert f"{image['os']}/{image['architecture']}" == platform, pretty(image)
    layers = image.get("layers")
    assert isinstance(layers, list) and len(layers) == 3, pretty(image)
    for layer in layers:
        assert isinstance(layer.get("instruction"), str) and is_int(layer.get("size")), \
            pretty(layer)
    copy_one, env, copy_two = layers
    assert [(layer["digest"], layer["size"]) for layer in (copy_one, copy_two)] == \
        [(layer["digest"], layer["size"]) for layer in manifest["layers"]], pretty(layers)
    assert "COPY" in copy_one["instruction"] and "/one" in copy_one["instruction"], pretty(layers)
    assert "COPY" in copy_two["instruction"] and "/two" in copy_two["instruction"], pretty(layers)
    assert "E2E_MARK=hub-layers" in env["instruction"], pretty(layers)
    assert env["size"] == 0 and env.get("digest") is None, pretty(env)


def test_tags_pagination_filter_ordering_updater_and_delete(hub):
    """Tag listing: every tag with its digest, its pusher in last_updater_username (a write
    collaborator's push shows the collaborator), tag_last_pulled null before any pull; page_size=1
    walks all tags through absolute next/previous URLs, null at the ends; name= filters by
    substring; ordering last_updated (newest first, the default), -last_updated, name, -name;
    the /v2/namespaces form and the no-slash form agree; DELETE of a tag is 403 for a
    stranger, 204 for the owner, then the tag is 404 in the Hub API and in the registry."""
    sign_up(hub, "alice", "bobby", "carol")
    images = {}
    for tag in ("v1.0", "v1.1", "v2.0"):
        images[tag] = push_small_image(hub, "alice", "alice/app", tag, seed=f"tags-{tag}")
    r = requests.put(hub.url + "/api/repositories/alice/app/collaborators/bobby",
                     auth=("alice", password("alice")), json={"permission": "write"}, timeout=30)
    assert r.status_code == 200, describe(r)
    images["bob"] = push_small_image(hub, "bobby", "alice/app", "bob", seed="tags-bob")
    pushers = {"v1.0": "alice", "v1.1": "alice", "v2.0": "alice", "bob": "bobby"}
    newest_first = ["bob", "v2.0", "v1.1", "v1.0"]
    base = "/v2/repositories/alice/app/tags/"

    listing = get_json(hub, base)
    assert listing["count"] == 4 and listing["next"] is None and listing["previous"] is None, \
        pretty(listing)
    assert names(listing) == newest_first, pretty(listing)
    for tag in listing["results"]:
        assert_tag_shape(tag)
        image = images[tag["name"]]
        assert tag["digest"] == image.digest and tag["media_type"] == OCI_MANIFEST, pretty(tag)
        assert tag["last_updater_username"] == pushers[tag["name"]], pretty(tag)
        assert tag["tag_last_pulled"] is None, pretty(tag)
        assert len(tag["images"]) == 1, pretty(tag)
        only = tag["images"][0]
        assert only["digest"] == image.digest and only["size"] == manifest_size(image.json)
        assert (only["architecture"], only["os"], only["variant"]) == ("amd64", "linux", None)
        assert only["last_pulled"] is None, pretty(only)

    orderings = {"last_updated": newest_first, "-last_updated": newest_first[::-1],
                 "name": sorted(newest_first), "-name": sorted(newest_first, reverse=True)}
    for ordering, expected in orderings.items():
        assert names(get_json(hub, base, params={"ordering": ordering})) == expected, ordering
    filtered = get_json(hub, base, params={"name": "v1.", "ordering": "name"})
    assert filtered["count"] == 2 and names(filtered) == ["v1.0", "v1.1"], pretty(filtered)
    none = get_json(hub, base, params={"name": "nothing-like-it"})
    assert none["count"] == 0 and none["results"] == [], pretty(none)

    seen, url, pages = [], base + "?page_size=1", []
    while url:
        page = get_json(hub, url)
        assert page["count"] == 4 and len(page["results"]) == 1, pretty(page)
        pages.append(page)
        seen += names(page)
        url = page["next"]
        if url:
            assert_absolute(url, hub, "next")
        assert len(pages) <= 4, "pagination does not end"
    assert seen == newest_first, seen
    assert pages[0]["previous"] is None and pages[-1]["next"] is None
    assert_absolute(pages[1]["previous"], hub, "previous")
    assert names(get_json(hub, pages[1]["previous"])) == names(pages[0])

    for path in ("/v2/repositories/alice/app/tags", "/v2/namespaces/alice/repositories/app/tags",
                 "/v2/namespaces/alice/repositories/app/tags/"):
        assert names(get_json(hub, path)) == newest_first, path
    for path in (base + "v1.0/", base + "v1.0",
                 "/v2/namespaces/alice/repositories/app/tags/v1.0"):
        one = get_json(hub, path)
        assert one["name"] == "v1.0" and one["digest"] == images["v1.0"].digest, path
    assert_hub_error(call(hub, "GET", base + "nosuch/"), 404)

    r = call(hub, "DELETE", base + "v1.0/", hub_login(hub, "carol"))
    assert_hub_error(r, 403)
    assert get_json(hub, base + "v1.0/")["name"] == "v1.0", "a refused DELETE removed the tag"
    r = call(hub, "DELETE", base + "v1.0/", hub_login(hub, "alice"))
    assert r.status_code == 204, describe(r)
    assert_hub_error(call(hub, "GET", base + "v1.0/"), 404)
    assert names(get_json(hub, base)) == ["bob", "v2.0", "v1.1"]
    r = user_client(hub, "alice").get_manifest("alice/app", "v1.0")
    assert r.status_code == 404, describe(r)


def repository_pull_count(hub, namespace, name) -> int:
    count = repository_detail(hub, namespace, name)["pull_count"]
    assert is_int(count), count
    return count


def build_fresh_image(engine, tmp_path, ref: str):
    """docker build FROM scratch with random content: a manifest the session's engine has never
    seen, so that its first pull must GET it (the engine keeps pulled manifests by digest)."""
    context = tmp_path / ref.rsplit(":", 1)[1]
    context.mkdir()
    (context / "payload").write_bytes(os.urandom(4096))
    (context / "Dockerfile").write_text("FROM scratch\nCOPY payload /payload\n")
    engine.docker("build", "--tag", ref, str(context))


def test_pull_count_and_last_pulled_follow_docker_pulls(hub, engine, tmp_path):
    """After `docker push`, the tag names its pusher, tag_last_pushed is now, tag_last_pulled /
    images[].last_pulled are null and pull_count 0.  A manifest HEAD is not a pull: neither
    ours nor the one a repeated `docker pull` sends alone (Docker 28 pulls a tag with HEAD, then
    GET by digest only when it does not have that manifest yet).  Each manifest GET is one
    pull: a first `docker pull` of a tag adds exactly one to pull_count (detail, listing, /api
    view) and sets that tag's tag_last_pulled and images[].last_pulled (ISO 8601 Z, now) within
    5 s, not the other tag's; a plain GET of the manifest by tag adds one more."""
    sign_up(hub, "alice")
    assert docker_login(engine, hub, "alice").returncode == 0
    refs = {tag: f"{hub.host}/alice/pulled:{tag}" for tag in ("v1", "v2")}
    for ref in refs.values():
        build_fresh_image(engine, tmp_path, ref)
        engine.docker("push", ref)

    def tag_info(tag):
        return get_json(hub, f"/v2/repositories/alice/pulled/tags/{tag}/")

    def pulls_reach(count, what):
        wait_for(lambda: repository_pull_count(hub, "alice", "pulled") >= count, timeout=5,
                 what=what)
        assert repository_pull_count(hub, "alice", "pulled") == count, \
            f"{what}: a HEAD counted as a pull, or a GET counted twice"

    for tag in refs:
        info = tag_info(tag)
        assert_tag_shape(info)
        assert info["last_updater_username"] == "alice", pretty(info)
        assert_recent(info["tag_last_pushed"], "tag_last_pushed")
        assert info["tag_last_pulled"] is None, pretty(info)
        assert info["images"][0]["last_pulled"] is None, pretty(info)
    assert repository_pull_count(hub, "alice", "pulled") == 0

    r = user_client(hub, "alice").head("/v2/alice/pulled/manifests/v1",
                                         headers={"Accept": DOCKER_MANIFEST})
    assert r.status_code == 200, describe(r)
    engine.docker("pull", refs["v1"])
    pulls_reach(1, "pull_count after the first docker pull of v1")
    info = wait_for(lambda: (lambda t: t if t["tag_last_pulled"] else None)(tag_info("v1")),
                    timeout=5, what="tag_last_pulled of v1")
    assert_recent(info["tag_last_pulled"], "tag_last_pulled", seconds=60)
    assert_recent(info["images"][0]["last_pulled"], "images[].last_pulled", seconds=60)
    listed = {t["name"]: t for t in get_json(hub, "/v2/repositories/alice/pulled/tags/")["results"]}
    assert listed["v1"]["tag_last_pulled"] == info["tag_last_pulled"], pretty(listed)
    assert listed["v2"]["tag_last_pulled"] is None, "only the pulled tag was pulled"

    engine.docker("pull", refs["v1"])  # the engine has this manifest: a HEAD only
    engine.docker("pull", refs["v2"])
    pulls_reach(2, "pull_count after a repeated docker pull of v1 and a first of v2")
    wait_for(lambda: tag_info("v2")["tag_last_pulled"], timeout=5, what="tag_last_pulled of v2")

    r = user_client(hub, "alice").get_manifest("alice/pulled", "v2")
    assert r.status_code == 200, describe(r)
    pulls_reach(3, "pull_count after a manifest GET by tag")
    summary = get_json(hub, "/v2/repositories/alice/")["results"]
    assert [(s["name"], s["pull_count"]) for s in summary] == [("pulled", 3)], pretty(summary)
    r = requests.get(hub.url + "/api/repositories/alice/pulled", timeout=30)
    assert r.status_code == 200 and r.json().get("pull_count") == 3, describe(r)


# --------------------------------------------------------------------------------------
# Repository listings, creation and deletion
# --------------------------------------------------------------------------------------

def test_repository_listing_pagination_ordering_and_visibility(hub):
    """/v2/repositories/{ns}/ and /v2/namespaces/{ns}/repositories (with and without the
    trailing slash): count/next/previous/results; a private repository is listed (and counted)
    only for its owner, never for anonymous or a stranger; ordering name, -name, -star_count;
    page_size=2 pages with absolute links, null at the ends; page_size over 100 is clamped,
    bad page/page_size/ordering are 400, a page past the end 404 "Invalid page.", an unknown
    namespace 404."""
    sign_up(hub, "alice", "bobby")
    for name in ("alpha", "beta", "gamma"):
        create_repository(hub, "alice", name)
    create_repository(hub, "alice", "zeta", private=True)
    star(hub, "bobby", "alice", "beta")
    alice, bobby = hub_login(hub, "alice"), hub_login(hub, "bobby")
    base = "/v2/repositories/alice/"
    public = ["alpha", "beta", "gamma"]

    for token in (None, bobby):
        listing = get_json(hub, base, token, params={"ordering": "name"})
        assert listing["count"] == 3 and names(listing) == public, pretty(listing)
        assert listing["next"] is None and listing["previous"] is None, pretty(listing)
    for item in listing["results"]:
        assert_repository_summary(item, "alice", item["name"])
        assert item["is_private"] is False
    owner = get_json(hub, base, alice, params={"ordering": "name"})
    assert owner["count"] == 4 and names(owner) == public + ["zeta"], pretty(owner)
    assert owner["results"][-1]["is_private"] is True

    assert names(get_json(hub, base, params={"ordering": "-name"})) == public[::-1]
    by_stars = get_json(hub, base, params={"ordering": "-star_count"})
    assert names(by_stars)[0] == "beta" and by_stars["results"][0]["star_count"] == 1, \
        pretty(by_stars)

    first = get_json(hub, base, params={"ordering": "name", "page_size": 2})
    assert first["count"] == 3 and names(first) == ["alpha", "beta"], pretty(first)
    assert first["previous"] is None
    assert_absolute(first["next"], hub, "next")
    second = get_json(hub, first["next"])
    assert names(second) == ["gamma"] and second["next"] is None, pretty(second)
    assert_absolute(second["previous"], hub, "previous")
    assert names(get_json(hub, second["previous"])) == ["alpha", "beta"]
    owner_pages = get_json(hub, base, alice, params={"ordering": "name", "page_size": 2,
                                                     "page": 2})
    assert owner_pages["count"] == 4 and names(owner_pages) == ["gamma", "zeta"], \
        pretty(owner_pages)

    for path in ("/v2/repositories/alice", "/v2/namespaces/alice/repositories",
                 "/v2/namespaces/alice/repositories/"):
        listing = get_json(hub, path, params={"ordering": "name"})
        assert listing["count"] == 3 and names(listing) == public, path
        assert names(get_json(hub, path, alice, params={"ordering": "name"})) == \
            public + ["zeta"], path

    clamped = get_json(hub, base, params={"page_size": 1000})
    assert clamped["count"] == 3 and len(clamped["results"]) == 3, pretty(clamped)
    for params in ({"page_size": 0}, {"page_size": -1}, {"page_size": "ten"}, {"page": 0},
                   {"page": "one"}, {"ordering": "size"}):
        assert_hub_error(call(hub, "GET", base, params=params), 400)
    assert_hub_error(call(hub, "GET", base, params={"page": 2}), 404, detail="Invalid page.")
    assert_hub_error(call(hub, "GET", "/v2/repositories/nobodyhere/"), 404)


def test_create_and_delete_repository(hub):
    """POST /v2/repositories/ creates a repository (201 with its detail, listed afterwards;
    private ones hidden from others); the same name again is 409; anonymous is 401 and a
    stranger 403 for a repository in another's namespace; a stranger's DELETE is 403;
    the owner's DELETE answers 202 and the repository is then 404 and gone from the listing."""
    sign_up(hub, "alice", "bobby")
    alice = hub_login(hub, "alice")
    fields = {"namespace": "alice", "name": "made", "description": "Made through the Hub API",
              "full_description": "# Made\n", "is_private": False}
    r = call(hub, "POST", "/v2/repositories/", alice, json=fields)
    assert r.status_code == 201, describe(r)
    created = r.json()
    assert_repository_detail(created, "alice", "made")
    assert (created["description"], created["full_description"], created["is_private"]) == \
        ("Made through the Hub API", "# Made\n", False), pretty(created)
    assert repository_detail(hub, "alice", "made")["description"] == "Made through the Hub API"
    assert "made" in names(get_json(hub, "/v2/repositories/alice/"))
    assert_hub_error(call(hub, "POST", "/v2/repositories/", alice, json=fields), 409)
    other = dict(fields, name="other")
    assert_hub_error(call(hub, "POST", "/v2/repositories/", json=other), 401)
    assert_hub_error(call(hub, "POST", "/v2/repositories/", hub_login(hub, "bobby"),
                          json=other), 403)
    assert_hub_error(call(hub, "GET", "/v2/repositories/alice/other/", alice), 404)

    r = call(hub, "POST", "/v2/repositories", alice,
             json={"namespace": "alice", "name": "hush", "is_private": True})
    assert r.status_code == 201, describe(r)
    assert r.json()["is_private"] is True, r.text
    assert_hub_error(call(hub, "GET", "/v2/repositories/alice/hush/"), 404)
    assert repository_detail(hub, "alice", "hush", alice)["is_private"] is True

    bobby = hub_login(hub, "bobby")
    assert_hub_error(call(hub, "DELETE", "/v2/repositories/alice/made/", bobby), 403)
    assert repository_detail(hub, "alice", "made")["name"] == "made"
    r = call(hub, "DELETE", "/v2/repositories/alice/made/", alice)
    assert r.status_code == 202, describe(r)
    assert_hub_error(call(hub, "GET", "/v2/repositories/alice/made/"), 404)
    assert "made" not in names(get_json(hub, "/v2/repositories/alice/", alice))


# --------------------------------------------------------------------------------------
# Personal access tokens
# --------------------------------------------------------------------------------------

def test_personal_access_tokens_with_docker_login(hub, engine, local_images):
    """POST /v2/access-tokens with scopes ["repo:read"] returns the secret once (later GETs show
    token ""), it is one of /api/tokens; docker login with it works and pulls, but a push is
    denied; PATCH is_active false makes docker login with it fail, true makes it work again;
    DELETE answers 204, then the token is 404 and no longer logs in."""
    sign_up(hub, "alice")
    assert docker_login(engine, hub, "alice").returncode == 0
    ref = f"{hub.host}/alice/app:v1"
    engine.docker("tag", local_images.BASE, ref)
    engine.docker("push", ref)
    docker_logout(engine, hub)
    session = hub_login(hub, "alice")

    r = call(hub, "POST", "/v2/access-tokens", session,
             json={"token_label": "ci read", "scopes": ["repo:read"]})
    assert r.status_code == 201, describe(r)
    created = r.json()
    secret, uuid = created.get("token"), created.get("uuid")
    assert isinstance(secret, str) and secret.startswith("wharf_pat_"), pretty(created)
    assert isinstance(uuid, str) and uuid, pretty(created)
    assert created["token_label"] == "ci read" and created["scopes"] == ["repo:read"]
    assert created["is_active"] is True and created["client_id"] == "wharf", pretty(created)
    assert created["generated_by"] == "manual" and created["last_used"] is None, pretty(created)
    assert created.get("expires_at") is None, pretty(created)
    assert created["creator_ip"] == "127.0.0.1", pretty(created)
    assert created["creator_ua"].startswith("python-requests/"), pretty(created)
    assert_recent(created["created_at"], "created_at")

    shown = get_json(hub, f"/v2/access-tokens/{uuid}", session)
    assert shown["token"] == "" and shown["uuid"] == uuid, "the secret is shown only once"
    assert shown["token_label"] == "ci read" and shown["scopes"] == ["repo:read"], pretty(shown)
    listing = get_json(hub, "/v2/access-tokens", session)
    assert is_int(listing.get("count")) and is_int(listing.get("active_count")), pretty(listing)
    assert "next" in listing and "previous" in listing, pretty(listing)
    mine = [t for t in listing["results"] if t["uuid"] == uuid]
    assert len(mine) == 1 and mine[0]["token"] == "", pretty(listing)
    assert all(t["token"] == "" for t in listing["results"]), "no secret in the listing"
    api_tokens = requests.get(hub.url + "/api/tokens", auth=("alice", password("alice")),
                              timeout=30).json()
    assert [(t["name"], t["scopes"]) for t in api_tokens if t["id"] == uuid] == \
        [("ci read", ["read"])], api_tokens

    assert docker_login(engine, hub, "alice", secret).returncode == 0
    assert engine.docker("pull", ref).returncode == 0
    engine.docker("tag", local_images.DERIVED, f"{hub.host}/alice/app:v2")
    push = engine.docker("push", f"{hub.host}/alice/app:v2", check=False)
    assert denied(push), push.stdout + push.stderr
    docker_logout(engine, hub)

    active = get_json(hub, "/v2/access-tokens", session)["active_count"]
    r = call(hub, "PATCH", f"/v2/access-tokens/{uuid}", session, json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False, describe(r)
    assert get_json(hub, f"/v2/access-tokens/{uuid}", session)["is_active"] is False
    assert get_json(hub, "/v2/access-tokens", session)["active_count"] == active - 1
    assert docker_login(engine, hub, "alice", secret).returncode != 0, \
        "an inactive token must not log in"
    r = call(hub, "PATCH", f"/v2/access-tokens/{uuid}", session, json={"is_active": True})
    assert r.status_code == 200 and r.json()["is_active"] is True, describe(r)
    assert docker_login(engine, hub, "alice", secret).returncode == 0
    docker_logout(engine, hub)

    r = call(hub, "DELETE", f"/v2/access-tokens/{uuid}", session)
    assert r.status_code == 204, describe(r)
    assert_hub_error(call(hub, "GET", f"/v2/access-tokens/{uuid}", session), 404)
    assert docker_login(engine, hub, "alice", secret).returncode != 0
