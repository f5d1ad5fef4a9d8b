#!/usr/bin/python
# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Batched directories inside tenants' homes, created and owned without following links."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_dirs
short_description: Keep many directories under a base, safely inside tenant-writable trees
description:
  - Takes a whole list of directories (for example every tenant's document roots) and
    creates or fixes only those whose owner, group or mode differ.
  - Paths are walked component by component with C(O_NOFOLLOW) from an open descriptor of
    O(base), so a symbolic link a tenant planted (C(public_html -> /etc)) is never followed
    as root; such an entry is skipped with a warning and reported in RV(problems), and the
    other entries are still converged.
version_added: "0.1.0"
author: oemhost contributors
options:
  base:
    description: Trusted directory every path is relative to (must exist, owned by root).
    type: path
    default: /srv/hosting
  dirs:
    description: The directories.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Path relative to O(base) (plain segments, no C(..)).
        type: str
        required: true
      owner:
        description: Owner user name.
        type: str
        required: true
      group:
        description: Group name.
        type: str
        required: true
      mode:
        description: Octal mode as a string (C("02750")).
        type: str
        required: true
      parents:
        description:
          - Owner, group and mode for missing directories on the way (keys C(owner),
            C(group), C(mode)); without it, missing parents are a problem.
        type: dict
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Keep document roots
  oemhost_dirs:
    dirs:
      - {path: shop1/web/public_html, owner: shop1, group: www-data, mode: "02750",
         parents: {owner: shop1, group: www-data, mode: "02750"}}
"""

RETURN = r"""
changed_paths:
  description: Directories created or fixed.
  type: list
  elements: str
  returned: always
problems:
  description: Entries skipped (a link or a file in the way, a missing parent).
  type: list
  elements: str
  returned: always
"""

import errno  # noqa: E402
import functools  # noqa: E402
import grp  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import re  # noqa: E402
import stat  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


class Problem(Exception):
    pass


def split_path(path: str) -> list[str]:
    parts = path.split("/")
    if not path or not all(SEGMENT_RE.match(p) for p in parts):
        raise Problem(f"{path!r} is not a plain relative path")
    return parts


@functools.cache
def ids(owner: str, group: str, mode: str) -> tuple[int, int, int]:
    try:
        uid = pwd.getpwnam(owner).pw_uid
        gid = grp.getgrnam(group).gr_gid
    except KeyError as exc:
        raise Problem(f"unknown user or group ({exc.args[0]})") from None
    return uid, gid, int(mode, 8)


def open_child(parent_fd: int, name: str) -> int | None:
    """Open a directory entry without following links; None if it does not exist."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Problem(f"{name} is a link or not a directory") from None
        raise


def converge(base_fd: int, entry: dict, check: bool) -> list[str]:
    """Bring one entry in line; return descriptions of what changed (or would)."""
    parts = split_path(entry["path"])
    want = ids(entry["owner"], entry["group"], entry["mode"])
    parents = entry.get("parents")
    pwant = ids(parents["owner"], parents["group"], parents["mode"]) if parents else None
    changes = []
    fds = []
    fd = base_fd
    missing = False
    try:
        for i, name in enumerate(parts):
            last = i == len(parts) - 1
            spec = want if last else pwant
            sub = None if missing else open_child(fd, name)
            rel = "/".join(parts[: i + 1])
            if sub is None:
                if not last and pwant is None:
                    raise Problem(f"{rel} is missing")
                changes.append(f"create {rel} ({spec[2]:04o})")
                if check:
                    missing = True
                    continue
                os.mkdir(name, mode=0o700, dir_fd=fd)
                sub = os.open(name, DIR_FLAGS, dir_fd=fd)
                os.fchown(sub, spec[0], spec[1])
                os.fchmod(sub, spec[2])
                fds.append(sub)
                fd = sub
                continue
            fds.append(sub)
            fd = sub
            if last:
                st = os.fstat(sub)
                have = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
                if have != want:
                    changes.append(f"fix {rel}: {have[0]}:{have[1]} {have[2]:04o} -> "
                                   f"{entry['owner']}:{entry['group']} {want[2]:04o}")
                    if not check:
                        os.fchown(sub, want[0], want[1])
                        os.fchmod(sub, want[2])
    finally:
        for f in fds:
            os.close(f)
    return changes


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            base=dict(type="path", default="/srv/hosting"),
            dirs=dict(type="list", elements="dict", required=True, options=dict(
                path=dict(type="str", required=True),
                owner=dict(type="str", required=True),
                group=dict(type="str", required=True),
                mode=dict(type="str", required=True),
                parents=dict(type="dict"),
            )),
        ),
        supports_check_mode=True,
    )
    base = module.params["base"]
    try:
        base_fd = os.open(base, DIR_FLAGS)
    except OSError as exc:
        module.fail_json(msg=f"cannot open {base}: {exc.strerror}")
    changed_paths, problems, lines = [], [], []
    try:
        for entry in module.params["dirs"]:
            try:
                changes = converge(base_fd, entry, module.check_mode)
            except Problem as exc:
                problems.append(f"{entry['path']}: {exc}")
                continue
            if changes:
                changed_paths.append(entry["path"])
                lines += [f"{c}\n" for c in changes]
    finally:
        os.close(base_fd)
    for problem in problems:
        module.warn(f"skipped {problem}")
    module.exit_json(changed=bool(changed_paths), changed_paths=changed_paths,
                     problems=problems,
                     diff={"before": "", "after": "".join(lines),
                           "before_header": base, "after_header": f"{base} (changes)"})


if __name__ == "__main__":
    main()
