#!/usr/bin/python
# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Batched system accounts of hosting tenants (one task for every tenant of a node)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_tenant_users
short_description: Keep the system users and groups of all hosting tenants of a node
description:
  - Takes the whole list of a node's tenants and acts only on what differs from the node
    (C(useradd), C(usermod), C(gpasswd), C(chpasswd -e), C(userdel)); one task instead of a
    task per tenant.
  - Each tenant gets a user and a group of the same name, a uid/gid from the tenant range,
    a home C(<base>/<name>) owned by root and the tenant's group (mode 0751, so a
    ChrootDirectory is possible), membership in O(tenants_group) and, when SSH is allowed,
    in O(ssh_group) with a login shell (otherwise C(nologin)).
  - A locked account keeps its hash behind a C(!) (like C(usermod -L)); password hashes go
    to C(chpasswd -e) on standard input, never on a command line, and never in the output.
  - Refuses to touch an existing user that is not an oemhost tenant (home elsewhere).
version_added: "0.1.0"
author: oemhost contributors
options:
  users:
    description: The tenants' accounts.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Tenant id = user and group name.
        type: str
        required: true
      password_hash:
        description: SHA512-crypt hash, or none for an account without password.
        type: str
      locked:
        description: Lock the password (suspended or removed tenant).
        type: bool
        default: false
      ssh:
        description: Login shell and membership in O(ssh_group).
        type: bool
        default: false
      state:
        description: V(absent) deletes the user and its group (and the home with O(remove_home)).
        type: str
        choices: [present, absent]
        default: present
  base:
    description:
      - Directory holding the tenants' homes. Kept as a directory owned by root, mode 0755
        (created if missing, also when O(users) is empty: a node without tenants yet).
    type: path
    default: /srv/hosting
  tenants_group:
    description: Group every tenant belongs to.
    type: str
    default: oemhost-tenants
  ssh_group:
    description: Group of the tenants allowed to log in with SSH.
    type: str
    default: oemhost-ssh
  ssh_shell:
    description: Shell of a tenant with SSH.
    type: path
    default: /bin/bash
  nologin_shell:
    description: Shell of a tenant without SSH.
    type: path
    default: /usr/sbin/nologin
  uid_min:
    description: First uid/gid of the tenant range.
    type: int
    default: 10000
  uid_max:
    description: Last uid/gid of the tenant range.
    type: int
    default: 59999
  remove_home:
    description: With O(users[].state=absent), also delete the home directory tree.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Keep the tenants' accounts
  oemhost_tenant_users:
    users:
      - {name: shop1, password_hash: "$6$...", ssh: true}
      - {name: shop2, password_hash: "$6$...", locked: true}
  no_log: true
"""

RETURN = r"""
accounts:
  description: Every tenant user on the node after the run (name -> uid, gid).
  type: dict
  returned: always
  sample: {shop1: {uid: 10000, gid: 10000}}
created:
  description: Users created.
  type: list
  returned: always
updated:
  description: Users changed (shell, groups, password, home).
  type: list
  returned: always
removed:
  description: Users deleted.
  type: list
  returned: always
"""

import grp  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import shutil  # noqa: E402
import stat  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def read_shadow(path: str = "/etc/shadow") -> dict[str, str]:
    """name -> password field (the module runs as root)."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split(":")
            if len(parts) > 1:
                out[parts[0]] = parts[1]
    return out


def wanted_password(entry: dict) -> str:
    hashed = entry.get("password_hash") or ""
    if entry.get("locked"):
        return "!" + hashed
    return hashed or "!"


def plan_user(entry: dict, current: dict | None, params: dict) -> dict:
    """What to do for one user: {'action': create|update|remove|none, 'changes': [...]}.

    ``current`` is {uid, gid, home, shell, groups (set), password} or None.
    """
    name = entry["name"]
    home = os.path.join(params["base"], name)
    if entry.get("state", "present") == "absent":
        if current is None:
            return {"action": "none", "changes": []}
        return {"action": "remove", "changes": ["delete user and group"]}
    shell = params["ssh_shell"] if entry.get("ssh") else params["nologin_shell"]
    groups = {params["tenants_group"]} | ({params["ssh_group"]} if entry.get("ssh") else set())
    password = wanted_password(entry)
    if current is None:
        return {"action": "create", "changes": [f"create (shell {shell}, groups "
                                                f"{','.join(sorted(groups))})"],
                "shell": shell, "add": sorted(groups), "drop": [], "password": password,
                "home": home}
    if current["home"] != home:
        return {"action": "foreign", "changes": [f"user exists with home {current['home']}, "
                                                 "not an oemhost tenant"]}
    changes = []
    plan = {"action": "update", "shell": None, "add": [], "drop": [], "password": None,
            "home": home}
    if current["shell"] != shell:
        plan["shell"] = shell
        changes.append(f"shell {current['shell']} -> {shell}")
    managed = {params["tenants_group"], params["ssh_group"]}
    plan["add"] = sorted(groups - current["groups"])
    plan["drop"] = sorted((current["groups"] & managed) - groups)
    changes += [f"join {g}" for g in plan["add"]] + [f"leave {g}" for g in plan["drop"]]
    if current["password"] != password:
        plan["password"] = password
        was_locked = current["password"].startswith("!")
        now_locked = password.startswith("!")
        if was_locked != now_locked:
            changes.append("lock password" if now_locked else "unlock password")
        else:
            changes.append("set password")
    plan["changes"] = changes
    if not changes:
        plan["action"] = "none"
    return plan


def home_state(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return (-1, -1, -1)
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))


class Runner:
    def __init__(self, module: AnsibleModule):
        self.module = module

    def run(self, argv: list[str], data: str | None = None) -> None:
        rc, out, err = self.module.run_command(argv, data=data, binary_data=False)
        if rc != 0:
            what = argv[-1] if data is None else "stdin"
            self.module.fail_json(msg=f"{argv[0]} failed for {what}: "
                                      f"{err.strip() or out.strip()}", rc=rc)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            users=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                password_hash=dict(type="str", no_log=True),
                locked=dict(type="bool", default=False),
                ssh=dict(type="bool", default=False),
                state=dict(type="str", default="present", choices=["present", "absent"]),
            )),
            base=dict(type="path", default="/srv/hosting"),
            tenants_group=dict(type="str", default="oemhost-tenants"),
            ssh_group=dict(type="str", default="oemhost-ssh"),
            ssh_shell=dict(type="path", default="/bin/bash"),
            nologin_shell=dict(type="path", default="/usr/sbin/nologin"),
            uid_min=dict(type="int", default=10000),
            uid_max=dict(type="int", default=59999),
            remove_home=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    runner = Runner(module)
    check = module.check_mode

    groups_by_name = {g.gr_name: g for g in grp.getgrall()}
    membership: dict[str, set[str]] = {}
    for g in groups_by_name.values():
        for member in g.gr_mem:
            membership.setdefault(member, set()).add(g.gr_name)
    shadow = read_shadow()
    users_by_name = {u.pw_name: u for u in pwd.getpwall()}

    def current_of(name: str) -> dict | None:
        u = users_by_name.get(name)
        if u is None:
            return None
        return {"uid": u.pw_uid, "gid": u.pw_gid, "home": u.pw_dir, "shell": u.pw_shell,
                "groups": membership.get(name, set()), "password": shadow.get(name, "")}

    changed = False
    created, updated, removed, before, after = [], [], [], [], []
    passwords: list[str] = []

    for group in (p["tenants_group"], p["ssh_group"]):
        if group not in groups_by_name:
            changed = True
            before.append(f"group {group}: absent\n")
            after.append(f"group {group}: present\n")
            if not check:
                runner.run(["groupadd", "--system", group])

    base_st = os.lstat(p["base"]) if os.path.lexists(p["base"]) else None
    if base_st is not None and not stat.S_ISDIR(base_st.st_mode):
        module.fail_json(msg=f"{p['base']} exists and is not a directory")
    if base_st is None or (base_st.st_uid, base_st.st_gid,
                           stat.S_IMODE(base_st.st_mode)) != (0, 0, 0o755):
        changed = True
        before.append(f"{p['base']}: {'absent' if base_st is None else 'other owner or mode'}\n")
        after.append(f"{p['base']}: directory root:root 0755\n")
        if not check:
            os.makedirs(p["base"], mode=0o755, exist_ok=True)
            os.chown(p["base"], 0, 0)
            os.chmod(p["base"], 0o755)  # noqa: S103 (the homes base is listable)

    range_opts = [f"UID_MIN={p['uid_min']}", f"UID_MAX={p['uid_max']}",
                  f"GID_MIN={p['uid_min']}", f"GID_MAX={p['uid_max']}"]
    seen = set()
    for entry in p["users"]:
        name = entry["name"]
        if name in seen:
            module.fail_json(msg=f"{name}: listed twice")
        seen.add(name)
        current = current_of(name)
        plan = plan_user(entry, current, p)
        if plan["action"] == "foreign":
            module.fail_json(msg=f"{name}: {plan['changes'][0]}; refusing to change it")
        home = os.path.join(p["base"], name)
        if plan["action"] == "remove":
            removed.append(name)
            changed = True
            before.append(f"{name}: present\n")
            after.append(f"{name}: absent\n")
            if not check:
                runner.run(["userdel", name])
                if name in groups_by_name:
                    rc, _o, _e = module.run_command(["groupdel", name])
                if p["remove_home"] and os.path.lexists(home):
                    shutil.rmtree(home)
            continue
        if plan["action"] == "none" and entry.get("state", "present") == "absent":
            continue
        if plan["action"] != "none":
            changed = True
            (created if plan["action"] == "create" else updated).append(name)
            before.append(f"{name}: {'absent' if current is None else 'present'}\n")
            after.append(f"{name}: {'; '.join(plan['changes'])}\n")
        if not check:
            if plan["action"] == "create":
                argv = ["useradd", "--no-create-home", "--home-dir", home,
                        "--shell", plan["shell"], "--user-group",
                        "--comment", "oemhost tenant", "--groups", ",".join(plan["add"])]
                for opt in range_opts:
                    argv += ["-K", opt]
                runner.run(argv + [name])
            elif plan["action"] == "update":
                if plan["shell"]:
                    runner.run(["usermod", "--shell", plan["shell"], name])
                for g in plan["add"]:
                    runner.run(["gpasswd", "--add", name, g])
                for g in plan["drop"]:
                    runner.run(["gpasswd", "--delete", name, g])
            if plan.get("password") is not None:
                passwords.append(f"{name}:{plan['password']}")
        # the home: root:<tenant> 0751 (a ChrootDirectory must be root-owned)
        if check and current is None:
            continue
        gid = current["gid"] if current else pwd.getpwnam(name).pw_gid
        state = home_state(home)
        if state == (-1, -1, -1):
            module.fail_json(msg=f"{name}: {home} exists and is not a directory")
        if state != (0, gid, 0o751):
            if name not in created and name not in updated:
                changed = True
                updated.append(name)
                before.append(f"{name}: home {home} {state}\n")
                after.append(f"{name}: home {home} root:{name} 0751\n")
            if not check:
                if state is None:
                    os.makedirs(home, mode=0o751, exist_ok=True)
                os.chown(home, 0, gid, follow_symlinks=False)
                os.chmod(home, 0o751)  # noqa: S103 (others may only pass through)
    if passwords and not check:
        runner.run(["chpasswd", "--encrypted"], data="\n".join(passwords))

    accounts = {}
    tenant_members = set(grp.getgrnam(p["tenants_group"]).gr_mem) if not check or \
        p["tenants_group"] in groups_by_name else set()
    for u in pwd.getpwall():
        if u.pw_name in tenant_members and u.pw_dir == os.path.join(p["base"], u.pw_name):
            accounts[u.pw_name] = {"uid": u.pw_uid, "gid": u.pw_gid}

    module.exit_json(changed=changed, accounts=accounts, created=created, updated=updated,
                     removed=removed,
                     diff={"before": "".join(before), "after": "".join(after),
                           "before_header": "tenant users", "after_header": "tenant users"})


if __name__ == "__main__":
    main()
