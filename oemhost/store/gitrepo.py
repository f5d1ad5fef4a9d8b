"""The inventory's git history: one commit per accepted change, touching only its files.

``git add -A`` / ``git commit`` would stat (and, after a checkout, hash) all 10,000
tenant files on every write. The store instead builds each commit with plumbing in a
private index file: ``read-tree HEAD`` (only when HEAD moved since the last write),
``update-index --index-info`` for exactly the touched paths, ``write-tree``,
``commit-tree`` and ``update-ref HEAD new old`` (a compare-and-swap: a commit made by hand
in between makes the write fail cleanly instead of being lost). The shared index is then
refreshed for the touched paths so ``git status`` stays clean for ops.

Author: the actor (``ops:alice``, ``reseller:acme/bob``...), committer: the store. Hooks
and the user's signing configuration are not involved (plumbing does not run them).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from oemhost.errors import ConflictError, OemhostError

STORE_IDENTITY = ("oemhost store", "store@oemhost.invalid")


class GitError(OemhostError):
    """A git command failed."""


def actor_identity(actor: str) -> tuple[str, str]:
    """Git author name and e-mail for an actor string (already pattern-checked)."""
    local = re.sub(r"[^A-Za-z0-9._+-]", ".", actor).strip(".") or "unknown"
    return actor, f"{local}@oemhost.invalid"


class GitRepo:
    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        out = self._run(["rev-parse", "--show-toplevel", "--absolute-git-dir"]).splitlines()
        self.toplevel = Path(out[0])
        self.git_dir = Path(out[1])
        rel = os.path.relpath(os.path.realpath(self.workdir), os.path.realpath(self.toplevel))
        #: the inventory's path inside the repository ("" when it is the repository)
        self.prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        self.private_index = self.git_dir / "oemhost-index"
        self._private_head_file = self.git_dir / "oemhost-index.head"

    # --- running git -------------------------------------------------------------------

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update({"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"})
        env.update(extra or {})
        return env

    def _run(self, args: list[str], *, input: bytes | str | None = None,
             env: dict[str, str] | None = None, check: bool = True) -> str:
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(["git", *args], cwd=self.workdir, input=data,
                              capture_output=True, env=self._env(env))
        if check and proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git {args[0]} failed: {msg[-1] if msg else proc.returncode}")
        return proc.stdout.decode("utf-8", "replace")

    def full(self, path: str) -> str:
        """An inventory-relative path as a path from the repository's top level."""
        return self.prefix + path

    # --- queries -----------------------------------------------------------------------

    def head(self) -> str | None:
        out = self._run(["rev-parse", "--verify", "-q", "HEAD"], check=False).strip()
        return out or None

    def head_and_blobs(self, paths: list[str]) -> tuple[str | None, dict[str, str]]:
        """HEAD's commit id and the blob ids in HEAD of inventory-relative ``paths`` (missing
        ones are left out), from one ``git cat-file --batch-check``."""
        query = ["HEAD"] + [f"HEAD:{self.full(p)}" for p in paths]
        out = self._run(["cat-file", "--batch-check=%(objectname) %(objecttype)"],
                        input="\n".join(query) + "\n").splitlines()
        head = out[0].split()[0] if out and out[0].endswith(" commit") else None
        blobs = {}
        if head is not None:
            for p, line in zip(paths, out[1:], strict=True):
                if line.endswith(" blob"):
                    blobs[p] = line.split()[0]
        return head, blobs

    def head_blobs(self, paths: list[str]) -> dict[str, str]:
        return self.head_and_blobs(paths)[1]

    def uncommitted(self, under: str = "state") -> list[str]:
        """Inventory-relative paths under ``under`` that differ from HEAD (or are untracked)."""
        out = self._run(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--",
                         f":(top){self.full(under)}"], env={"GIT_OPTIONAL_LOCKS": "0"})
        paths = []
        for item in out.split("\0"):
            if len(item) > 3 and item[2] == " ":
                paths.append(item[3:][len(self.prefix):])
        return sorted(paths)

    def log(self, paths: list[str] | None = None, limit: int = 20) -> list[dict[str, str]]:
        if self.head() is None:
            return []
        fmt = "%H%x1f%an%x1f%aI%x1f%s%x1f%b%x1e"
        args = ["log", f"-n{int(limit)}", f"--format={fmt}", "HEAD"]
        if paths:
            args += ["--", *[f":(top){self.full(p)}" for p in paths]]
        out = self._run(args)
        entries = []
        for rec in out.split("\x1e"):
            rec = rec.strip("\n")
            if not rec:
                continue
            commit, author, date, subject, body = rec.split("\x1f")
            entries.append({"commit": commit, "author": author, "date": date,
                            "subject": subject, "body": body.strip()})
        return entries

    # --- committing ----------------------------------------------------------------------

    def commit_paths(self, paths: list[str], *, message: str, author: tuple[str, str],
                     expected_head: str | None) -> str:
        """Commit the working-tree content of ``paths`` (deleted files are removed).

        ``expected_head`` is the HEAD the change was based on; if HEAD moved meanwhile the
        commit is refused with :class:`ConflictError`.
        """
        env = {"GIT_INDEX_FILE": str(self.private_index)}
        reuse = expected_head is not None and self._private_head() == expected_head
        self._set_private_head(None)  # the private index is in flux until the commit lands
        if not reuse:
            if expected_head is None:
                self._run(["read-tree", "--empty"], env=env)
            else:
                self._run(["read-tree", expected_head], env=env)
        # hashes and stores the working-tree files, drops the ones that are gone
        # (update-index takes paths relative to the working directory: the inventory)
        self._run(["update-index", "--add", "--remove", "-z", "--stdin"],
                  input="\0".join(paths) + "\0", env=env)
        tree = self._run(["write-tree"], env=env).strip()
        name, email = author
        cenv = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": STORE_IDENTITY[0], "GIT_COMMITTER_EMAIL": STORE_IDENTITY[1]}
        parents = ["-p", expected_head] if expected_head else []
        commit = self._run(["commit-tree", tree, *parents, "-F", "-"], input=message,
                           env=cenv).strip()
        ref = ["update-ref", "-m", "oemhost store: " + message.splitlines()[0][:200], "HEAD",
               commit, expected_head or "0" * 40]
        proc = subprocess.run(["git", *ref], cwd=self.workdir, capture_output=True,
                              env=self._env())
        if proc.returncode != 0:
            raise ConflictError("the inventory's git history moved while writing (a commit "
                                "made by hand?); nothing was changed, try again")
        self._set_private_head(commit)
        # keep the shared index in step so `git status` shows nothing for these paths
        self._run(["update-index", "--add", "--remove", "-q", "--", *paths], check=False)
        return commit

    def _private_head(self) -> str | None:
        try:
            value = self._private_head_file.read_text().strip()
        except FileNotFoundError:
            return None
        if not self.private_index.exists():
            return None
        return value or None

    def _set_private_head(self, commit: str | None) -> None:
        if commit is None:
            self._private_head_file.unlink(missing_ok=True)
        else:
            self._private_head_file.write_text(commit + "\n")


def init_repo(path: Path) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True,
                   capture_output=True, env={**os.environ, "LC_ALL": "C"})
