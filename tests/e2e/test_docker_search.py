"""`docker search HOST/term` against Wharf (issue 11): the Docker engine's /v1/_ping and
/v1/search, with descriptions set through the Hub API and stars through /api; and /v1/search
itself with plain HTTP (shape, `n`, official short names, ranking by stars)."""

from __future__ import annotations

import pytest
import requests

from hubapi import engine, hub  # noqa: F401 (fixtures)
from hubapi import (ADMIN_PASSWORD, create_repository, docker_login, hub_login, is_int, patch_repository,
                    push_small_image, star, sign_up)
from oci import describe, make_image

pytestmark = pytest.mark.wharf_only(reason="docker search and the Docker Hub API")

SEARCH_FORMAT = "{{.Name}}\t{{.Description}}\t{{.StarCount}}"



def docker_search(engine, hub, term: str, limit=None) -> dict:
    """`docker search HOST/term` (full descriptions); {name: (description, star count)}."""
    args = ["search", "--no-trunc", "--format", SEARCH_FORMAT]
    if limit is not None:
        args += ["--limit", str(limit)]
    out = engine.docker(*args, f"{hub.host}/{term}", timeout=60).stdout
    rows = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        name, description, stars = line.split("\t")
        assert name not in rows, f"{name} listed twice:\n{out}"
        rows[name] = (description, stars)
    return rows


def test_docker_search_shows_description_stars_and_only_visible_private_repositories(hub, engine):
    """docker search finds a pushed public repository with the description set by Hub PATCH and
    the stars given through /api; a private repository that matches appears only to its owner:
    never anonymously, never to another logged-in user."""
    sign_up(hub, "alice", "bobby", "carol")
    push_small_image(hub, "alice", "alice/searchable", "v1", seed="search-public")
    create_repository(hub, "alice", "alicestash", private=True)
    push_small_image(hub, "alice", "alice/alicestash", "v1", seed="search-alice-private")
    create_repository(hub, "bobby", "bobbystash", private=True)
    push_small_image(hub, "bobby", "bobby/bobbystash", "v1", seed="search-bobby-private")

    alice = hub_login(hub, "alice")
    public_description = "Searchable widgets for the end-to-end suite"
    patch_repository(hub, alice, "alice", "searchable", description=public_description)
    patch_repository(hub, alice, "alice", "alicestash", description="searchable stash of alice")
    patch_repository(hub, hub_login(hub, "bobby"), "bobby", "bobbystash",
                     description="searchable stash of bobby")
    star(hub, "bobby", "alice", "searchable")
    assert star(hub, "carol", "alice", "searchable")["star_count"] == 2
    assert star(hub, "carol", "alice", "searchable")["star_count"] == 2, \
        "starring twice counts once"

    anonymous = docker_search(engine, hub, "searchable")
    assert anonymous.get("alice/searchable") == (public_description, "2"), anonymous
    assert "alice/alicestash" not in anonymous and "bobby/bobbystash" not in anonymous, anonymous

    assert docker_login(engine, hub, "bobby").returncode == 0
    as_bobby = docker_search(engine, hub, "searchable")
    assert as_bobby.get("alice/searchable") == (public_description, "2"), as_bobby
    assert as_bobby.get("bobby/bobbystash") == ("searchable stash of bobby", "0"), as_bobby
    assert "alice/alicestash" not in as_bobby, as_bobby

    assert docker_login(engine, hub, "alice").returncode == 0
    as_alice = docker_search(engine, hub, "searchable")
    assert as_alice.get("alice/alicestash") == ("searchable stash of alice", "0"), as_alice
    assert "alice/searchable" in as_alice, as_alice
    assert "bobby/bobbystash" not in as_alice, as_alice


def test_docker_search_limit(hub, engine):
    """`docker search --limit 5` shows 5 of 7 matching repositories; without it all 7."""
    sign_up(hub, "alice")
    alice = hub_login(hub, "alice")
    for i in range(1, 8):
        push_small_image(hub, "alice", f"alice/pouch{i}", "v1", seed=f"limit-{i}")
        patch_repository(hub, alice, "alice", f"pouch{i}", description=f"quokka number {i}")

    everything = docker_search(engine, hub, "quokka")
    assert sorted(everything) == [f"alice/pouch{i}" for i in range(1, 8)], everything
    limited = docker_search(engine, hub, "quokka", limit=5)
    assert len(limited) == 5, limited
    assert set(limited) <= set(everything), limited


def test_v1_search_shape_official_names_ranking_and_n(hub):
    """GET /v1/search answers Docker Hub's shape; an official (library/) repository is named by
    its short name with is_official true and ranks above the others (no exact name match), and
    of those the starred one first; `n` limits the page and must be 1..100; /v1/_ping answers
    200."""
    sign_up(hub, "alice", "bobby")
    assert requests.get(hub.url + "/v1/_ping", timeout=30).status_code == 200

    admin = hub.client()
    admin.push_image("library/wombatlib", "latest", make_image(seed="search-official"))
    admin_jwt = hub_login(hub, "admin", ADMIN_PASSWORD)
    patch_repository(hub, admin_jwt, "library", "wombatlib", description="wombat official image")
    alice = hub_login(hub, "alice")
    for name in ("wombat-less", "wombat-more"):
        push_small_image(hub, "alice", f"alice/{name}", "v1", seed=f"search-{name}")
    patch_repository(hub, alice, "alice", "wombat-less", description="a wombat with no stars")
    patch_repository(hub, alice, "alice", "wombat-more", description="a wombat with a star")
    star(hub, "bobby", "alice", "wombat-more")

    r = requests.get(hub.url + "/v1/search", params={"q": "wombat"}, timeout=30)
    assert r.status_code == 200, describe(r)
    body = r.json()
    for key in ("num_results", "num_pages", "page", "page_size"):
        assert is_int(body.get(key)), f"{key} must be an integer: {body}"
    assert body["query"] == "wombat" and body["num_results"] == 3 and body["page"] == 1, body
    assert body["page_size"] == 25, body
    names = [result["name"] for result in body["results"]]
    assert sorted(names) == ["alice/wombat-less", "alice/wombat-more", "wombatlib"], body
    by_name = {result["name"]: result for result in body["results"]}
    for result in body["results"]:
        assert set(result) >= {"name", "description", "star_count", "is_official",
                               "is_automated"}, result
        assert is_int(result["star_count"]) and result["is_automated"] is False, result
    assert by_name["wombatlib"]["is_official"] is True, body
    assert by_name["wombatlib"]["description"] == "wombat official image", body
    assert by_name["alice/wombat-more"]["is_official"] is False, body
    assert by_name["alice/wombat-more"]["star_count"] == 1, body
    assert names == ["wombatlib", "alice/wombat-more", "alice/wombat-less"], \
        f"official first, then more stars: {names}"

    r = requests.get(hub.url + "/v1/search", params={"q": "wombat", "n": 1}, timeout=30)
    assert r.status_code == 200, describe(r)
    assert len(r.json()["results"]) == 1 and r.json()["num_results"] == 3, r.text
    assert r.json()["num_pages"] == 3 and r.json()["page_size"] == 1, r.text
    for n in (0, 101, "many"):
        r = requests.get(hub.url + "/v1/search", params={"q": "wombat", "n": n}, timeout=30)
        assert r.status_code == 400, f"n={n!r}\n{describe(r)}"
