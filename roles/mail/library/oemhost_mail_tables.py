#!/usr/bin/python
"""Ansible module oemhost_mail_tables: the mail role's node-wide tables in one task."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: oemhost_mail_tables
short_description: Keep a node's mail tables (Postfix maps, Dovecot users, limits, SNI) at once
version_added: "0.1.0"
description:
  - Writes every file given in O(files) and O(secret_files) whose content, owner, group or
    mode differ, atomically (a temporary file in the same directory, then a rename), and
    rebuilds the Postfix lookup table (C(postmap)) of each file marked C(postmap) that was
    written or whose C(.db) is older than its source or missing.
  - Builds the SNI tables itself from O(sni), because which tenant domains have their own
    certificate is known only on the node; the Postfix SNI table embeds the certificates
    (C(postmap -F)) and is rebuilt also when a certificate or key file is newer than it.
  - Fails before writing anything when a tenant in O(users) has no system user, or when a
    file's O(files[].validate) command refuses the new content.
  - One task instead of one per file keeps a tenant-scoped converge of a node with
    thousands of mailboxes within seconds.
options:
  files:
    description: Files to keep. Their differences are shown with C(--diff).
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path; its directory must exist., type: path, required: true}
      content: {description: The whole content., type: str, required: true}
      owner: {description: Owner name., type: str, default: root}
      group: {description: Group name., type: str, default: root}
      mode: {description: Octal mode., type: str, default: "0644"}
      postmap: {description: Also keep its Postfix hash table (C(.db))., type: bool, default: false}
      validate:
        description:
          - Command (argv) run on the new content before anything goes live; C(%s) is the
            temporary file.
        type: list
        elements: str
  secret_files:
    description: Like O(files), for content that must never be shown (password hashes); no diff.
    type: list
    elements: dict
    default: []
  directories:
    description: Directories of the files, created or fixed (owner, group, mode) first.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: path, required: true}
      owner: {description: Owner name., type: str, default: root}
      group: {description: Group name., type: str, default: root}
      mode: {description: Octal mode., type: str, default: "0755"}
  users:
    description: System users that must exist (the tenants owning the mail).
    type: list
    elements: str
    default: []
  sni:
    description:
      - Domains that may have their own certificate under C(root/<domain>/fullchain.pem) and
        C(privkey.pem), the name prefixes they answer to (C("") and C(mail.)), and where to
        write the Postfix table (C(postfix_map)) and the Dovecot include (C(dovecot_conf)).
    type: dict
  header:
    description: Comment lines put at the top of the SNI files.
    type: str
    default: Managed by Ansible
  postmap:
    description: The postmap program.
    type: path
    default: /usr/sbin/postmap
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: oemhost
"""

EXAMPLES = r"""
- name: Write the node's mail tables
  oemhost_mail_tables:
    files:
      - {path: /etc/postfix/oemhost/domains, content: "example.jp OK\n", postmap: true}
    secret_files:
      - path: /etc/dovecot/oemhost/passwd
        content: "{{ passwd_text }}"
        group: dovecot
        mode: "0640"
    users: [shop1]
    sni:
      root: /etc/oemhost/tls
      domains: [example.jp]
      prefixes: ["", "mail."]
      postfix_map: /etc/postfix/oemhost/sni
      dovecot_conf: /etc/dovecot/oemhost/sni.conf
"""

RETURN = r"""
directories:
  description: Directories created or fixed.
  returned: always
  type: list
  elements: str
written:
  description: Files created or changed.
  returned: always
  type: list
  elements: str
rebuilt:
  description: Files whose Postfix table was rebuilt.
  returned: always
  type: list
  elements: str
sni_domains:
  description: Domains served with their own certificate.
  returned: always
  type: list
  elements: str
"""

import grp
import os
import pwd
import subprocess
import tempfile

from ansible.module_utils.basic import AnsibleModule

FILE_SPEC = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "required": True},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "mode": {"type": "str", "default": "0644"},
    "postmap": {"type": "bool", "default": False},
    "validate": {"type": "list", "elements": "str"},
}


class TableError(Exception):
    pass


def missing_users(users: list[str]) -> list[str]:
    out = []
    for user in users:
        try:
            pwd.getpwnam(user)
        except KeyError:
            out.append(user)
    return out


def sni_files(sni: dict, header: str) -> tuple[list[str], list[dict]]:
    """The domains that have their certificate files, and the two SNI files for them."""
    root = sni["root"]
    have = [d for d in sorted(set(sni.get("domains") or []))
            if os.path.isfile(os.path.join(root, d, "fullchain.pem"))
            and os.path.isfile(os.path.join(root, d, "privkey.pem"))]
    head = "".join(f"# {line}\n" for line in header.splitlines())
    postfix, dovecot = [head], [head]
    for domain in have:
        chain = os.path.join(root, domain, "fullchain.pem")
        key = os.path.join(root, domain, "privkey.pem")
        for prefix in sni.get("prefixes") or [""]:
            postfix.append(f"{prefix}{domain} {key} {chain}\n")
            dovecot.append(f"local_name {prefix}{domain} {{\n  ssl_cert = <{chain}\n"
                           f"  ssl_key = <{key}\n}}\n")
    return have, [
        {"path": sni["postfix_map"], "content": "".join(postfix), "owner": "root",
         "group": "root", "mode": "0644", "postmap": True, "validate": None, "embeds": True},
        {"path": sni["dovecot_conf"], "content": "".join(dovecot), "owner": "root",
         "group": sni.get("dovecot_group", "dovecot"), "mode": "0640", "postmap": False,
         "validate": None},
    ]


def ensure_directories(dirs: list[dict], check: bool) -> list[str]:
    changed = []
    for spec in dirs:
        want = wanted_attrs(spec)
        try:
            st = os.stat(spec["path"])
            have = (st.st_uid, st.st_gid, st.st_mode & 0o7777)
        except FileNotFoundError:
            have = None
        if have == want:
            continue
        changed.append(spec["path"])
        if check:
            continue
        if have is None:
            os.mkdir(spec["path"], want[2])
        os.chown(spec["path"], want[0], want[1])
        os.chmod(spec["path"], want[2])
    return changed


def current_state(path: str) -> tuple[str | None, tuple | None]:
    try:
        with open(path, encoding="utf-8") as f:
            content = f.read()
        st = os.stat(path)
    except FileNotFoundError:
        return None, None
    return content, (st.st_uid, st.st_gid, st.st_mode & 0o7777)


def wanted_attrs(spec: dict) -> tuple[int, int, int]:
    try:
        uid = pwd.getpwnam(spec["owner"]).pw_uid
        gid = grp.getgrnam(spec["group"]).gr_gid
    except KeyError as exc:
        raise TableError(f"{spec['path']}: unknown owner or group {exc}") from exc
    return uid, gid, int(spec["mode"], 8)


def stage_file(spec: dict, attrs: tuple[int, int, int]) -> str:
    """Write the new content to a temporary file beside the target and validate it."""
    directory = os.path.dirname(spec["path"])
    if not os.path.isdir(directory):
        raise TableError(f"{directory} does not exist (run the whole mail role first)")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".oemhost-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(spec["content"])
        os.chown(tmp, attrs[0], attrs[1])
        os.chmod(tmp, attrs[2])
        if spec.get("validate"):
            argv = [a.replace("%s", tmp) for a in spec["validate"]]
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise TableError(f"{spec['path']}: validation failed: "
                                 f"{(proc.stderr or proc.stdout).strip()[-500:]}")
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def embedded_files(content: str) -> list[str]:
    files = []
    for line in content.splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            files.extend(fields[1:])
    return files


def needs_postmap(spec: dict, written: bool) -> bool:
    if written:
        return True
    try:
        db = os.stat(spec["path"] + ".db").st_mtime_ns
    except FileNotFoundError:
        return True
    newest = os.stat(spec["path"]).st_mtime_ns
    if spec.get("embeds"):
        for path in embedded_files(spec["content"]):
            try:
                newest = max(newest, os.stat(path).st_mtime_ns)
            except FileNotFoundError:
                pass
    return newest > db


def apply(files: list[dict], secret_files: list[dict], check: bool, postmap: str) -> dict:
    plan = []
    for spec, secret in [(f, False) for f in files] + [(f, True) for f in secret_files]:
        before, attrs = current_state(spec["path"])
        want = wanted_attrs(spec)
        plan.append((spec, secret, before, before != spec["content"] or attrs != want, want))
    written, rebuilt, diff, staged = [], [], [], []
    try:
        for spec, secret, before, differs, want in plan:
            if differs:
                written.append(spec["path"])
                if not secret and before != spec["content"]:
                    diff.append({"before_header": spec["path"], "after_header": spec["path"],
                                 "before": before or "", "after": spec["content"]})
                if not check:
                    staged.append((stage_file(spec, want), spec["path"]))
    except BaseException:
        for tmp, _path in staged:
            os.unlink(tmp)
        raise
    # everything is written and valid: only now does anything go live
    for tmp, path in staged:
        os.replace(tmp, path)
    for spec, _secret, _before, differs, _want in plan:
        stale = differs if check else needs_postmap(spec, differs)
        if spec.get("postmap") and stale:
            rebuilt.append(spec["path"])
            if not check:
                argv = [postmap, *(["-F"] if spec.get("embeds") else []), f"hash:{spec['path']}"]
                try:
                    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
                except OSError as exc:
                    raise TableError(f"postmap {spec['path']}: {exc}") from exc
                if proc.returncode != 0:
                    raise TableError(f"postmap {spec['path']}: {proc.stderr.strip()[-500:]}")
    return {"written": written, "rebuilt": rebuilt, "diff": diff}


def main():
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "default": [], "options": FILE_SPEC},
            # only the content is secret: no_log on owner or path would mask every "root"
            "secret_files": {"type": "list", "elements": "dict", "default": [],
                             "options": {**FILE_SPEC, "content": {"type": "str", "required": True,
                                                                  "no_log": True}}},
            "directories": {"type": "list", "elements": "dict", "default": [],
                            "options": {"path": {"type": "path", "required": True},
                                        "owner": {"type": "str", "default": "root"},
                                        "group": {"type": "str", "default": "root"},
                                        "mode": {"type": "str", "default": "0755"}}},
            "users": {"type": "list", "elements": "str", "default": []},
            "sni": {"type": "dict"},
            "header": {"type": "str", "default": "Managed by Ansible"},
            "postmap": {"type": "path", "default": "/usr/sbin/postmap"},
        },
        supports_check_mode=True,
    )
    p = module.params
    missing = missing_users(p["users"])
    if missing:
        module.fail_json(msg="; ".join(
            f"{u}: id: no system user on the node (role hosting_accounts creates it)"
            for u in missing))
    files = list(p["files"])
    sni_domains = []
    if p["sni"]:
        sni_domains, extra = sni_files(p["sni"], p["header"])
        files += extra
    try:
        dirs = ensure_directories(p["directories"], module.check_mode)
        result = apply(files, p["secret_files"], module.check_mode, p["postmap"])
    except (TableError, OSError) as exc:
        module.fail_json(msg=str(exc))
    out = {"changed": bool(dirs or result["written"] or result["rebuilt"]),
           "directories": dirs, "written": result["written"],
           "rebuilt": result["rebuilt"], "sni_domains": sni_domains}
    if module._diff:
        out["diff"] = result["diff"]
    module.exit_json(**out)


if __name__ == "__main__":
    main()
