#!/usr/bin/python
# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Many small config files in one directory from one rendered template, batched."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_files
short_description: Keep a directory of generated config files (one per tenant) in one task
description:
  - Takes a I(bundle), the output of one template that loops over all tenants and starts
    each file with a marker line (C(#### oemhost-file: <name>)), and keeps one file per
    section in O(root). Only files whose content, owner or mode differ are written
    (atomically); files matching O(pattern) that are no longer in the bundle are removed.
  - With O(only), just those file names are written or removed (a tenant-scoped run); the
    other files stay as they are.
  - With O(validate), the command runs after the files are in place (for example
    C(apache2ctl -t)); when it fails, every file is put back as it was and the task fails,
    so a broken configuration never stays live.
  - With O(validate_each), a command checks each written file on its own (C(%s) is its
    path), for a tenant-scoped run that need not re-check every tenant's file (for example
    C(php-fpm -t -y %s) for one pool instead of C(php-fpm -t) over thousands).
  - Values in the bundle must not contain newlines (the roles validate every name that
    reaches a template), so a value cannot forge a marker line.
version_added: "0.1.0"
author: oemhost contributors
options:
  root:
    description: Directory of the files (created when missing, mode 0755).
    type: path
    required: true
  bundle:
    description: Rendered bundle.
    type: str
    required: true
  marker:
    description: Text that starts a file's first line, followed by its name.
    type: str
    default: "#### oemhost-file: "
  pattern:
    description: Shell pattern of the file names this task owns in O(root).
    type: str
    default: "*.conf"
  only:
    description: Restrict the run to these file names (others are left alone).
    type: list
    elements: str
  owner:
    description: Owner of the files.
    type: str
    default: root
  group:
    description: Group of the files.
    type: str
    default: root
  mode:
    description: Mode of the files.
    type: str
    default: "0644"
  validate:
    description: Command (argv) that checks the configuration with the new files in place.
    type: list
    elements: str
  validate_each:
    description: Command (argv) run for each written file after all are in place; C(%s)
      in an argument is replaced by the file's path. When one fails, every file is put back.
    type: list
    elements: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Write the tenants' vhosts
  oemhost_files:
    root: /etc/apache2/oemhost/tenants
    bundle: "{{ lookup('ansible.builtin.template', 'etc/apache2/oemhost/tenants.bundle.j2') }}"
    validate: [apache2ctl, -t]
  notify: Reload Apache
"""

RETURN = r"""
written:
  description: Files created or changed.
  type: list
  elements: str
  returned: always
removed:
  description: Files removed.
  type: list
  elements: str
  returned: always
"""

import fnmatch  # noqa: E402
import grp  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import re  # noqa: E402
import stat  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


class BundleError(Exception):
    pass


def split_bundle(bundle: str, marker: str) -> dict[str, str]:
    """Split a rendered bundle into name -> content."""
    files: dict[str, str] = {}
    name = None
    lines: list[str] = []
    for line in bundle.splitlines(keepends=True):
        if line.startswith(marker):
            if name is not None:
                files[name] = "".join(lines)
            name = line[len(marker):].strip()
            if not NAME_RE.match(name):
                raise BundleError(f"bad file name in bundle: {name!r}")
            if name in files:
                raise BundleError(f"file {name} appears twice in the bundle")
            lines = []
        elif name is None:
            if line.strip():
                raise BundleError("text before the first file marker")
        else:
            lines.append(line)
    if name is not None:
        files[name] = "".join(lines)
    return files


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def write_atomic(root: str, name: str, content: str, uid: int, gid: int, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".oemhost-", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(content)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        os.replace(tmp, os.path.join(root, name))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def plan(root: str, wanted: dict[str, str], pattern: str, only: list[str] | None,
         uid: int, gid: int, mode: int) -> tuple[dict[str, str], list[str], dict]:
    """-> (files to write, files to remove, current contents of both)."""
    existing = []
    if os.path.isdir(root):
        existing = [n for n in os.listdir(root) if fnmatch.fnmatch(n, pattern)
                    and not n.startswith(".")]
    scope = set(only) if only is not None else None
    for name in wanted:
        if not fnmatch.fnmatch(name, pattern):
            raise BundleError(f"{name} does not match the pattern {pattern}")
        if scope is not None and name not in scope:
            raise BundleError(f"{name} is in the bundle but not in 'only'")
    write, current = {}, {}
    for name, content in wanted.items():
        path = os.path.join(root, name)
        have = read_text(path)
        current[name] = have
        if have != content:
            write[name] = content
            continue
        st = os.lstat(path)
        if (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (uid, gid, mode):
            write[name] = content
    remove = sorted(n for n in existing if n not in wanted
                    and (scope is None or n in scope))
    for name in remove:
        current[name] = read_text(os.path.join(root, name))
    return write, remove, current


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            bundle=dict(type="str", required=True),
            marker=dict(type="str", default="#### oemhost-file: "),
            pattern=dict(type="str", default="*.conf"),
            only=dict(type="list", elements="str"),
            owner=dict(type="str", default="root"),
            group=dict(type="str", default="root"),
            mode=dict(type="str", default="0644"),
            validate=dict(type="list", elements="str"),
            validate_each=dict(type="list", elements="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    root = p["root"]
    try:
        uid = pwd.getpwnam(p["owner"]).pw_uid
        gid = grp.getgrnam(p["group"]).gr_gid
        mode = int(p["mode"], 8)
        wanted = split_bundle(p["bundle"], p["marker"])
        write, remove, current = plan(root, wanted, p["pattern"], p["only"], uid, gid, mode)
    except (BundleError, KeyError, ValueError) as exc:
        module.fail_json(msg=f"{root}: {exc}")
    changed = bool(write or remove)
    diffs = []
    if module._diff:
        for name in sorted(write):
            if current.get(name) != write[name]:
                diffs.append({"before": current.get(name) or "", "after": write[name],
                              "before_header": f"{root}/{name}",
                              "after_header": f"{root}/{name}"})
        for name in remove:
            diffs.append({"before": current.get(name) or "", "after": "",
                          "before_header": f"{root}/{name}",
                          "after_header": f"{root}/{name} (removed)"})
    if changed and not module.check_mode:
        os.makedirs(root, mode=0o755, exist_ok=True)
        done = []
        try:
            for name in sorted(write):
                write_atomic(root, name, write[name], uid, gid, mode)
                done.append(name)
            for name in remove:
                os.unlink(os.path.join(root, name))
                done.append(name)
            checks = [p["validate"]] if p["validate"] else []
            for name in sorted(write) if p["validate_each"] else []:
                path = os.path.join(root, name)
                checks.append([a.replace("%s", path) for a in p["validate_each"]])
            for argv in checks:
                rc, out, err = module.run_command(argv)
                if rc != 0:
                    raise BundleError(f"{' '.join(argv)} failed, nothing changed: "
                                      f"{(err or out).strip()[-2000:]}")
        except (BundleError, OSError) as exc:
            for name in done:  # put every file back as it was
                old = current.get(name)
                path = os.path.join(root, name)
                if old is None:
                    if os.path.lexists(path):
                        os.unlink(path)
                else:
                    write_atomic(root, name, old, uid, gid, mode)
            module.fail_json(msg=str(exc))
    module.exit_json(changed=changed, written=sorted(write), removed=remove,
                     diff=diffs)


if __name__ == "__main__":
    main()
