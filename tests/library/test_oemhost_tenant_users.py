from __future__ import annotations

from modload import load as load_module

users = load_module("oemhost_tenant_users")
PARAMS = {"base": "/srv/hosting", "tenants_group": "oemhost-tenants", "ssh_group": "oemhost-ssh",
          "ssh_shell": "/bin/bash", "nologin_shell": "/usr/sbin/nologin"}
HASH = "$6$salt$" + "a" * 86


def current(**kw):
    base = {"uid": 10000, "gid": 10000, "home": "/srv/hosting/shop1",
            "shell": "/usr/sbin/nologin", "groups": {"oemhost-tenants"}, "password": HASH}
    base.update(kw)
    return base


def test_new_user_with_ssh():
    plan = users.plan_user({"name": "shop1", "password_hash": HASH, "ssh": True}, None, PARAMS)
    assert plan["action"] == "create" and plan["shell"] == "/bin/bash"
    assert plan["add"] == ["oemhost-ssh", "oemhost-tenants"] and plan["password"] == HASH


def test_unchanged_user_needs_nothing():
    plan = users.plan_user({"name": "shop1", "password_hash": HASH}, current(), PARAMS)
    assert plan["action"] == "none"


def test_suspension_locks_and_takes_ssh_away():
    cur = current(groups={"oemhost-tenants", "oemhost-ssh", "other"})
    cur["shell"] = "/bin/bash"
    plan = users.plan_user({"name": "shop1", "password_hash": HASH, "locked": True, "ssh": False},
                           cur, PARAMS)
    assert plan["password"] == "!" + HASH and plan["shell"] == "/usr/sbin/nologin"
    assert plan["drop"] == ["oemhost-ssh"]  # groups the module does not manage stay
    assert "lock password" in plan["changes"]
    assert not any(HASH in c for c in plan["changes"])  # the diff never shows a hash


def test_user_without_password_is_locked():
    assert users.wanted_password({"password_hash": None}) == "!"


def test_foreign_user_is_refused():
    plan = users.plan_user({"name": "shop1"}, current(home="/home/shop1"), PARAMS)
    assert plan["action"] == "foreign"


def test_absent():
    assert users.plan_user({"name": "x", "state": "absent"}, None, PARAMS)["action"] == "none"
    plan = users.plan_user({"name": "x", "state": "absent"}, current(), PARAMS)
    assert plan["action"] == "remove"
