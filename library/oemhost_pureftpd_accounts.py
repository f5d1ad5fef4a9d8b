#!/usr/bin/python
# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Pure-FTPd's virtual users of a node, in one call: passwd file, PureDB, TLS list."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_pureftpd_accounts
short_description: Keep every FTP login of a node (Pure-FTPd PureDB) in one module call
description:
  - Writes Pure-FTPd's passwd file from the whole list of FTP logins, rebuilds the PureDB
    with C(pure-pw mkdb) when the file changed (or the database is missing), and writes
    the list of logins that must use TLS.
  - Each login runs as the system user named in O(accounts[].user) (the tenant); its uid
    and gid are read on the node, so no C(getent) round trip is needed. A login whose
    user does not exist yet (check mode before the tenant's first converge) is left out
    and named in RV(skipped_logins).
  - Hashes never reach the diff or the results; C(--diff) shows the logins, their
    directories and TLS requirement.
  - If C(pure-pw mkdb) fails, the passwd file is put back as it was.
  - With O(only_users) (a tenant-scoped run), O(accounts) holds just those users' logins:
    the lines of the file that run as one of them are replaced, every other line (and its
    TLS requirement) is kept as it is, so a panel change does not ship every login of
    the node.
version_added: "0.1.0"
author: oemhost contributors
options:
  accounts:
    description: Every FTP login of the node.
    type: list
    elements: dict
    required: true
    suboptions:
      login:
        description: Login name.
        type: str
        required: true
      password_hash:
        description: SHA512-crypt hash.
        type: str
        required: true
        no_log: true
      user:
        description: System user the login runs as (uid and gid).
        type: str
        required: true
      dir:
        description: Absolute directory the login is jailed to.
        type: path
        required: true
      tls_required:
        description: The login is refused without TLS.
        type: bool
        default: true
  passwd_file:
    description: Pure-FTPd's passwd file (mode 0600).
    type: path
    default: /etc/pure-ftpd/pureftpd.passwd
  pdb_file:
    description: The PureDB the server reads.
    type: path
    default: /etc/pure-ftpd/pureftpd.pdb
  only_users:
    description: Restrict the run to the logins running as these system users (see above).
    type: list
    elements: str
  tls_list:
    description: File listing the logins that must use TLS (mode 0644).
    type: path
    default: /etc/pure-ftpd/oemhost-tls-required
  tls_list_header:
    description: Comment lines written at the top of O(tls_list).
    type: str
    default: ""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Keep the node's FTP logins
  oemhost_pureftpd_accounts:
    accounts:
      - {login: shop1, password_hash: "$6$...", user: shop1, dir: /srv/hosting/shop1/web}
"""

RETURN = r"""
logins:
  description: Logins written.
  type: int
  returned: always
skipped_logins:
  description: Logins left out because their system user does not exist.
  type: list
  elements: str
  returned: always
rebuilt:
  description: Whether the PureDB was rebuilt.
  type: bool
  returned: always
"""

import os
import pwd
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

LOGIN_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
HASH_RE = re.compile(r"^\$6\$[^:\s]+$")
DIR_RE = re.compile(r"^/[A-Za-z0-9._/-]+$")


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def write_atomic(path: str, content: str, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".oemhost-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def entries(accounts: list[dict]) -> tuple[dict[str, tuple[str, bool]], list[str]]:
    """-> ({login: (passwd line, TLS required)}, skipped logins)."""
    out, skipped = {}, []
    for a in sorted(accounts, key=lambda a: a["login"]):
        for field in ("login", "dir"):
            if "\n" in a[field] or ":" in a[field]:
                raise ValueError(f"{a['login']!r}: {field} holds a newline or a colon")
        if not LOGIN_RE.match(a["login"]):
            raise ValueError(f"{a['login']!r} is not a valid FTP login")
        if not HASH_RE.match(a["password_hash"]):
            raise ValueError(f"{a['login']}: password_hash is not a SHA512-crypt hash")
        if not DIR_RE.match(a["dir"]) or "/../" in a["dir"] + "/":
            raise ValueError(f"{a['login']}: dir {a['dir']!r} is not a plain absolute path")
        try:
            pw = pwd.getpwnam(a["user"])
        except KeyError:
            skipped.append(a["login"])
            continue
        # login:hash:uid:gid:gecos:home (/./ = chroot):12 empty limit fields
        out[a["login"]] = (f"{a['login']}:{a['password_hash']}:{pw.pw_uid}:{pw.pw_gid}::"
                           f"{a['dir']}/./::::::::::::\n", bool(a["tls_required"]))
    return out, skipped


def kept_entries(old_passwd: str | None, old_tls: str | None,
                 users: list[str]) -> dict[str, tuple[str, bool]]:
    """The logins of the current files that run as none of ``users`` (a scoped run keeps
    them as they are, with their TLS requirement). Lines whose uid has no system user any
    more (a tenant deleted outside a converge) are dropped, not kept."""
    known = {str(pw.pw_uid): pw.pw_name for pw in pwd.getpwall()}
    scoped = set(users)
    tls = {line.strip() for line in (old_tls or "").splitlines()
           if line.strip() and not line.startswith("#")}
    out = {}
    for line in (old_passwd or "").splitlines(keepends=True):
        fields = line.split(":")
        if len(fields) < 4 or known.get(fields[2]) in scoped or fields[2] not in known:
            continue
        out[fields[0]] = (line if line.endswith("\n") else line + "\n", fields[0] in tls)
    return out


def render(accounts: list[dict], header: str, keep: dict[str, tuple[str, bool]] | None = None
           ) -> tuple[str, str, list[str]]:
    """-> (passwd file, TLS list, skipped logins); ``keep``: lines of other users kept."""
    wanted, skipped = entries(accounts)
    merged = {**(keep or {}), **wanted}
    logins = sorted(merged)
    head = "".join(f"# {h}\n" for h in header.splitlines()) if header else ""
    return ("".join(merged[lg][0] for lg in logins),
            head + "".join(f"{lg}\n" for lg in logins if merged[lg][1]), skipped)


def mask(text: str | None) -> str:
    """A passwd file as the diff shows it: every hash replaced."""
    return "".join(re.sub(r"^([^:]*):[^:]*:", r"\1:(hash):", line)
                   for line in (text or "").splitlines(keepends=True))


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            accounts=dict(type="list", elements="dict", required=True, options=dict(
                login=dict(type="str", required=True),
                password_hash=dict(type="str", required=True, no_log=True),
                user=dict(type="str", required=True),
                dir=dict(type="path", required=True),
                tls_required=dict(type="bool", default=True),
            )),
            passwd_file=dict(type="path", default="/etc/pure-ftpd/pureftpd.passwd",
                             no_log=False),
            pdb_file=dict(type="path", default="/etc/pure-ftpd/pureftpd.pdb"),
            tls_list=dict(type="path", default="/etc/pure-ftpd/oemhost-tls-required"),
            tls_list_header=dict(type="str", default=""),
            only_users=dict(type="list", elements="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    old_passwd, old_tls = read_text(p["passwd_file"]), read_text(p["tls_list"])
    keep = None
    if p["only_users"] is not None:
        keep = kept_entries(old_passwd, old_tls, p["only_users"])
        foreign = sorted(a["login"] for a in p["accounts"] if a["user"] not in p["only_users"])
        if foreign:
            module.fail_json(msg="FTP accounts: logins of users outside only_users: "
                                 + ", ".join(foreign))
    try:
        passwd, tls, skipped = render(p["accounts"], p["tls_list_header"], keep)
    except ValueError as exc:
        module.fail_json(msg=f"FTP accounts: {exc}")

    def needs(path: str, old: str | None, new: str, mode: int) -> bool:
        if old != new:
            return True
        st = os.stat(path)
        return (st.st_mode & 0o7777, st.st_uid) != (mode, 0)

    write_passwd = needs(p["passwd_file"], old_passwd, passwd, 0o600)
    rebuild = old_passwd != passwd or not os.path.exists(p["pdb_file"])
    write_tls = needs(p["tls_list"], old_tls, tls, 0o644)
    changed = write_passwd or rebuild or write_tls
    diff = []
    if module._diff:
        if old_passwd != passwd:
            diff.append({"before_header": p["passwd_file"], "after_header": p["passwd_file"],
                         "before": mask(old_passwd), "after": mask(passwd)})
        if old_tls != tls:
            diff.append({"before_header": p["tls_list"], "after_header": p["tls_list"],
                         "before": old_tls or "", "after": tls})
    if changed and not module.check_mode:
        if write_passwd:
            write_atomic(p["passwd_file"], passwd, 0o600)
        if rebuild:
            rc, out, err = module.run_command(["pure-pw", "mkdb", p["pdb_file"], "-f",
                                               p["passwd_file"]])
            if rc != 0:
                if old_passwd is not None:
                    write_atomic(p["passwd_file"], old_passwd, 0o600)
                module.fail_json(msg="pure-pw mkdb failed, the passwd file is as it was: "
                                     + (err or out).strip()[-1000:])
        if write_tls:
            write_atomic(p["tls_list"], tls, 0o644)
    module.exit_json(changed=changed, logins=passwd.count("\n"), skipped_logins=skipped,
                     rebuilt=rebuild and not module.check_mode, diff=diff)


if __name__ == "__main__":
    main()
