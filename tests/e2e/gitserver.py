"""A real git server on loopback for the automated-build tests (test_builds.py): ``git daemon``
serving bare repositories below a folder of its own over ``git://127.0.0.1:PORT/NAME.git``,
with pushes allowed (receive-pack), and ``GitWorkTree``, a local clone the test commits to and
pushes from over that same git:// URL, as a developer would.

    with GitServer(tmp_path / "git") as git:
        repo = git.create_repository("app")              # an empty bare repository
        work = repo.work_tree(tmp_path / "work")         # a clone to commit in
        work.write("Dockerfile", "FROM scratch\\n")
        sha = work.commit_and_push("main", "first")     # the commit's sha, now on the server
        work.tag_and_push("v1.2.3")                      # a lightweight tag on HEAD

Every git command runs hermetically: no system or user configuration (a HOME of its own), a
fixed author, no prompts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

from harness import _tail, die_with_parent, free_port, require_tool, run


def git_env(home: Path) -> dict:
    """The environment of every git command the tests run: nothing of the machine's git setup."""
    return {
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0", "LANG": "C.UTF-8",
        "GIT_AUTHOR_NAME": "E2E Developer", "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "E2E Developer", "GIT_COMMITTER_EMAIL": "dev@example.com",
    }


class GitServer:
    """``git daemon`` on 127.0.0.1 and a free port, exporting every repository
    below ``root`` (``--export-all``) and accepting pushes (``--enable=receive-pack``)."""

    READY_TIMEOUT = 30

    def __init__(self, base: Path):
        require_tool("git")
        self.base = Path(base)
        self.root = self.base / "repositories"
        self.home = self.base / "home"
        self.root.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path = self.base / "git-daemon.log"
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"git://127.0.0.1:{self.port}"

    def git(self, *args, cwd: Optional[Path] = None, timeout: float = 60, check: bool = True):
        return run(["git", *args], env=git_env(self.home), cwd=cwd, timeout=timeout, check=check)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "GitServer":
        for _ in range(5):
            if self._launch():
                return self
            self.port = free_port()  # taken in the meantime: another one
        raise AssertionError(f"git daemon did not start\n{self.log_tail()}")

    def _launch(self) -> bool:
        """Start git daemon on self.port; True once it accepts connections, False when it
        exited at once (the port was taken between choosing it and binding)."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
             "--informative-errors", "--verbose", f"--base-path={self.root}",
             "--listen=127.0.0.1", f"--port={self.port}", str(self.root)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **git_env(self.home)}, start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM))
        log.close()
        deadline = time.monotonic() + self.READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"git daemon did not listen on {self.url} within "
                             f"{self.READY_TIMEOUT}s\n{self.log_tail()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "GitServer":
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_tail(self, limit: int = 4000) -> str:
        try:
            return _tail(self.log_path.read_text(errors="replace"), limit)
        except FileNotFoundError:
            return "(no log)"

    # -- repositories ------------------------------------------------------------------------
    def create_repository(self, name: str) -> "GitRepository":
        """An empty bare repository NAME.git whose default branch is main."""
        path = self.root / f"{name}.git"
        self.git("init", "--quiet", "--bare", "--initial-branch=main", str(path))
        return GitRepository(self, name, path)


class GitRepository:
    """A bare repository on a GitServer: ``url`` is what a client clones."""

    def __init__(self, server: GitServer, name: str, path: Path):
        self.server = server
        self.name = name
        self.path = path

    @property
    def url(self) -> str:
        return f"{self.server.url}/{self.name}.git"

    def ref_sha(self, ref: str) -> str:
        """The object a ref names on the server (``refs/heads/main``, ``refs/tags/v1``)."""
        return self.server.git("--git-dir", str(self.path), "rev-parse", ref).stdout.strip()

    def work_tree(self, folder: Path) -> "GitWorkTree":
        """A fresh local repository whose `origin` is this one (over git://)."""
        folder = Path(folder)
        self.server.git("init", "--quiet", "--initial-branch=main", str(folder))
        self.server.git("remote", "add", "origin", self.url, cwd=folder)
        return GitWorkTree(self.server, folder)


class GitWorkTree:
    """A developer's clone: write files, commit, push branches and tags over git://."""

    def __init__(self, server: GitServer, folder: Path):
        self.server = server
        self.folder = folder

    def git(self, *args, **kw):
        return self.server.git(*args, cwd=self.folder, **kw)

    def write(self, relative: str, text: str):
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def copy_in(self, source: Path, relative: str):
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, path)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").stdout.strip()

    def commit_and_push(self, branch: str, message: str) -> str:
        """Commit everything on `branch` (created or switched to) and push it; the commit's sha."""
        current = self.git("symbolic-ref", "--short", "-q", "HEAD", check=False).stdout.strip()
        if current != branch:
            self.git("checkout", "--quiet", "-B", branch)
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        return self.head()

    def tag_and_push(self, tag: str) -> str:
        """A lightweight tag on HEAD, pushed; the commit's sha."""
        self.git("tag", tag)
        self.git("push", "--quiet", "origin", f"refs/tags/{tag}")
        return self.head()
