"""The batched database module: input checks, the plan it makes, MariaDB helpers."""

from __future__ import annotations

import pytest
from modload import load

m = load("oemhost_databases")

MARIA_HASH = "*" + "A1" * 20
SCRAM = ("SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 43 + "=:" + "B" * 43 + "=")
LIMITS = {"max_databases": {"mariadb": 2, "postgresql": 1}}


def tenant(tid="shop1", dbs=(), status="active", limits=LIMITS, plan="basic"):
    return {"id": tid, "status": status, "plan": plan, "limits": limits,
            "databases": list(dbs)}


def mdb(name, user=None, engine="mariadb", password_hash=None):
    ph = password_hash or (MARIA_HASH if engine == "mariadb" else SCRAM)
    return {"engine": engine, "name": name, "user": user or name, "password_hash": ph}


def kinds(actions):
    return [(a.kind, a.target) for a in actions]


# --- input checks ------------------------------------------------------------------------

def test_wanted_databases_of_one_engine():
    wanted = m.wanted_databases("mariadb", [
        tenant(dbs=[mdb("shop1_wp"), mdb("shop1_app", engine="postgresql")]),
        tenant("shop3", dbs=[mdb("shop3_db")], status="suspended")])
    assert sorted(wanted) == ["shop1_wp", "shop3_db"]
    assert wanted["shop1_wp"].locked is False
    assert wanted["shop3_db"].locked is True
    assert wanted["shop3_db"].tenant == "shop3"


@pytest.mark.parametrize(("t", "message"), [
    (tenant(dbs=[mdb("shop1_a"), mdb("shop1_b"), mdb("shop1_c")]),
     "tenant shop1: databases: 3 mariadb databases, plan basic allows 2"),
    (tenant(dbs=[mdb("shop2_wp")]),
     "tenant shop1: databases[0].name: must be shop1_<a-z0-9, up to 16>"),
    (tenant(dbs=[mdb("shop1_wp", user="root")]), "tenant shop1: databases[0].user: must be shop1_"),
    (tenant(dbs=[mdb("shop1_wp`; DROP")]), "tenant shop1: databases[0].name"),
    (tenant(dbs=[mdb("shop1_wp\n")]), "tenant shop1: databases[0].name"),
    (tenant(dbs=[mdb("shop1_wp", password_hash=MARIA_HASH + "\n")]), "password_hash"),
    (tenant(dbs=[mdb("shop1_wp", password_hash="plain")]),
     "tenant shop1: databases[0].password_hash: must be a MariaDB *<40 hex> hash"),
    (tenant(dbs=[mdb("shop1_wp", password_hash=SCRAM)]), "must be a MariaDB *<40 hex> hash"),
    (tenant(dbs=[mdb("shop1_wp"), mdb("shop1_wp", user="shop1_x")]), "shop1_wp is listed twice"),
    (tenant(dbs=[mdb("shop1_a", user="shop1_u"), mdb("shop1_b", user="shop1_u")]),
     "databases[1].user: shop1_u is already used by shop1_a"),
    (tenant(limits=None), "tenant shop1: limits.max_databases.mariadb: missing"),
    (tenant(limits={"max_databases": {"mariadb": "2"}}), "limits.max_databases.mariadb"),
    (tenant("Shop1"), "tenant 'Shop1': id: must match"),
])
def test_bad_input_is_refused_with_tenant_and_field(t, message):
    with pytest.raises(m.InputError) as exc:
        m.wanted_databases("mariadb", [t])
    assert message in str(exc.value)
    assert MARIA_HASH not in str(exc.value)


def test_plan_maximum_counts_only_the_engine():
    t = tenant(dbs=[mdb("shop1_a"), mdb("shop1_b"), mdb("shop1_pg", engine="postgresql")])
    assert len(m.wanted_databases("mariadb", [t])) == 2
    t["databases"].append(mdb("shop1_pg2", engine="postgresql"))
    with pytest.raises(m.InputError, match="2 postgresql databases, plan basic allows 1"):
        m.wanted_databases("postgresql", [t])


def test_same_tenant_twice_is_refused():
    with pytest.raises(m.InputError, match="tenant shop1: listed twice"):
        m.wanted_databases("mariadb", [tenant(), tenant()])


def test_mask_hides_hashes():
    text = f"near 'IDENTIFIED BY PASSWORD '{MARIA_HASH}'' and '{SCRAM}'"
    masked = m.mask(text)
    assert MARIA_HASH not in masked and "SCRAM-SHA-256$" not in masked
    assert masked.count("<hash>") == 2


# --- planning ------------------------------------------------------------------------------

def plan(engine, tenants, current, removed=None, scope=None, **kw):
    wanted = m.wanted_databases(engine, tenants)
    return m.plan(engine, wanted, {t["id"] for t in tenants}, removed or {}, scope, current,
                  **kw)


def state_after_create(engine, tenants, **kw):
    """The server's state once a plan for an empty server has been applied."""
    st = m.State()
    for w in m.wanted_databases(engine, tenants).values():
        st.users[w.user] = m.UserState(w.password_hash, locked=w.locked,
                                       connection_limit=kw.get("connection_limit", 0),
                                       require_tls=kw.get("require_tls", False))
        st.databases[w.name] = m.DbState(w.tenant, owner=w.user if engine == "postgresql" else None)
        if engine == "mariadb":
            st.grants.setdefault(w.user, {})[m.mariadb_escape_db(w.name)] = True
    return st


def test_fresh_mariadb_server_gets_users_databases_grants():
    t = [tenant(dbs=[mdb("shop1_wp")])]
    actions = plan("mariadb", t, m.State())
    assert kinds(actions) == [("create_user", "shop1_wp"), ("create_db", "shop1_wp"),
                              ("grant", "shop1_wp")]
    assert all(MARIA_HASH not in a.describe() for a in actions)


@pytest.mark.parametrize("engine", ["mariadb", "postgresql"])
def test_matching_server_needs_nothing(engine):
    t = [tenant(dbs=[mdb("shop1_wp", engine=engine)]),
         tenant("shop3", dbs=[mdb("shop3_db", engine=engine)], status="suspended")]
    current = state_after_create(engine, t, connection_limit=30)
    assert plan(engine, t, current, connection_limit=30) == []


def test_changes_to_a_user_are_one_alter():
    t = [tenant(dbs=[mdb("shop1_wp")])]
    current = state_after_create("mariadb", t)
    t[0]["status"] = "suspended"
    t[0]["databases"][0]["password_hash"] = "*" + "B2" * 20
    actions = plan("mariadb", t, current, connection_limit=10, require_tls=True)
    assert kinds(actions) == [("alter_user", "shop1_wp")]
    assert actions[0].args[0] == ("password", "lock", "connection limit 10", "require TLS")


def test_delisted_database_is_dropped_then_its_user():
    t = [tenant(dbs=[mdb("shop1_wp"), mdb("shop1_old")])]
    current = state_after_create("mariadb", t)
    t[0]["databases"].pop()
    assert kinds(plan("mariadb", t, current)) == [("drop_db", "shop1_old"),
                                                  ("drop_user", "shop1_old")]
    assert kinds(plan("mariadb", t, current, archive=True))[0] == ("archive_db", "shop1_old")


def test_tenant_without_databases_left_loses_them():
    t = [tenant(dbs=[mdb("shop1_wp")])]
    current = state_after_create("mariadb", t)
    t[0]["databases"] = []
    assert ("drop_db", "shop1_wp") in kinds(plan("mariadb", t, current))


def test_removed_tenant_is_dropped_and_archived_by_its_flag():
    t = [tenant(dbs=[mdb("shop1_wp")]), tenant("shop2", dbs=[mdb("shop2_blog")])]
    current = state_after_create("mariadb", t)
    keep = t[:1]
    actions = plan("mariadb", keep, current, removed={"shop2": None})
    assert kinds(actions) == [("drop_db", "shop2_blog"), ("drop_user", "shop2_blog")]
    actions = plan("mariadb", keep, current, removed={"shop2": True})
    assert kinds(actions)[0] == ("archive_db", "shop2_blog")
    # a tenant's own "archive: false" wins over the role's default
    actions = plan("mariadb", keep, current, removed={"shop2": False}, archive=True)
    assert ("archive_db", "shop2_blog") not in kinds(actions)


def test_listed_and_removed_at_once_is_refused():
    t = [tenant(dbs=[mdb("shop1_wp")])]
    with pytest.raises(m.InputError, match="listed both as placed and as removed"):
        plan("mariadb", t, m.State(), removed={"shop1": None})


def test_scope_leaves_other_tenants_alone():
    t = [tenant(dbs=[mdb("shop1_wp")]), tenant("shop2", dbs=[mdb("shop2_blog")])]
    current = state_after_create("mariadb", t)
    t[1]["databases"][0]["password_hash"] = "*" + "C3" * 20   # shop2 changed...
    t[0]["databases"].append(mdb("shop1_new"))               # ...and shop1
    actions = plan("mariadb", t, current, scope={"shop1"}, removed={"gone1": None})
    assert kinds(actions) == [("create_user", "shop1_new"), ("create_db", "shop1_new"),
                              ("grant", "shop1_new")]


def test_unknown_and_foreign_objects_are_never_dropped():
    current = m.State()
    current.databases["shop1_manual"] = m.DbState(None)         # no oemhost comment
    current.databases["shop1_stolen"] = m.DbState("shop2")      # another tenant's marker
    current.databases["wordpress"] = m.DbState(None)            # no tenant prefix
    current.databases["gone1_wp"] = m.DbState("gone1")          # tenant unknown: orphan
    current.users["wordpress"] = m.UserState(MARIA_HASH)
    assert plan("mariadb", [tenant()], current) == []
    assert m.orphans(current, {"shop1"}) == ["gone1_wp"]


def test_wanted_database_without_marker_is_adopted():
    t = [tenant(dbs=[mdb("shop1_wp")])]
    current = state_after_create("mariadb", t)
    current.databases["shop1_wp"].tenant = None
    assert kinds(plan("mariadb", t, current)) == [("mark_db", "shop1_wp")]


def test_mariadb_extra_grants_are_revoked_and_global_privileges_reset():
    t = [tenant(dbs=[mdb("shop1_wp")])]
    current = state_after_create("mariadb", t)
    current.grants["shop1_wp"]["shop1\\_other"] = True
    assert kinds(plan("mariadb", t, current)) == [("revoke", "shop1\\_other")]
    # an unescaped grant is a wildcard (shop1_wp also matches shop1Xwp): revoked as written
    current = state_after_create("mariadb", t)
    current.grants["shop1_wp"]["shop1_wp"] = True
    assert kinds(plan("mariadb", t, current)) == [("revoke", "shop1_wp")]
    current = state_after_create("mariadb", t)
    current.grants["shop1_wp"]["shop1\\_wp"] = False       # incomplete privileges
    assert ("grant", "shop1_wp") in kinds(plan("mariadb", t, current))
    current.users["shop1_wp"].elevated = True
    # REVOKE ALL ... FROM the user wipes every grant: grant its own again, revoke nothing
    assert kinds(plan("mariadb", t, current)) == [("revoke_global", "shop1_wp"),
                                                  ("grant", "shop1_wp")]


def test_postgresql_owner_and_public_access():
    t = [tenant(dbs=[mdb("shop1_app", engine="postgresql")])]
    assert kinds(plan("postgresql", t, m.State())) == [("create_user", "shop1_app"),
                                                       ("create_db", "shop1_app")]
    current = state_after_create("postgresql", t)
    current.databases["shop1_app"].public_access = True
    assert kinds(plan("postgresql", t, current)) == [("secure_db", "shop1_app")]
    current = state_after_create("postgresql", t)
    t[0]["databases"][0]["user"] = "shop1_new"
    actions = plan("postgresql", t, current)
    assert kinds(actions) == [("create_user", "shop1_new"), ("set_owner", "shop1_app"),
                              ("drop_user", "shop1_app")]
    assert actions[1].args == ("shop1_app", "shop1_new")


# --- MariaDB helpers -----------------------------------------------------------------------

def test_grant_pattern_matches_only_the_database_itself():
    assert m.mariadb_escape_db("shop1_wp") == "shop1\\_wp"
    assert m.mariadb_escape_db("a%b\\c") == "a\\%b\\\\c"


def test_grant_completeness_from_mysql_db_row():
    row = {"Host": "%", "Db": "shop1\\_wp", "User": "shop1_wp", "Select_priv": "Y",
           "Insert_priv": "Y", "Grant_priv": "N"}
    assert m.mariadb_grant_complete(row)
    assert not m.mariadb_grant_complete(dict(row, Insert_priv="N"))
    assert not m.mariadb_grant_complete(dict(row, Grant_priv="Y"))


@pytest.mark.parametrize(("locked", "ssl", "expected"), [
    (1, 0, (True, False)), (0, 1, (False, True)), ("true", None, (True, False)),
    (None, None, (False, False)),
])
def test_user_state_from_global_priv(locked, ssl, expected):
    st = m.mariadb_user_state({"a_plugin": "mysql_native_password", "a_auth": MARIA_HASH,
                               "a_locked": locked, "a_ssl": ssl, "a_maxconn": "30",
                               "a_access": "0"})
    assert (st.locked, st.require_tls) == expected
    assert st.password_hash == MARIA_HASH and st.connection_limit == 30 and not st.elevated
    other = m.mariadb_user_state({"a_plugin": "unix_socket", "a_auth": "", "a_locked": None,
                                  "a_ssl": None, "a_maxconn": None, "a_access": "1"})
    assert other.password_hash is None and other.elevated


# --- the module as Ansible runs it ------------------------------------------------------------

def test_validate_only_reports_the_plan_violation_without_the_hash(run_module_raw):
    t = tenant("shop2", dbs=[mdb("shop2_a"), mdb("shop2_b")],
               limits={"max_databases": {"mariadb": 1, "postgresql": 0}}, plan="nodns")
    result, raw = run_module_raw("oemhost_databases", {"engine": "mariadb", "tenants": [t],
                                                  "validate_only": True})
    assert result["failed"] is True
    assert result["msg"] == "tenant shop2: databases: 2 mariadb databases, plan nodns allows 1"
    assert MARIA_HASH not in raw


def test_validate_only_accepts_good_input_without_a_server(run_module_raw):
    result, raw = run_module_raw("oemhost_databases", {
        "engine": "postgresql", "tenants": [tenant(dbs=[mdb("shop1_app", engine="postgresql")])],
        "validate_only": True})
    assert result.get("failed") is not True and result["changed"] is False
    assert SCRAM not in raw


def test_unknown_engine_in_a_record_is_refused(run_module_raw):
    t = tenant(dbs=[dict(mdb("shop1_x"), engine="oracle")])
    result, _ = run_module_raw("oemhost_databases", {"engine": "mariadb", "tenants": [t],
                                                 "validate_only": True})
    assert result["failed"] is True and "oracle" in result["msg"]
