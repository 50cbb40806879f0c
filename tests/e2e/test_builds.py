"""Automated builds (issue 14): a repository's build settings name a git repository and rules
(a branch or a /regex/ of tags → an image tag); a build, started by hand (POST …/builds) or by
the git server's signed push event (POST /api/build-triggers/{id}), clones the ref from a real
git server on loopback (`git daemon`, gitserver.py), builds it with real buildah (RUN steps
without network) and pushes the image into the repository through Wharf's registry, so that
docker pulls and runs it and push webhooks fire.  Builds that fail, are cancelled, or are cut
off by a kill -9 of the server end in the right state with nothing pushed; settings and builds
are for those who may administer / push to the repository only, and never show the git
credentials.  The contract is the issue's (BUILDS-SPEC: …/build-settings, …/builds,
…/builds/{id}/log, …/builds/{id}/cancel, /api/build-triggers/{id}).

The images are built FROM scratch with a static busybox copied in from the machine
(/bin/busybox, Debian's busybox-static), so no build needs the network.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Optional

import pytest
import requests

from gitserver import GitServer
from harness import wait_for
from hubapi import (ADMIN_PASSWORD, create_repository, docker_login, docker_logout, is_int,
                    password, pretty, sign_up, user_client)
from oci import ALL_MANIFESTS, describe
from webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.wharf_only(reason="Wharf's automated builds")

ALLOW_PRIVATE = ["--webhook-allow-private", "true"]
BUILD_TIMEOUT = 120  # seconds for a build to finish: generous; a small one takes a few seconds
WAIT = 30
STATUSES = {"queued", "running", "success", "failed", "cancelled"}
FINISHED = {"success", "failed", "cancelled"}
GREETING = "hello from a wharf build"

# FROM scratch with busybox: no base image to fetch, no network. GREETING is a build argument
# (a rule's build_args); RUN steps get it in their environment.
HELLO_DOCKERFILE = f"""\
FROM scratch
COPY busybox /bin/busybox
ARG GREETING="{GREETING}"
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox echo \\"$GREETING\\" > /msg.txt"]
CMD ["/bin/busybox", "cat", "/msg.txt"]
"""


def sleep_dockerfile(marker: str, seconds: int = 60) -> str:
    """A build whose RUN step sleeps: a shell (the container's first process) that runs
    `busybox sleep` and carries `marker` on its command line, so that the test can tell the
    step's processes from any other (processes_mentioning)."""
    return ("FROM scratch\nCOPY busybox /bin/busybox\n"
            f'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox sleep {seconds}; : {marker}"]\n'
            'CMD ["/bin/busybox", "true"]\n')


def new_marker() -> str:
    return "wharf-e2e-" + os.urandom(6).hex()


# --------------------------------------------------------------------------------------
# What the tests need
# --------------------------------------------------------------------------------------

def busybox_path() -> Optional[Path]:
    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.fixture
def build_tools() -> Path:
    """Skips the test unless builds can run here: buildah and skopeo (the server's engine),
    git (the git server) and a static busybox (the images' only program); the busybox path."""
    missing = [tool for tool in ("buildah", "skopeo", "git") if shutil.which(tool) is None]
    busybox = busybox_path()
    if busybox is None:
        missing.append("busybox (Debian busybox-static)")
    if missing:
        pytest.skip(f"automated builds need {', '.join(missing)}; ./scripts/test installs them")
    return busybox


@pytest.fixture
def git_server(build_tools, tmp_path):
    """A git daemon on loopback for the test's repositories (after build_tools: skipped
    without git)."""
    server = GitServer(tmp_path / "git")
    server.start()
    yield server
    server.cleanup()


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def start_wharf(registry_factory, *flags: str):
    """A Wharf with these flags whose administrator has ADMIN_PASSWORD."""
    return registry_factory(extra_args=list(flags), env={"WHARF_ADMIN_PASSWORD": ADMIN_PASSWORD})


def api(server, method: str, path: str, user=None, **kw) -> requests.Response:
    """A request to /api as `user` (HTTP Basic with the user's password; None: anonymous)."""
    auth = None
    if user:
        auth = (user, ADMIN_PASSWORD if user == "admin" else password(user))
    kw.setdefault("timeout", 30)
    return requests.request(method, server.url + path, auth=auth, **kw)


def expect(r: requests.Response, status, what: str = "") -> requests.Response:
    statuses = status if isinstance(status, (tuple, list, set)) else (status,)
    assert r.status_code in statuses, f"{what}: expected {status}\n{describe(r)}"
    return r


def expect_json(r: requests.Response, status, what: str = ""):
    expect(r, status, what)
    assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
    return r.json()


def expect_error(r: requests.Response, status, field: Optional[str] = None,
                 what: str = "") -> dict:
    """A JSON API error: the status, {"message": non-empty, "field"?}."""
    body = expect_json(r, status, what)
    assert isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"], \
        f"{what}: no message\n{describe(r)}"
    if field is not None:
        assert body.get("field") == field, f"{what}: expected field {field!r}\n{describe(r)}"
    return body


def settings_path(namespace: str, name: str) -> str:
    return f"/api/repositories/{namespace}/{name}/build-settings"


def builds_path(namespace: str, name: str) -> str:
    return f"/api/repositories/{namespace}/{name}/builds"


def rule(source_type: str, source: str, **fields) -> dict:
    return {"source_type": source_type, "source": source, **fields}


def save_settings(server, user, namespace, name, git_url, rules, **fields) -> dict:
    body = {"git_url": git_url, "rules": rules, **fields}
    view = expect_json(api(server, "PUT", settings_path(namespace, name), user, json=body), 200,
                       "PUT build-settings")
    assert_settings_view(view, server)
    assert view["git_url"] == git_url, pretty(view)
    assert len(view["rules"]) == len(rules), pretty(view)
    return view


def assert_settings_view(view: dict, server):
    """The settings view: every field with its type; never the credentials themselves."""
    assert isinstance(view, dict), pretty(view)
    assert isinstance(view.get("git_url"), str), pretty(view)
    assert isinstance(view.get("has_credentials"), bool), pretty(view)
    assert isinstance(view.get("autobuild"), bool), pretty(view)
    assert isinstance(view.get("poll"), bool), pretty(view)
    assert isinstance(view.get("rules"), list) and view["rules"], pretty(view)
    for r in view["rules"]:
        assert r.get("source_type") in ("branch", "tag"), pretty(view)
        for key in ("source", "dockerfile", "context", "tag"):
            assert isinstance(r.get(key), str) and r[key], f"rules[].{key}: {pretty(view)}"
        assert isinstance(r.get("build_args"), dict), pretty(view)
    assert re.fullmatch(re.escape(server.url) + r"/api/build-triggers/[0-9a-f]{32}",
                        view.get("trigger_url") or ""), f"trigger_url: {pretty(view)}"
    assert isinstance(view.get("trigger_secret"), str) and len(view["trigger_secret"]) >= 16, \
        pretty(view)
    assert view.get("engine") in ("buildah", "docker", None), pretty(view)
    assert isinstance(view.get("updated_at"), str) and view["updated_at"], pretty(view)
    assert "credentials" not in view, f"the credentials must never be returned: {pretty(view)}"


def assert_build_view(view: dict, repository: Optional[str] = None):
    """BuildView: every field with its type."""
    assert isinstance(view, dict), pretty(view)
    assert is_int(view.get("id")) and view["id"] > 0, pretty(view)
    assert isinstance(view.get("repository"), str), pretty(view)
    if repository:
        assert view["repository"] == repository, pretty(view)
    assert view.get("source_type") in ("branch", "tag"), pretty(view)
    for key in ("ref", "tag", "triggered_by", "dockerfile", "context", "created_at"):
        assert isinstance(view.get(key), str) and view[key], f"{key}: {pretty(view)}"
    assert view.get("status") in STATUSES, pretty(view)
    assert isinstance(view.get("cancel_requested"), bool), pretty(view)
    for key in ("commit", "error", "started_at", "finished_at"):
        assert view.get(key) is None or isinstance(view[key], str), f"{key}: {pretty(view)}"
    duration = view.get("duration_seconds")
    assert duration is None or (isinstance(duration, (int, float)) and duration >= 0), pretty(view)
    if view["status"] in FINISHED:
        assert view.get("finished_at"), f"finished without finished_at: {pretty(view)}"
    else:
        assert view.get("finished_at") is None, pretty(view)
    if view["status"] == "queued":
        assert view.get("started_at") is None, pretty(view)
    if view["status"] in ("running", "success", "failed") and view.get("started_at"):
        assert duration is not None, pretty(view)


def start_builds(server, user, namespace, name, ref: str, count: int = 1) -> list:
    """POST …/builds {"ref"} → 202 {"id", "builds"}; returns the builds."""
    body = expect_json(api(server, "POST", builds_path(namespace, name), user, json={"ref": ref}),
                       202, f"POST builds {ref}")
    builds = body.get("builds")
    assert isinstance(builds, list) and len(builds) == count, pretty(body)
    for build in builds:
        assert_build_view(build, f"{namespace}/{name}")
        assert build["status"] in ("queued", "running"), pretty(build)
        assert build["cancel_requested"] is False and build.get("finished_at") is None, \
            pretty(build)
    assert body.get("id") == builds[0]["id"], pretty(body)
    return builds


def get_build(server, user, namespace, name, build_id: int) -> dict:
    view = expect_json(api(server, "GET", f"{builds_path(namespace, name)}/{build_id}", user), 200,
                       "GET build")
    assert_build_view(view, f"{namespace}/{name}")
    assert view["id"] == build_id, pretty(view)
    return view


def wait_for_build(server, user, namespace, name, build_id: int, statuses=FINISHED,
                   timeout: float = BUILD_TIMEOUT, what: str = "") -> dict:
    """Poll GET …/builds/{id} until its status is one of `statuses`; the view."""
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)
    last = {}

    def reached():
        last["view"] = get_build(server, user, namespace, name, build_id)
        return last["view"] if last["view"]["status"] in statuses else None
    try:
        return wait_for(reached, timeout, interval=0.2,
                        what=what or f"build {build_id} {'/'.join(sorted(statuses))}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast seen: {pretty(last.get('view'))}\n--- log ---\n"
                             f"{log_now(server, user, namespace, name, build_id)[0]}") from None


def log_now(server, user, namespace, name, build_id: int) -> tuple:
    """GET …/log?follow=false: (text, X-Wharf-Build-Finished)."""
    r = expect(api(server, "GET", f"{builds_path(namespace, name)}/{build_id}/log", user,
                   params={"follow": "false"}), 200, "GET log?follow=false")
    assert r.headers.get("Content-Type", "").startswith("text/plain"), describe(r)
    finished = r.headers.get("X-Wharf-Build-Finished")
    assert finished in ("true", "false"), describe(r)
    return r.text, finished == "true"


class LogStream:
    """GET …/builds/{id}/log (following) read on a thread of its own as it arrives: ``text`` so
    far, ``ended`` once the server closed the response, ``headers`` of the response."""

    def __init__(self, server, user, namespace, name, build_id: int):
        auth = (user, ADMIN_PASSWORD if user == "admin" else password(user))
        self.response = requests.get(
            f"{server.url}{builds_path(namespace, name)}/{build_id}/log", auth=auth,
            stream=True, timeout=(10, BUILD_TIMEOUT + 30))
        assert self.response.status_code == 200, describe(self.response)
        assert self.response.headers.get("Content-Type", "").startswith("text/plain"), \
            describe(self.response)
        self.headers = self.response.headers
        self._chunks: list = []
        self._lock = threading.Lock()
        self.ended = False
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._read, daemon=True,
                                        name=f"build-log-{build_id}")
        self._thread.start()

    def _read(self):
        try:
            for chunk in self.response.iter_content(chunk_size=None):
                with self._lock:
                    self._chunks.append(chunk)
        except BaseException as exc:  # noqa: BLE001 - reported by wait_until_ended
            self.error = exc
        finally:
            self.ended = True
            self.response.close()

    @property
    def text(self) -> str:
        with self._lock:
            return b"".join(self._chunks).decode(errors="replace")

    def wait_for_text(self, needle: str, timeout: float = BUILD_TIMEOUT) -> str:
        try:
            wait_for(lambda: needle in self.text or self.ended, timeout, interval=0.1,
                     what=f"{needle!r} in the streamed log")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- log so far ---\n{self.text}") from None
        assert needle in self.text, f"the log ended without {needle!r}:\n{self.text}"
        return self.text

    def wait_until_ended(self, timeout: float = BUILD_TIMEOUT) -> str:
        try:
            wait_for(lambda: self.ended, timeout, interval=0.1,
                     what="the followed log to end with the build")
        except AssertionError as exc:
            self.response.close()
            raise AssertionError(f"{exc}\n--- log so far ---\n{self.text}") from None
        assert self.error is None, f"reading the log failed: {self.error!r}\n{self.text}"
        return self.text


def follow_log(server, user, namespace, name, build_id: int,
               timeout: float = BUILD_TIMEOUT) -> str:
    """The whole log, read by following it until the server ends the response with the build."""
    return LogStream(server, user, namespace, name, build_id).wait_until_ended(timeout)


def registry_tags(server, user, repository: str) -> list:
    """The repository's tags over /v2/ (none when it has none: 404 or an empty list)."""
    r = user_client(server, user).get(f"/v2/{repository}/tags/list")
    if r.status_code == 404:
        return []
    assert r.status_code == 200, describe(r)
    return r.json().get("tags") or []


def manifest_digest(server, user, repository: str, tag: str) -> str:
    r = user_client(server, user).head(f"/v2/{repository}/manifests/{tag}",
                                       headers={"Accept": ALL_MANIFESTS})
    assert r.status_code == 200, describe(r)
    return r.headers["Docker-Content-Digest"]


def in_order(text: str, *needles: str):
    """Each needle is in text, after the one before it."""
    at = 0
    for needle in needles:
        found = text.find(needle, at)
        assert found >= 0, f"{needle!r} is not in the log (after offset {at}):\n{text}"
        at = found + len(needle)


def git_app(git_server: GitServer, tmp_path: Path, busybox: Path, files: dict,
            name: str = "app"):
    """A repository on the git server with busybox and `files` committed on main and pushed:
    (repository, work tree, sha of main)."""
    repository = git_server.create_repository(name)
    work = repository.work_tree(tmp_path / f"work-{name}")
    work.copy_in(busybox, "busybox")
    for relative, text in files.items():
        work.write(relative, text)
    sha = work.commit_and_push("main", "the app")
    assert repository.ref_sha("refs/heads/main") == sha
    return repository, work, sha


def create_webhook(server, user, namespace, name, url: str) -> dict:
    return expect_json(api(server, "POST", f"/api/repositories/{namespace}/{name}/webhooks", user,
                           json={"name": "ci", "url": url}), 201, "create webhook")


def is_push_of(tag: str):
    return lambda hit: (hit.headers.get("X-Wharf-Event") == "push"
                        and hit.json["push_data"]["tag"] == tag)


def docker_run_image(dockerd, server, user: str, ref: str) -> str:
    """docker pull `ref` as `user`, then docker run it without network; what it printed.
    The image is removed again."""
    login = docker_login(dockerd, server, user)
    assert login.returncode == 0, login.stderr
    try:
        dockerd.docker("pull", ref)
        try:
            return dockerd.docker("run", "--rm", "--network", "none", ref, timeout=120).stdout
        finally:
            dockerd.docker("rmi", "--force", ref, check=False)
    finally:
        docker_logout(dockerd, server)


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def push_event(ref: str, after: str) -> bytes:
    """A push event as git servers send it (the fields Wharf reads, and some it does not)."""
    return json.dumps({"ref": ref, "before": "0" * 40, "after": after,
                       "repository": {"full_name": "dev/app"},
                       "pusher": {"name": "dev"}}).encode()


def post_trigger(server, trigger_url: str, body: bytes, headers: dict) -> requests.Response:
    """POST the event to the trigger's path on this server, without authentication."""
    path = trigger_url[len(server.url):]
    return requests.post(server.url + path, data=body, timeout=30,
                         headers={"Content-Type": "application/json", **headers})


def processes_mentioning(text: str) -> list:
    """Pids of the processes whose command line contains `text` (a test's marker, or its
    server's data folder)."""
    found = []
    needle = text.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def describe_processes(pids: list) -> str:
    """pid, process group, session and command line of each, for messages."""
    lines = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            lines.append(f"pid {pid} pgid {os.getpgid(pid)} sid {os.getsid(pid)}: {cmdline}")
        except (OSError, ProcessLookupError):
            pass
    return "\n".join(lines) or "(none)"


def kill_process_groups(pids: list):
    """SIGKILL the process groups of these processes (found by processes_mentioning)."""
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    for group in groups:
        if group > 1 and group != os.getpgrp():
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass


def end_leftover_build_processes(server, marker: str):
    """Kill what a test's builds may have left running: the server's buildah (its command line
    names the server's build storage) and the RUN step's container processes (they carry the
    marker; runc puts them in a session of their own)."""
    kill_process_groups(processes_mentioning(str(server.data_dir / "build-storage")))
    kill_process_groups(processes_mentioning(marker))


# --------------------------------------------------------------------------------------
# A branch built by hand: log, commit, image, webhook
# --------------------------------------------------------------------------------------

def test_branch_build_pushes_an_image_docker_runs_and_fires_the_push_webhook(
        registry_factory, git_server, build_tools, dockerd, tmp_path):
    """Settings with a branch rule (main → latest) and a commit pushed to the git server; alice
    starts a build of main: the followed log streams until the build ends, with the clone, the
    commit, buildah's STEPs and the push; the build succeeds with the commit's sha; docker pulls
    alice/app:latest and runs it without network; a push webhook fires with pusher alice. A new
    commit built as refs/heads/main lists first."""
    server = start_wharf(registry_factory, *ALLOW_PRIVATE)
    assert "builds run on buildah" in server.log_text(), \
        "no 'build engine … builds run on buildah' line in the server log"
    sign_up(server, "alice")
    create_repository(server, "alice", "app")
    repository, work, sha = git_app(git_server, tmp_path, build_tools,
                                    {"Dockerfile": HELLO_DOCKERFILE})
    with WebhookReceiver() as receiver:
        create_webhook(server, "alice", "alice", "app", receiver.url)

        r = api(server, "GET", settings_path("alice", "app"), "alice")
        expect_error(r, 404, what="no build settings yet")
        expect_error(api(server, "POST", builds_path("alice", "app"), "alice",
                         json={"ref": "main"}), 404, what="POST builds without settings")

        view = save_settings(server, "alice", "alice", "app", repository.url,
                             [rule("branch", "main", tag="latest")])
        assert view["has_credentials"] is False and view["autobuild"] is True, pretty(view)
        assert view["engine"] == "buildah", pretty(view)
        [saved] = view["rules"]
        assert saved == {"source_type": "branch", "source": "main", "dockerfile": "Dockerfile",
                         "context": ".", "tag": "latest", "build_args": {}}, pretty(view)
        assert expect_json(api(server, "GET", settings_path("alice", "app"), "alice"), 200) == view

        [queued] = start_builds(server, "alice", "alice", "app", "main")
        assert queued["source_type"] == "branch" and queued["ref"] == "main", pretty(queued)
        assert queued["tag"] == "latest" and queued["triggered_by"] == "alice", pretty(queued)
        assert queued["dockerfile"] == "Dockerfile" and queued["context"] == ".", pretty(queued)

        log = follow_log(server, "alice", "alice", "app", queued["id"])
        build = get_build(server, "alice", "alice", "app", queued["id"])
        assert build["status"] == "success", f"{pretty(build)}\n--- log ---\n{log}"
        assert build["commit"] == sha, pretty(build)
        assert build["error"] is None and build["started_at"] and build["finished_at"], \
            pretty(build)
        in_order(log, f"==> Cloning branch main of {repository.url}", f"==> Commit {sha}",
                 "STEP", "==> Pushing", "==> Pushed alice/app:latest")
        assert "==> Failed" not in log, log
        text, finished = log_now(server, "alice", "alice", "app", build["id"])
        assert finished is True and text == log, f"follow=false differs:\n{text}\n---\n{log}"

        assert "latest" in registry_tags(server, "alice", "alice/app")
        digest = manifest_digest(server, "alice", "alice/app", "latest")
        [hit] = receiver.wait_for_requests(1, match=is_push_of("latest"), timeout=WAIT)
        push_data = hit.json["push_data"]
        assert push_data["pusher"] == "alice", hit.describe()
        assert push_data["images"] == [digest], hit.describe()
        assert hit.json["repository"]["repo_name"] == "alice/app", hit.describe()

        out = docker_run_image(dockerd, server, "alice", f"{server.host}/alice/app:latest")
        assert out.strip() == GREETING, f"the built image printed {out!r}"

        # A second commit, built as refs/heads/main: the new sha; the list is newest first.
        work.write("NOTES", "second commit\n")
        sha2 = work.commit_and_push("main", "second")
        assert sha2 != sha
        [second] = start_builds(server, "alice", "alice", "app", "refs/heads/main")
        assert second["ref"] == "main" and second["tag"] == "latest", pretty(second)
        done = wait_for_build(server, "alice", "alice", "app", second["id"])
        assert done["status"] == "success" and done["commit"] == sha2, pretty(done)
        listing = expect_json(api(server, "GET", builds_path("alice", "app"), "alice"), 200)
        assert [b["id"] for b in listing] == [second["id"], build["id"]], pretty(listing)
        for item in listing:
            assert_build_view(item, "alice/app")
        [newest] = expect_json(api(server, "GET", builds_path("alice", "app"), "alice",
                                   params={"limit": "1"}), 200)
        assert newest["id"] == second["id"], pretty(newest)
        receiver.wait_for_requests(2, match=is_push_of("latest"), timeout=WAIT)

        # A ref no rule matches.
        expect_error(api(server, "POST", builds_path("alice", "app"), "alice",
                         json={"ref": "feature"}), 404, "ref", "a ref no rule matches")


# --------------------------------------------------------------------------------------
# The git server's push events
# --------------------------------------------------------------------------------------

def test_signed_push_events_build_tags_and_forged_ones_are_refused(
        registry_factory, git_server, build_tools, dockerd, tmp_path):
    """A tag rule /^v([0-9.]+)$/ → {\\1} with a build argument: GitHub's signed push event of
    refs/tags/v1.2.3 builds image tag 1.2.3 (pushed in the name of alice, who saved the
    settings); a forged or missing signature is refused with 403 and queues nothing; an unknown
    trigger is 404; GitLab's token works; a ping, a deleted tag, a ref no rule matches and
    autobuild off queue nothing."""
    server = start_wharf(registry_factory, *ALLOW_PRIVATE)
    sign_up(server, "alice")
    create_repository(server, "alice", "app")
    repository, work, sha = git_app(git_server, tmp_path, build_tools,
                                    {"Dockerfile": HELLO_DOCKERFILE})
    greeting = "hello from a tagged wharf build"
    with WebhookReceiver() as receiver:
        create_webhook(server, "alice", "alice", "app", receiver.url)
        view = save_settings(server, "alice", "alice", "app", repository.url, [
            rule("tag", "/^v([0-9.]+)$/", tag="{\\1}", build_args={"GREETING": greeting}),
            rule("branch", "main", tag="latest")])
        assert view["rules"][0]["tag"] == "{\\1}", pretty(view)
        assert view["rules"][0]["build_args"] == {"GREETING": greeting}, pretty(view)
        trigger, secret = view["trigger_url"], view["trigger_secret"]
        assert work.tag_and_push("v1.2.3") == sha
        assert repository.ref_sha("refs/tags/v1.2.3") == sha

        def builds_so_far() -> list:
            return expect_json(api(server, "GET", builds_path("alice", "app"), "alice"), 200)

        ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
        r = post_trigger(server, trigger, ping, {
            "X-GitHub-Event": "ping", "X-Hub-Signature-256": github_signature(secret, ping)})
        assert expect_json(r, 200, "ping") == {"builds": []}

        event = push_event("refs/tags/v1.2.3", sha)
        forged = (
            ("a signature with another secret", {
                "X-GitHub-Event": "push",
                "X-Hub-Signature-256": github_signature("not the secret", event)}),
            ("the signature of another body", {
                "X-GitHub-Event": "push",
                "X-Hub-Signature-256": github_signature(secret, event + b" ")}),
            ("no signature", {"X-GitHub-Event": "push"}),
            ("a wrong GitLab token", {"X-Gitlab-Event": "Tag Push Hook",
                                      "X-Gitlab-Token": secret + "x"}),
            ("a wrong Gitea signature", {
                "X-Gitea-Event": "push",
                "X-Gitea-Signature": hmac.new(b"nope", event, hashlib.sha256).hexdigest()}),
        )
        for what, headers in forged:
            expect_error(post_trigger(server, trigger, event, headers), 403, what=what)
        unknown = re.sub(r"[0-9a-f]{32}$", "0" * 32, trigger)
        assert unknown != trigger
        expect(post_trigger(server, unknown, event, {
            "X-GitHub-Event": "push", "X-Hub-Signature-256": github_signature(secret, event)}),
            404, "an unknown trigger")
        assert builds_so_far() == [], "a refused event queued a build"
        assert registry_tags(server, "alice", "alice/app") == []

        r = post_trigger(server, trigger, event, {
            "X-GitHub-Event": "push", "X-Hub-Signature-256": github_signature(secret, event)})
        [queued] = expect_json(r, 202, "GitHub push event")["builds"]
        assert_build_view(queued, "alice/app")
        assert queued["source_type"] == "tag" and queued["ref"] == "v1.2.3", pretty(queued)
        assert queued["tag"] == "1.2.3" and queued["triggered_by"] == "trigger", pretty(queued)
        log = follow_log(server, "alice", "alice", "app", queued["id"])
        build = get_build(server, "alice", "alice", "app", queued["id"])
        assert build["status"] == "success" and build["commit"] == sha, \
            f"{pretty(build)}\n--- log ---\n{log}"
        in_order(log, f"==> Cloning tag v1.2.3 of {repository.url}", f"==> Commit {sha}", "STEP",
                 "==> Pushed alice/app:1.2.3")
        [hit] = receiver.wait_for_requests(1, match=is_push_of("1.2.3"), timeout=WAIT)
        assert hit.json["push_data"]["pusher"] == "alice", \
            f"a trigger build pushes in the name of who saved the settings\n{hit.describe()}"
        out = docker_run_image(dockerd, server, "alice", f"{server.host}/alice/app:1.2.3")
        assert out.strip() == greeting, f"the build argument did not reach RUN: {out!r}"

        # GitLab's token, for a new tag on a new commit.
        work.write("CHANGES", "1.2.4\n")
        sha2 = work.commit_and_push("main", "1.2.4")
        work.tag_and_push("v1.2.4")
        event2 = push_event("refs/tags/v1.2.4", sha2)
        r = post_trigger(server, trigger, event2, {"X-Gitlab-Event": "Tag Push Hook",
                                                   "X-Gitlab-Token": secret})
        [queued2] = expect_json(r, 202, "GitLab push event")["builds"]
        assert queued2["tag"] == "1.2.4" and queued2["ref"] == "v1.2.4", pretty(queued2)
        done = wait_for_build(server, "alice", "alice", "app", queued2["id"])
        assert done["status"] == "success" and done["commit"] == sha2, pretty(done)
        tags = registry_tags(server, "alice", "alice/app")
        assert {"1.2.3", "1.2.4"} <= set(tags) and "latest" not in tags, tags

        # Signed, but nothing to build: a deleted tag, a branch no rule matches.
        for what, body in (("a deleted tag", push_event("refs/tags/v1.2.3", "0" * 40)),
                           ("a branch no rule matches", push_event("refs/heads/feature", sha2))):
            r = post_trigger(server, trigger, body, {
                "X-Gitea-Event": "push",
                "X-Gitea-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()})
            assert expect_json(r, 200, what) == {"builds": []}, what

        # Autobuild off: the event is accepted and ignored; the trigger and secret stay.
        off = save_settings(server, "alice", "alice", "app", repository.url, view["rules"],
                            autobuild=False)
        assert off["autobuild"] is False, pretty(off)
        assert off["trigger_url"] == trigger and off["trigger_secret"] == secret, pretty(off)
        main_event = push_event("refs/heads/main", sha2)
        r = post_trigger(server, trigger, main_event, {
            "X-GitHub-Event": "push", "X-Hub-Signature-256": github_signature(secret, main_event)})
        assert expect_json(r, 200, "autobuild off") == {"builds": []}
        assert [b["id"] for b in builds_so_far()] == [queued2["id"], queued["id"]]


# --------------------------------------------------------------------------------------
# Builds that fail
# --------------------------------------------------------------------------------------

def test_a_dockerfile_error_fails_the_build_with_buildahs_error_and_pushes_nothing(
        registry_factory, git_server, build_tools, tmp_path):
    """Three rules on main, one build each: a COPY of a file the repository lacks, a RUN of a
    program the image lacks, a Dockerfile that is not there. Each fails with an error, its log
    shows why (buildah's own error for the first two), and no tag is pushed."""
    server = start_wharf(registry_factory)
    sign_up(server, "alice")
    create_repository(server, "alice", "app")
    files = {
        "Dockerfile.copy": "FROM scratch\nCOPY busybox /bin/busybox\n"
                           "COPY missing-file.txt /missing-file.txt\n",
        "Dockerfile.run": "FROM scratch\nCOPY busybox /bin/busybox\n"
                          'RUN ["/bin/no-such-program", "--version"]\n',
    }
    repository, _work, sha = git_app(git_server, tmp_path, build_tools, files)
    save_settings(server, "alice", "alice", "app", repository.url, [
        rule("branch", "main", dockerfile="Dockerfile.copy", tag="copy"),
        rule("branch", "main", dockerfile="Dockerfile.run", tag="run"),
        rule("branch", "main", dockerfile="Dockerfile.none", tag="none")])
    builds = start_builds(server, "alice", "alice", "app", "main", count=3)
    assert [b["tag"] for b in builds] == ["copy", "run", "none"], pretty(builds)
    assert [b["dockerfile"] for b in builds] == ["Dockerfile.copy", "Dockerfile.run",
                                                 "Dockerfile.none"], pretty(builds)
    logs = {}
    for queued in builds:
        log = follow_log(server, "alice", "alice", "app", queued["id"])
        build = get_build(server, "alice", "alice", "app", queued["id"])
        assert build["status"] == "failed", f"{pretty(build)}\n--- log ---\n{log}"
        assert isinstance(build["error"], str) and build["error"], pretty(build)
        assert "==> Pushed" not in log and "==> Pushing" not in log, log
        logs[build["tag"]] = (build, log)

    build, log = logs["copy"]
    # buildah: Error: building at STEP "COPY missing-file.txt /missing-file.txt": checking on
    # sources under "…/src": copier: stat: "/missing-file.txt": no such file or directory
    in_order(log, f"==> Commit {sha}", "STEP", "COPY missing-file.txt", "==> Failed")
    assert re.search(r'error:? building at step "COPY missing-file\.txt[^\n]*'
                     r'missing-file\.txt[^\n]*(no such file or directory|not found)', log, re.I), \
        f"buildah's error about the missing file is not in the log:\n{log}"
    # buildah (runc): … exec: "/bin/no-such-program": stat /bin/no-such-program: no such file
    # or directory … Error: building at STEP "RUN /bin/no-such-program --version": …
    build, log = logs["run"]
    in_order(log, f"==> Commit {sha}", "STEP", "no-such-program", "==> Failed")
    assert re.search(r"no-such-program[^\n]*(no such file or directory|not found)", log, re.I), \
        f"the error about the missing program is not in the log:\n{log}"
    assert re.search(r'error:? building at step "RUN[^\n]*no-such-program', log, re.I), \
        f"buildah's error is not in the log:\n{log}"
    build, log = logs["none"]
    assert "Dockerfile.none" in build["error"], pretty(build)
    assert "Dockerfile.none" in log, log
    assert registry_tags(server, "alice", "alice/app") == []
    # Each cloned main: its commit is the build's, failed or not.
    for tag, (build, log) in logs.items():
        assert build["commit"] == sha, f"{tag}: {pretty(build)}"


# --------------------------------------------------------------------------------------
# Cancel, and a server killed during a build
# --------------------------------------------------------------------------------------

def test_cancel_stops_a_running_build_and_a_queued_one_never_starts(
        registry_factory, git_server, build_tools, tmp_path):
    """Two builds of a Dockerfile whose RUN sleeps 60 s, one worker: the first runs (its log
    streams the STEPs while the response stays open, its RUN step's processes are running), the
    second waits. Cancelling the waiting one, then the running one: the running one is
    cancelled within seconds, its RUN step's processes end, its log ends with '==> cancelled';
    the waiting one ends cancelled without starting; nothing is pushed; cancelling again is
    409."""
    marker = new_marker()
    server = start_wharf(registry_factory, "--build-workers", "1")
    sign_up(server, "alice")
    create_repository(server, "alice", "app")
    repository, _work, sha = git_app(git_server, tmp_path, build_tools,
                                     {"Dockerfile": sleep_dockerfile(marker)})
    save_settings(server, "alice", "alice", "app", repository.url,
                  [rule("branch", "main", tag="sleepy")])
    [first] = start_builds(server, "alice", "alice", "app", "main")
    [second] = start_builds(server, "alice", "alice", "app", "main")
    try:
        stream = LogStream(server, "alice", "alice", "app", first["id"])
        stream.wait_for_text(marker)
        wait_for(lambda: processes_mentioning(marker), 60, what="the RUN step's processes")
        assert not stream.ended, f"the followed log ended while the build runs:\n{stream.text}"
        running = get_build(server, "alice", "alice", "app", first["id"])
        assert running["status"] == "running" and running["started_at"], pretty(running)
        waiting = get_build(server, "alice", "alice", "app", second["id"])
        assert waiting["status"] == "queued", f"one worker, yet: {pretty(waiting)}"
        assert log_now(server, "alice", "alice", "app", first["id"])[1] is False

        r = api(server, "POST", f"{builds_path('alice', 'app')}/{second['id']}/cancel", "alice")
        view = expect_json(r, 202, "cancel the queued build")
        assert_build_view(view, "alice/app")
        assert view["cancel_requested"] is True and view["status"] in ("queued", "cancelled"), \
            pretty(view)

        cancelled_at = time.monotonic()
        r = api(server, "POST", f"{builds_path('alice', 'app')}/{first['id']}/cancel", "alice")
        view = expect_json(r, 202, "cancel the running build")
        assert_build_view(view, "alice/app")
        assert view["cancel_requested"] is True, pretty(view)
        assert view["status"] in ("running", "cancelled"), pretty(view)
        done = wait_for_build(server, "alice", "alice", "app", first["id"], timeout=15,
                              what="the running build cancelled within 15 s")
        took = time.monotonic() - cancelled_at
        assert done["status"] == "cancelled" and done["error"] is None, pretty(done)
        log = stream.wait_until_ended(30)
        assert log.rstrip().endswith("==> cancelled"), f"cancelled after {took:.1f}s:\n{log}"
        assert "==> Pushing" not in log and "==> Pushed" not in log, log
        never = wait_for_build(server, "alice", "alice", "app", second["id"], timeout=30)
        assert never["status"] == "cancelled" and never["started_at"] is None, pretty(never)
        assert registry_tags(server, "alice", "alice/app") == []
        for build in (first, second):
            expect_error(api(server, "POST",
                             f"{builds_path('alice', 'app')}/{build['id']}/cancel", "alice"),
                         409, what="cancel a finished build")
        commit = re.search(r"==> Commit ([0-9a-f]{40})", log)
        assert commit and commit.group(1) == sha, log
        problems = []
        # The cancelled RUN step does not go on running (it is not in buildah's process group:
        # runc gives the container a session of its own).
        try:
            wait_for(lambda: not processes_mentioning(marker), 15,
                     what="the cancelled build's RUN step (busybox sh/sleep) to end")
        except AssertionError as exc:
            left = processes_mentioning(marker)
            problems.append(f"{exc}: still running\n{describe_processes(left)}")
        # The finished views still say a cancel was asked for, and the first the commit it
        # had cloned (its log shows it).
        for build in (first, second):
            view = get_build(server, "alice", "alice", "app", build["id"])
            if view["cancel_requested"] is not True:
                problems.append(f"cancel_requested was lost when build {build['id']} finished:"
                                f" {pretty(view)}")
        view = get_build(server, "alice", "alice", "app", first["id"])
        if view["commit"] != sha:
            problems.append(f"the commit {sha} was lost when the build finished: {pretty(view)}")
        assert not problems, "\n\n".join(problems)
    finally:
        # Whatever went wrong above, end this test's builds and what they left running.
        for build in (second, first):
            api(server, "POST", f"{builds_path('alice', 'app')}/{build['id']}/cancel", "alice")
        end_leftover_build_processes(server, marker)


@pytest.mark.parametrize("stop", ["kill -9", "SIGTERM"])
def test_a_build_cut_off_by_a_restart_ends_failed_interrupted(
        registry_factory, git_server, build_tools, tmp_path, stop):
    """Wharf stopped while a build's RUN step sleeps (kill -9, a crash; or SIGTERM, a service
    restart, which must not wait the minute out): after the restart that build ends failed
    with an error saying it was interrupted (it never stays running), nothing was pushed, and
    the next build runs and succeeds."""
    marker = new_marker()
    server = start_wharf(registry_factory)
    sign_up(server, "alice")
    create_repository(server, "alice", "app")
    repository, work, _sha = git_app(git_server, tmp_path, build_tools,
                                     {"Dockerfile": sleep_dockerfile(marker)})
    work.write("Dockerfile", HELLO_DOCKERFILE)
    quick_sha = work.commit_and_push("quick", "a quick build")
    save_settings(server, "alice", "alice", "app", repository.url, [
        rule("branch", "main", tag="sleepy"), rule("branch", "quick", tag="quick")])
    [build] = start_builds(server, "alice", "alice", "app", "main")
    try:
        def sleeping():
            text, _ = log_now(server, "alice", "alice", "app", build["id"])
            return marker in text
        wait_for(sleeping, BUILD_TIMEOUT, interval=0.2, what="the build's RUN step started")
        wait_for(lambda: processes_mentioning(marker), 60, what="the RUN step's processes")
        assert get_build(server, "alice", "alice", "app", build["id"])["status"] == "running"

        if stop == "kill -9":
            server.kill9()
        else:
            server.terminate(timeout=30)
        server.restart()

        done = wait_for_build(server, "alice", "alice", "app", build["id"], timeout=150,
                              what="the interrupted build to end")
        assert done["status"] == "failed", pretty(done)
        assert "interrupted" in (done["error"] or ""), pretty(done)
        assert done["finished_at"], pretty(done)
        text, finished = log_now(server, "alice", "alice", "app", build["id"])
        assert finished is True, text
        assert "==> Pushed" not in text, text
        assert follow_log(server, "alice", "alice", "app", build["id"], timeout=30) == text
        assert "sleepy" not in registry_tags(server, "alice", "alice/app")

        [quick] = start_builds(server, "alice", "alice", "app", "quick")
        finished_quick = wait_for_build(server, "alice", "alice", "app", quick["id"])
        assert finished_quick["status"] == "success", pretty(finished_quick)
        assert finished_quick["commit"] == quick_sha, pretty(finished_quick)
        assert registry_tags(server, "alice", "alice/app") == ["quick"]
        [again] = [b for b in expect_json(api(server, "GET", builds_path("alice", "app"),
                                              "alice"), 200) if b["id"] == build["id"]]
        assert again["status"] == "failed", pretty(again)
    finally:
        end_leftover_build_processes(server, marker)


# --------------------------------------------------------------------------------------
# Who may do what; what settings are refused
# --------------------------------------------------------------------------------------

def test_build_permissions_validation_and_credentials_never_shown(registry_factory):
    """A stranger gets 404 on every build route of a private repository (like a missing one)
    and 403/404 on a public repository's settings; a reader may not start builds (403), a
    writer may (a ref no rule matches: 404) but may not see the settings (403); an admin
    collaborator may. Local paths and file:// URLs, bad rules and bad credentials are 422.
    The git token is never in an answer (has_credentials says whether there is one); leaving
    credentials out keeps them, null removes them."""
    server = start_wharf(registry_factory)
    for user in ("alice", "bobby", "carol", "dave", "erin"):
        sign_up(server, user)
    create_repository(server, "alice", "app")
    create_repository(server, "alice", "secret", private=True)
    for repo in ("app", "secret"):
        for user, permission in (("carol", "read"), ("dave", "write"), ("erin", "admin")):
            expect(api(server, "PUT", f"/api/repositories/alice/{repo}/collaborators/{user}",
                       "alice", json={"permission": permission}), 200, "add collaborator")
    token = "glpat-e2e-" + os.urandom(12).hex()
    answers = []
    no_match = []

    def call(method, path, user, status, **kw):
        r = api(server, method, path, user, **kw)
        answers.append(r)
        return expect(r, status, f"{user} {method} {path}")

    git_url = "https://git.example.com/alice/app.git"
    rules = [rule("branch", "main", tag="latest")]
    for repo in ("app", "secret"):
        view = call("PUT", settings_path("alice", repo), "alice", 200,
                    json={"git_url": git_url, "credentials": {"token": token}, "rules": rules}
                    ).json()
        assert_settings_view(view, server)
        assert view["has_credentials"] is True, pretty(view)

    # Private: a stranger sees nothing, as for a repository that does not exist.
    secret_routes = (
        ("GET", settings_path("alice", "secret"), {}),
        ("PUT", settings_path("alice", "secret"), {"json": {"git_url": git_url, "rules": rules}}),
        ("DELETE", settings_path("alice", "secret"), {}),
        ("GET", builds_path("alice", "secret"), {}),
        ("POST", builds_path("alice", "secret"), {"json": {"ref": "main"}}),
        ("GET", f"{builds_path('alice', 'secret')}/1", {}),
        ("GET", f"{builds_path('alice', 'secret')}/1/log", {}),
        ("POST", f"{builds_path('alice', 'secret')}/1/cancel", {}),
    )
    for method, path, kw in secret_routes:
        call(method, path, "bobby", 404, **kw)
        call(method, path.replace("/secret/", "/nosuch/"), "bobby", 404, **kw)
        call(method, path, None, (401, 404), **kw)

    # Public: a stranger may not administer or build.
    for method, path, kw in (
            ("GET", settings_path("alice", "app"), {}),
            ("PUT", settings_path("alice", "app"), {"json": {"git_url": git_url, "rules": rules}}),
            ("DELETE", settings_path("alice", "app"), {})):
        call(method, path, "bobby", (403, 404), **kw)
    call("POST", builds_path("alice", "app"), "bobby", (403, 404), json={"ref": "main"})
    call("GET", builds_path("alice", "app"), "bobby", (403, 404))
    call("POST", builds_path("alice", "app"), None, (401, 403, 404), json={"ref": "main"})

    # Collaborators: read may not build; write may build but not see the settings; admin may.
    for repo in ("app", "secret"):
        call("POST", builds_path("alice", repo), "carol", 403, json={"ref": "main"})
        call("GET", builds_path("alice", repo), "carol", 403)
        call("GET", settings_path("alice", repo), "carol", 403)
        call("GET", settings_path("alice", repo), "dave", 403)
        call("PUT", settings_path("alice", repo), "dave", 403,
             json={"git_url": git_url, "rules": rules})
        # Past the permission check: the answer is about the ref (404 below).
        r = call("POST", builds_path("alice", repo), "dave", 404,
                 json={"ref": "no-rule-matches-this"})
        expect_error(r, 404, "ref", "dave builds")
        no_match.append(r)
        assert call("GET", builds_path("alice", repo), "dave", 200).json() == []
        view = call("GET", settings_path("alice", repo), "erin", 200).json()
        assert_settings_view(view, server)
        assert view["has_credentials"] is True and view["git_url"] == git_url, pretty(view)

    # Refused settings.
    bad_urls = ("/etc", "file:///etc", "../other", "FILE:///etc/passwd", "", "   ", "etc",
                "-uhost:path", "https://")
    for url in bad_urls:
        expect_error(call("PUT", settings_path("alice", "app"), "alice", 422,
                          json={"git_url": url, "rules": rules}), 422, "git_url",
                     f"git_url {url!r}")
    bad_rules = (
        ("rules", []),
        ("rules", [rule("branch", f"b{i}") for i in range(21)]),
        ("rules[0].source_type", [rule("commit", "main")]),
        ("rules[0].source", [rule("tag", "/^v([0-9.]+$/")]),
        ("rules[0].source", [rule("branch", "")]),
        ("rules[0].dockerfile", [rule("branch", "main", dockerfile="../Dockerfile")]),
        ("rules[0].dockerfile", [rule("branch", "main", dockerfile="/etc/passwd")]),
        ("rules[0].context", [rule("branch", "main", context="/")]),
        ("rules[0].context", [rule("branch", "main", context="sub/../../..")]),
        ("rules[0].tag", [rule("branch", "main", tag="")]),
        ("rules[1].tag", [rule("branch", "main"), rule("tag", "v1", tag="///")]),
    )
    for field, bad in bad_rules:
        expect_error(call("PUT", settings_path("alice", "app"), "alice", 422,
                          json={"git_url": git_url, "rules": bad}), 422, field,
                     f"rules {pretty(bad)[:200]}")
    for credentials in ({"token": ""}, {"token": "t", "ssh_key": "k"}, {}):
        expect_error(call("PUT", settings_path("alice", "app"), "alice", 422,
                          json={"git_url": git_url, "rules": rules, "credentials": credentials}),
                     422, what=f"credentials {credentials}")
    # Nothing refused changed the settings.
    view = call("GET", settings_path("alice", "app"), "alice", 200).json()
    assert view["git_url"] == git_url and view["has_credentials"] is True, pretty(view)
    assert view["rules"][0]["source"] == "main", pretty(view)

    # Accepted URL forms; credentials kept when left out, removed with null.
    for url in ("http://127.0.0.1:9/app.git", "ssh://git@git.example.com/alice/app.git",
                "git://127.0.0.1:9418/app.git", "git@git.example.com:alice/app.git"):
        view = call("PUT", settings_path("alice", "app"), "alice", 200,
                    json={"git_url": url, "rules": rules}).json()
        assert view["git_url"] == url and view["has_credentials"] is True, pretty(view)
    view = call("PUT", settings_path("alice", "app"), "erin", 200,
                json={"git_url": git_url, "rules": rules, "credentials": None}).json()
    assert view["has_credentials"] is False, pretty(view)
    view = call("PUT", settings_path("alice", "app"), "alice", 200,
                json={"git_url": git_url, "rules": rules,
                      "credentials": {"username": "deploy", "token": token}}).json()
    assert view["has_credentials"] is True, pretty(view)

    for r in answers:
        assert token not in r.text, f"the git token is in an answer:\n{describe(r)}"
    assert token not in server.log_text(), "the git token is in the server log"

    call("DELETE", settings_path("alice", "app"), "bobby", (403, 404))
    call("DELETE", settings_path("alice", "app"), "alice", 204)
    expect_error(call("GET", settings_path("alice", "app"), "alice", 404), 404)
    expect_error(call("POST", builds_path("alice", "app"), "alice", 404, json={"ref": "main"}),
                 404, what="builds without settings")
    problems = []
    for r in no_match:
        if r.status_code != 404 or r.json().get("field") != "ref":
            problems.append(f"a ref no rule matches is {r.status_code}, not 404 with field ref: {r.text}")
    # Any port a URL may have (git servers listen on 10000-65535 too).
    for url in ("https://git.example.com:30443/alice/app.git", "ssh://git@127.0.0.1:65535/app"):
        r = api(server, "PUT", settings_path("alice", "app"), "alice",
                json={"git_url": url, "rules": rules})
        if r.status_code != 200 or r.json().get("git_url") != url:
            problems.append(f"git_url {url} refused: {r.status_code} {r.text}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------
# The Docker engine
# --------------------------------------------------------------------------------------

@pytest.fixture
def docker_build_tools() -> Path:
    """Skips the test unless builds on a Docker engine can run here: docker and dockerd (the
    engine), skopeo (the push into Wharf), git and a static busybox; the busybox path. (buildah
    is not needed.)"""
    missing = [tool for tool in ("docker", "dockerd", "skopeo", "git")
               if shutil.which(tool) is None]
    busybox = busybox_path()
    if busybox is None:
        missing.append("busybox (Debian busybox-static)")
    if missing:
        pytest.skip(f"builds on a Docker engine need {', '.join(missing)}; "
                    "./scripts/test installs them")
    return busybox


def test_a_docker_engine_builds_when_configured(
        registry_factory, docker_build_tools, request, tmp_path):
    """--build-engine docker --docker-host unix://<the session's dockerd>: the server log says
    builds run on that Docker engine and the settings say engine docker; a branch build with a
    build argument succeeds, its log shows `docker build`'s own output (classic builder: Step
    N/M, Successfully built/tagged) between the clone and the push; docker pulls the pushed
    image and runs it without network (it prints the build argument); the engine keeps no
    image of the build afterwards."""
    dockerd = request.getfixturevalue("dockerd")  # after the tools check: skipped without them
    git_server = GitServer(tmp_path / "git")
    git_server.start()
    request.addfinalizer(git_server.cleanup)
    build_tools = docker_build_tools
    docker_host = dockerd.env["DOCKER_HOST"]
    assert docker_host == f"unix://{dockerd.socket}", docker_host
    server = start_wharf(registry_factory, "--build-engine", "docker", "--docker-host", docker_host)
    engine_lines = [line for line in server.log_text().splitlines() if "build engine" in line]
    assert any(f"builds run on the Docker engine at {docker_host}" in line
               for line in engine_lines), \
        f"no 'build engine … builds run on the Docker engine at {docker_host}' line:\n" \
        f"{engine_lines or server.log_tail(3000)}"
    sign_up(server, "alice")
    create_repository(server, "alice", "app")
    repository, _work, sha = git_app(git_server, tmp_path, build_tools,
                                     {"Dockerfile": HELLO_DOCKERFILE})
    greeting = "hello from a docker engine build"
    view = save_settings(server, "alice", "alice", "app", repository.url,
                         [rule("branch", "main", tag="latest",
                               build_args={"GREETING": greeting})])
    assert view["engine"] == "docker", pretty(view)

    def build_images() -> list:
        out = dockerd.docker("images", "--all", "--format", "{{.Repository}}:{{.Tag}}").stdout
        return [line for line in out.split() if line.startswith("wharf-build-")]
    before = build_images()

    [queued] = start_builds(server, "alice", "alice", "app", "main")
    assert queued["tag"] == "latest" and queued["triggered_by"] == "alice", pretty(queued)
    log = follow_log(server, "alice", "alice", "app", queued["id"])
    build = get_build(server, "alice", "alice", "app", queued["id"])
    assert build["status"] == "success", f"{pretty(build)}\n--- log ---\n{log}"
    assert build["commit"] == sha and build["error"] is None, pretty(build)
    in_order(log, f"==> Cloning branch main of {repository.url}", f"==> Commit {sha}",
             "==> Building with docker (network off)", "Step 1/5 : FROM scratch",
             "Step 2/5 : COPY busybox /bin/busybox", "Step 4/5 : RUN", "Successfully built ",
             "Successfully tagged wharf-build-", "==> Pushing", "==> Pushed alice/app:latest")
    assert "STEP 1/" not in log, f"buildah ran, not docker:\n{log}"
    assert "==> Failed" not in log, log
    text, finished = log_now(server, "alice", "alice", "app", build["id"])
    assert finished is True and text == log, f"follow=false differs:\n{text}\n---\n{log}"
    assert registry_tags(server, "alice", "alice/app") == ["latest"]

    out = docker_run_image(dockerd, server, "alice", f"{server.host}/alice/app:latest")
    assert out.strip() == greeting, f"the image built by docker printed {out!r}"
    # The build's own image (wharf-build-…) is removed from the engine once pushed.
    wait_for(lambda: build_images() == before, WAIT,
             what="the engine to drop the build's wharf-build-… image")


# --------------------------------------------------------------------------------------
# Polling and limits
# --------------------------------------------------------------------------------------

LIMITS_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "echo memory-limit=$(/bin/busybox cat /sys/fs/cgroup/memory.max 2>/dev/null || /bin/busybox cat /sys/fs/cgroup/memory/memory.limit_in_bytes); echo process-limit=$(ulimit -u)"]
CMD ["/bin/busybox", "true"]
"""


def test_polling_builds_new_commits_under_the_memory_and_process_limits(
        registry_factory, git_server, build_tools, tmp_path):
    """With poll on (and --build-poll-interval 1), a commit pushed to the git server is built
    without any trigger (triggered_by "poll"), the first poll having only looked; the RUN step
    sees the --build-memory cgroup limit (cgroup v2 or v1) and the --build-pids process limit."""
    server = start_wharf(registry_factory, "--build-poll-interval", "1", "--build-memory", "256m",
                         "--build-pids", "200")
    sign_up(server, "alice")
    create_repository(server, "alice", "app")
    repository, work, first = git_app(git_server, tmp_path, build_tools, {"Dockerfile": LIMITS_DOCKERFILE})
    view = save_settings(server, "alice", "alice", "app", repository.url,
                         [rule("branch", "main", tag="latest")], poll=True)
    assert view["poll"] is True and view["autobuild"] is True, pretty(view)
    # The first poll only remembers main as it is: no build of `first`.
    time.sleep(3)
    builds = expect_json(api(server, "GET", builds_path("alice", "app"), "alice"), 200)
    assert builds == [], f"the first poll built something: {pretty(builds)}"
    work.write("NEWS", "a second commit\n")
    second = work.commit_and_push("main", "second")
    assert second != first

    def polled():
        found = expect_json(api(server, "GET", builds_path("alice", "app"), "alice"), 200)
        return found or None
    [build] = wait_for(polled, WAIT, interval=0.5, what="a build queued by polling")
    assert build["triggered_by"] == "poll" and build["ref"] == "main" and build["tag"] == "latest", pretty(build)
    done = wait_for_build(server, "alice", "alice", "app", build["id"])
    text, _ = log_now(server, "alice", "alice", "app", build["id"])
    assert done["status"] == "success" and done["commit"] == second, f"{pretty(done)}\n{text}"
    assert f"memory-limit={256 * 1024 * 1024}" in text, f"the RUN step saw no 256m memory limit:\n{text}"
    assert "process-limit=200" in text, f"the RUN step saw no process limit of 200:\n{text}"


# --------------------------------------------------------------------------------------
# A server without a build engine
# --------------------------------------------------------------------------------------

def test_without_a_build_engine_builds_are_refused_with_503_and_the_rest_works(
        registry_factory):
    """--build-engine none: the log says builds are off; settings can be saved (engine null),
    but starting a build is 503 with a message saying builds are off; the registry and the rest
    of the API work."""
    server = start_wharf(registry_factory, "--build-engine", "none")
    assert any("build engine" in line and "builds are off (--build-engine none)" in line
               for line in server.log_text().splitlines()), \
        f"no 'build engine … builds are off' line:\n{server.log_tail(3000)}"
    sign_up(server, "alice")
    create_repository(server, "alice", "app")
    view = save_settings(server, "alice", "alice", "app", "https://git.example.com/alice/app.git",
                         [rule("branch", "main", tag="latest")])
    assert view.get("engine") is None, pretty(view)
    assert expect_json(api(server, "GET", settings_path("alice", "app"), "alice"), 200) == view

    body = expect_error(api(server, "POST", builds_path("alice", "app"), "alice",
                            json={"ref": "main"}), 503, what="POST builds without an engine")
    assert "builds are off" in body["message"], pretty(body)
    assert expect_json(api(server, "GET", builds_path("alice", "app"), "alice"), 200) == [], \
        "a refused build was recorded"
    # The rest works: a push over /v2/ and the repository's API.
    from hubapi import push_small_image
    push_small_image(server, "alice", "alice/app", "v1", seed="no-engine")
    assert registry_tags(server, "alice", "alice/app") == ["v1"]
    # Nothing matched: the same 404 as with an engine (the ref is checked before the engine).
    expect_error(api(server, "POST", builds_path("alice", "app"), "alice",
                     json={"ref": "feature"}), 404, "ref", "a ref no rule matches")
    expect(api(server, "DELETE", settings_path("alice", "app"), "alice"), 204)
