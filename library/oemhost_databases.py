#!/usr/bin/python
# Copyright (c) 2026, oemhost
# SPDX-License-Identifier: MIT
"""Batched reconciliation of every tenant's databases and users on one engine."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_databases
short_description: Reconcile all tenants' MariaDB or PostgreSQL databases and users in one call
description:
  - Takes the whole list of tenants placed on the node (their C(databases) entries) and makes
    the database server match it, acting only on what differs. One call replaces a
    per-tenant loop of M(community.mysql.mysql_db) / M(community.mysql.mysql_user) or
    M(community.postgresql.postgresql_db) / M(community.postgresql.postgresql_user), which
    costs a module run (about 0.2 s) per item.
  - Every database and user name is C(<tenant>_<suffix>) (tenant id C([a-z][a-z0-9]{2,15}),
    suffix C([a-z0-9]{1,16})); the module refuses anything else before touching the server.
  - Passwords are only ever given as the engine's own hash (MariaDB C(*<40 hex>)
    mysql_native_password hash, PostgreSQL C(SCRAM-SHA-256$...) verifier) and stored as is.
  - MariaDB - database with C(utf8mb4) and the comment C(oemhost:<tenant>); user
    C('<user>'@'<user_host>') identified by the hash, with ALL PRIVILEGES on its own
    database only (the C(_) escaped so it is no wildcard) and no global privilege;
    C(ACCOUNT LOCK) while the tenant is suspended.
  - PostgreSQL - role with LOGIN (NOLOGIN while suspended) and the verifier as its password;
    database owned by that role, created from C(template0), C(CONNECT)/C(TEMPORARY) revoked
    from PUBLIC; both commented C(oemhost:<tenant>). The pg_hba rules are the role's job.
  - Databases that are no longer listed for a tenant in scope, and all databases of removed
    tenants, are dropped (after a dump into O(archive_dir) when archiving is asked for), then
    their users. Only databases carrying the C(oemhost:<tenant>) comment (or wanted ones) are
    ever touched; managed databases of tenants the inventory no longer knows are reported in
    RV(orphans), never dropped.
  - Runs on the node. MariaDB is reached as root over the unix socket (Debian's unix_socket
    authentication), PostgreSQL as the C(postgres) OS user over its socket (run the task with
    C(become_user=postgres)); no password is needed or passed.
version_added: "0.1.0"
author: oemhost
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  engine:
    description: Which database server to reconcile.
    type: str
    required: true
    choices: [mariadb, postgresql]
  tenants:
    description:
      - Tenants placed on the node (status C(active) or C(suspended)); entries of other
        engines in C(databases) are ignored.
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description: Tenant id.
        type: str
        required: true
      status:
        description: A suspended tenant's users are locked; its data is kept.
        type: str
        default: active
        choices: [active, suspended]
      plan:
        description: The tenant's plan id (named in error messages).
        type: str
      limits:
        description:
          - The plan's attributes as the inventory resolves them; C(max_databases.<engine>)
            is the most databases of this engine the tenant may have. Required.
        type: dict
      databases:
        description: The tenant's databases.
        type: list
        elements: dict
        default: []
        suboptions:
          engine:
            type: str
            required: true
            choices: [mariadb, postgresql]
            description: Engine of this database.
          name:
            type: str
            required: true
            description: Database name, C(<tenant>_<suffix>).
          user:
            type: str
            required: true
            description: Login that owns the database, C(<tenant>_<suffix>).
          password_hash:
            type: str
            required: true
            no_log: true
            description: The engine's own hash of the login's password.
  removed:
    description: Removed tenants; all their managed databases and users are dropped.
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        type: str
        required: true
        description: Tenant id.
      archive:
        type: bool
        description: Dump before dropping (overrides O(archive) for this tenant).
  scope:
    description:
      - Tenant ids to reconcile; others (and their databases) are left alone. Omit for all.
    type: list
    elements: str
  archive:
    description: Dump every database into O(archive_dir) before it is dropped.
    type: bool
    default: false
  archive_dir:
    description:
      - Where dumps go, as C(<archive_dir>/<tenant>/<database>-<UTC time>.sql.gz) (MariaDB) or
        C(.dump) (PostgreSQL custom format). Created with mode 0700.
    type: path
    default: /var/backups/oemhost/databases
  user_host:
    description: MariaDB only - the host part of the tenants' accounts.
    type: str
    default: "%"
  require_tls:
    description:
      - MariaDB only - C(REQUIRE SSL) on the tenants' accounts. (PostgreSQL enforces this in
        pg_hba with C(hostssl).)
    type: bool
    default: false
  connection_limit:
    description: Maximum concurrent connections of each tenant login; 0 means no limit.
    type: int
    default: 0
  login_unix_socket:
    description:
      - MariaDB socket file, or PostgreSQL socket directory. Defaults to Debian's paths.
    type: path
  locale:
    description: PostgreSQL only - locale of new databases (created from template0, UTF8).
    type: str
    default: C.UTF-8
  validate_only:
    description:
      - Only check the input (names, hashes, plan maximum) and fail with a message naming the
        tenant and the field; do not connect to the server. Roles run this first, before
        anything on the node changes.
    type: bool
    default: false
requirements:
  - PyMySQL (Debian python3-pymysql) for MariaDB, psycopg2 (python3-psycopg2) for PostgreSQL
  - mariadb-dump / pg_dump on the node when archiving
"""

EXAMPLES = r"""
- name: Reconcile the tenants' MariaDB databases and users
  oemhost_databases:
    engine: mariadb
    tenants: "{{ oemhost_tenants | community.general.keep_keys(
                 target=['id', 'status', 'plan', 'limits', 'databases']) }}"
    removed: "{{ oemhost_removed_tenants | community.general.keep_keys(target=['id', 'archive']) }}"
    scope: "{{ oemhost_tenant_scope | default(omit) }}"
    connection_limit: 30
  no_log: true        # the arguments hold password hashes
  register: result

- name: Reconcile PostgreSQL (as the postgres OS user, over its socket)
  oemhost_databases:
    engine: postgresql
    tenants:
      - id: shop1
        limits: {max_databases: {mariadb: 0, postgresql: 1}}
        databases:
          - engine: postgresql
            name: shop1_app
            user: shop1_app
            password_hash: "SCRAM-SHA-256$4096:...:..."
  become: true
  become_user: postgres
  no_log: true
"""

RETURN = r"""
actions:
  description: What was done (or would be done in check mode), one line each; never a hash.
  returned: always
  type: list
  elements: str
  sample: ["create user shop1_wp", "create database shop1_wp owned by shop1_wp"]
created:
  description: Databases created.
  returned: always
  type: list
  elements: str
dropped:
  description: Databases dropped.
  returned: always
  type: list
  elements: str
archives:
  description: Dump files written before dropping.
  returned: always
  type: list
  elements: str
orphans:
  description: Managed databases whose tenant is neither listed nor removed (left in place).
  returned: always
  type: list
  elements: str
"""

import datetime
import gzip
import os
import re
import shutil
import subprocess
import traceback
from dataclasses import dataclass, field

from ansible.module_utils.basic import AnsibleModule

TENANT_RE = re.compile(r"^[a-z][a-z0-9]{2,15}\Z")
#: a database or user name: the tenant id, "_", a suffix; group 1 is the tenant
OBJECT_RE = re.compile(r"^([a-z][a-z0-9]{2,15})_[a-z0-9]{1,16}\Z")
HASH_RE = {
    "mariadb": re.compile(r"^\*[0-9A-F]{40}\Z"),
    "postgresql": re.compile(
        r"^SCRAM-SHA-256\$[1-9][0-9]{3,6}:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=\Z"),
}
#: anything in an error text that could be a hash is masked before it is returned
_HASHY_RE = re.compile(r"\*[0-9A-Fa-f]{40}|SCRAM-SHA-256\$[^\s'\"]+")
HOST_RE = re.compile(r"^(?:%|localhost|[A-Za-z0-9.:%_-]{1,255})\Z")
LOCALE_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}\Z")
MARKER_PREFIX = "oemhost:"
DEFAULT_SOCKET = {"mariadb": "/run/mysqld/mysqld.sock", "postgresql": "/var/run/postgresql"}


class InputError(ValueError):
    """The module's input is not acceptable; nothing was changed."""


def mask(text):
    """Mask anything that looks like a password hash (for error messages)."""
    return _HASHY_RE.sub("<hash>", str(text))


def marker(tenant):
    return MARKER_PREFIX + tenant


def marker_tenant(comment):
    """The tenant id in a ``oemhost:<tenant>`` comment, or None."""
    if comment and comment.startswith(MARKER_PREFIX):
        tid = comment[len(MARKER_PREFIX):]
        return tid if TENANT_RE.match(tid) else None
    return None


def owner_of(name):
    """Tenant id a database/user name belongs to, or None for a foreign name."""
    m = OBJECT_RE.match(name or "")
    return m.group(1) if m else None


# --- wanted and current state ------------------------------------------------------------

@dataclass(frozen=True)
class WantedDb:
    tenant: str
    name: str
    user: str
    password_hash: str
    locked: bool


@dataclass
class UserState:
    password_hash: str | None
    locked: bool = False
    connection_limit: int = 0
    require_tls: bool = False
    #: MariaDB: has any global privilege; PostgreSQL: SUPERUSER/CREATEDB/CREATEROLE...
    elevated: bool = False


@dataclass
class DbState:
    tenant: str | None            # from the oemhost:<tenant> comment
    owner: str | None = None      # PostgreSQL owner role
    public_access: bool = False   # PostgreSQL: PUBLIC may CONNECT/TEMPORARY


@dataclass
class State:
    databases: dict = field(default_factory=dict)   # name -> DbState
    users: dict = field(default_factory=dict)       # name -> UserState
    #: MariaDB: user -> {Db pattern as in mysql.db: complete (bool)}; a tenant's own grant
    #: is the escaped name (mariadb_escape_db), anything else is revoked as it is written
    grants: dict = field(default_factory=dict)


def wanted_databases(engine, tenants):
    """The engine's databases from the tenant list, checked; raises InputError."""
    out = {}
    users = {}
    seen = set()
    for t in tenants:
        tid = t["id"]
        if not TENANT_RE.match(tid):
            raise InputError(f"tenant {tid!r}: id: must match [a-z][a-z0-9]{{2,15}}")
        if tid in seen:
            raise InputError(f"tenant {tid}: listed twice")
        seen.add(tid)
        mine = [db for db in t.get("databases") or [] if db["engine"] == engine]
        allowed = plan_maximum(t, engine)
        if len(mine) > allowed:
            raise InputError(f"tenant {tid}: databases: {len(mine)} {engine} databases, plan "
                             f"{t.get('plan') or '?'} allows {allowed}")
        for i, db in enumerate(t.get("databases") or []):
            if db["engine"] != engine:
                continue
            where = f"tenant {tid}: databases[{i}]"
            for key in ("name", "user"):
                if owner_of(db[key]) != tid:
                    raise InputError(f"{where}.{key}: must be {tid}_<a-z0-9, up to 16>")
            if not HASH_RE[engine].match(db["password_hash"]):
                what = "MariaDB *<40 hex>" if engine == "mariadb" else "SCRAM-SHA-256 verifier"
                raise InputError(f"{where}.password_hash: must be a {what} hash")
            if db["name"] in out:
                raise InputError(f"{where}.name: {db['name']} is listed twice")
            if db["user"] in users:
                raise InputError(f"{where}.user: {db['user']} is already used by "
                                 f"{users[db['user']]}")
            users[db["user"]] = db["name"]
            out[db["name"]] = WantedDb(tid, db["name"], db["user"], db["password_hash"],
                                       t.get("status") == "suspended")
    return out


def plan_maximum(tenant, engine):
    """``limits.max_databases.<engine>`` of a tenant record; raises InputError if unusable."""
    limits = tenant.get("limits")
    value = (limits or {}).get("max_databases", {})
    value = value.get(engine) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"tenant {tenant['id']}: limits.max_databases.{engine}: missing or not "
                         "a count (the plan is not resolved)")
    return value


# --- planning (pure; unit-tested) ---------------------------------------------------------

@dataclass(frozen=True)
class Action:
    kind: str       # create_user alter_user revoke_global create_db mark_db secure_db
    #               # set_owner grant revoke archive_db drop_db drop_user
    target: str
    tenant: str
    args: tuple = ()

    def describe(self):
        a = self.args
        return {
            "create_user": lambda: f"create user {self.target}",
            "alter_user": lambda: f"change user {self.target}: {', '.join(a[0])}",
            "revoke_global": lambda: f"revoke global privileges of {self.target}",
            "create_db": lambda: f"create database {self.target} for {a[0]}",
            "mark_db": lambda: f"mark database {self.target} as tenant {self.tenant}'s",
            "secure_db": lambda: f"revoke PUBLIC access to database {self.target}",
            "set_owner": lambda: f"give database {self.target} to {a[1]} (was {a[0]})",
            "grant": lambda: f"grant {a[0]} all privileges on {self.target}",
            "revoke": lambda: f"revoke {a[0]}'s privileges on {self.target}",
            "archive_db": lambda: f"dump database {self.target}",
            "drop_db": lambda: f"drop database {self.target}",
            "drop_user": lambda: f"drop user {self.target}",
        }[self.kind]()


def plan(engine, wanted, listed, removed, scope, current, *, connection_limit=0,
         require_tls=False, archive=False):
    """Actions that turn ``current`` into ``wanted`` for the tenants in scope.

    ``wanted``: name -> WantedDb (every listed tenant's databases of this engine);
    ``listed``: ids of the tenants placed on the node (with or without databases);
    ``removed``: {tenant: archive flag or None}; ``scope``: set of tenant ids, None for all.
    Only objects of listed or removed tenants in scope are ever touched.
    """
    def in_scope(tid):
        return scope is None or tid in scope

    removed = {tid: flag for tid, flag in removed.items() if in_scope(tid)}
    if set(removed) & set(listed):
        both = ", ".join(sorted(set(removed) & set(listed)))
        raise InputError(f"tenant {both}: listed both as placed and as removed")
    wanted = {n: w for n, w in wanted.items() if in_scope(w.tenant)}
    wanted_users = {w.user: w for w in wanted.values()}
    managed_tenants = set(removed) | {t for t in listed if in_scope(t)}

    actions = []
    limit = connection_limit if connection_limit > 0 else 0

    # users: create / alter
    for user, w in sorted(wanted_users.items()):
        cur = current.users.get(user)
        if cur is None:
            actions.append(Action("create_user", user, w.tenant, (w,)))
            continue
        changes = []
        if cur.password_hash != w.password_hash:
            changes.append("password")
        if cur.locked != w.locked:
            changes.append("lock" if w.locked else "unlock")
        if cur.connection_limit != limit:
            changes.append(f"connection limit {limit or 'none'}")
        if engine == "mariadb" and cur.require_tls != require_tls:
            changes.append("require TLS" if require_tls else "TLS optional")
        if changes:
            actions.append(Action("alter_user", user, w.tenant, (tuple(changes), w)))
        if cur.elevated:
            actions.append(Action("revoke_global", user, w.tenant))

    # databases: create / adopt / secure / owner / grants
    for name, w in sorted(wanted.items()):
        cur = current.databases.get(name)
        if cur is None:
            actions.append(Action("create_db", name, w.tenant, (w.user,)))
            if engine == "mariadb":
                actions.append(Action("grant", name, w.tenant, (w.user,)))
            continue
        if cur.tenant != w.tenant:
            actions.append(Action("mark_db", name, w.tenant))
        if engine == "postgresql":
            if cur.owner != w.user:
                actions.append(Action("set_owner", name, w.tenant, (cur.owner, w.user)))
            if cur.public_access:
                actions.append(Action("secure_db", name, w.tenant))
        else:
            user_grants = current.grants.get(w.user, {})
            revoked_all = current.users.get(w.user) and current.users[w.user].elevated
            if revoked_all or not user_grants.get(mariadb_escape_db(name)):
                actions.append(Action("grant", name, w.tenant, (w.user,)))

    # MariaDB: grants a tenant user holds beyond its own database
    if engine == "mariadb":
        for user, dbs in sorted(current.grants.items()):
            tid = owner_of(user)
            if tid is None or tid not in managed_tenants:
                continue
            if user not in wanted_users or current.users.get(user, UserState(None)).elevated:
                continue  # dropped below, or all its privileges are revoked above
            for pattern in sorted(dbs):
                if pattern != mariadb_escape_db(wanted_users[user].name):
                    actions.append(Action("revoke", pattern, tid, (user,)))

    # drops: databases first (dump before), then users
    for name, cur in sorted(current.databases.items()):
        tid = owner_of(name)
        if name in wanted or tid is None or cur.tenant != tid or tid not in managed_tenants:
            continue
        flag = removed.get(tid)
        if archive if flag is None else flag:
            actions.append(Action("archive_db", name, tid))
        actions.append(Action("drop_db", name, tid))
    for user in sorted(current.users):
        tid = owner_of(user)
        if user in wanted_users or tid is None or tid not in managed_tenants:
            continue
        actions.append(Action("drop_user", user, tid))
    return actions


def orphans(current, known_tenants):
    """Managed databases whose tenant is not known at all."""
    return sorted(n for n, d in current.databases.items()
                  if d.tenant and d.tenant == owner_of(n) and d.tenant not in known_tenants)


# --- MariaDB ---------------------------------------------------------------------------

def mariadb_escape_db(name):
    """A database name as a GRANT pattern that matches only itself (``_`` is a wildcard)."""
    return name.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


#: db-level privilege columns of mysql.db that GRANT ALL sets (everything but Grant_priv)
def mariadb_grant_complete(row):
    privs = {k: v for k, v in row.items() if k.endswith("_priv")}
    return bool(privs) and privs.get("Grant_priv") == "N" and all(
        v == "Y" for k, v in privs.items() if k != "Grant_priv")


def mariadb_user_state(row):
    """UserState from a mysql.global_priv row read with the a_* JSON_VALUE columns.

    JSON_VALUE gives JSON booleans as 1/0 (MariaDB 10.11), missing keys as NULL.
    """
    pw = row["a_auth"] if row["a_plugin"] == "mysql_native_password" else None
    return UserState(
        pw, locked=str(row["a_locked"]).lower() in ("1", "true"),
        connection_limit=int(row["a_maxconn"] or 0),
        require_tls=str(row["a_ssl"] or "0") == "1",
        elevated=int(row["a_access"] or 0) != 0)


class MariaDB:
    def __init__(self, module, socket, user_host, require_tls, connection_limit):
        import pymysql  # noqa: PLC0415 - only on the node, only for this engine

        self.pymysql = pymysql
        self.socket = socket
        self.host = user_host
        self.require_tls = require_tls
        self.limit = connection_limit
        self.conn = pymysql.connect(unix_socket=socket, user="root", autocommit=True,
                                    charset="utf8mb4", cursorclass=pymysql.cursors.DictCursor)

    def q(self, sql, args=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    def read(self):
        state = State()
        for row in self.q("SELECT SCHEMA_NAME AS n, SCHEMA_COMMENT AS c "
                          "FROM information_schema.SCHEMATA"):
            if owner_of(row["n"]):
                state.databases[row["n"]] = DbState(marker_tenant(row["c"]))
        for row in self.q(
                "SELECT User AS u, JSON_VALUE(Priv, '$.plugin') AS a_plugin, "
                "JSON_VALUE(Priv, '$.authentication_string') AS a_auth, "
                "JSON_VALUE(Priv, '$.account_locked') AS a_locked, "
                "JSON_VALUE(Priv, '$.ssl_type') AS a_ssl, "
                "JSON_VALUE(Priv, '$.max_user_connections') AS a_maxconn, "
                "JSON_VALUE(Priv, '$.access') AS a_access "
                "FROM mysql.global_priv WHERE Host = %s", (self.host,)):
            if not owner_of(row["u"]):
                continue
            state.users[row["u"]] = mariadb_user_state(row)
        for row in self.q("SELECT * FROM mysql.db WHERE Host = %s", (self.host,)):
            user = row["User"]
            if owner_of(user):
                state.grants.setdefault(user, {})[row["Db"]] = \
                    mariadb_grant_complete(row)
        return state

    def _account(self):
        return "%s@%s"

    def _user_opts(self, w):
        tls = "REQUIRE SSL" if self.require_tls else "REQUIRE NONE"
        lock = "ACCOUNT LOCK" if w.locked else "ACCOUNT UNLOCK"
        return f"{tls} WITH MAX_USER_CONNECTIONS {int(self.limit)} {lock}"

    def apply(self, a, archive_dir):
        u = (a.target, self.host)
        if a.kind == "create_user":
            w = a.args[0]
            self.q(f"CREATE USER %s@%s IDENTIFIED BY PASSWORD %s {self._user_opts(w)}",
                   (*u, w.password_hash))
        elif a.kind == "alter_user":
            w = a.args[1]
            self.q(f"ALTER USER %s@%s IDENTIFIED BY PASSWORD %s {self._user_opts(w)}",
                   (*u, w.password_hash))
        elif a.kind == "revoke_global":
            self.q("REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s", u)
        elif a.kind == "create_db":
            self.q(f"CREATE DATABASE `{a.target}` CHARACTER SET utf8mb4 "
                   "COLLATE utf8mb4_unicode_ci COMMENT %s", (marker(a.tenant),))
        elif a.kind == "mark_db":
            self.q(f"ALTER DATABASE `{a.target}` COMMENT %s", (marker(a.tenant),))
        elif a.kind == "grant":
            self.q(f"GRANT ALL PRIVILEGES ON `{mariadb_escape_db(a.target)}`.* TO %s@%s",
                   (a.args[0], self.host))
        elif a.kind == "revoke":
            # the pattern exactly as mysql.db holds it (backticks doubled to stay quoted)
            pattern = a.target.replace("`", "``")
            self.q(f"REVOKE ALL PRIVILEGES ON `{pattern}`.* FROM %s@%s", (a.args[0], self.host))
        elif a.kind == "archive_db":
            return self.dump(a, archive_dir)
        elif a.kind == "drop_db":
            self.q(f"DROP DATABASE `{a.target}`")
        elif a.kind == "drop_user":
            self.q("DROP USER %s@%s", u)
        return None

    def dump(self, a, archive_dir):
        path = archive_path(archive_dir, a.tenant, a.target, ".sql.gz")
        argv = [shutil.which("mariadb-dump") or "mariadb-dump", f"--socket={self.socket}",
                "--single-transaction", "--routines", "--events", "--triggers",
                "--databases", a.target]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc, \
                open_private(path) as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
            shutil.copyfileobj(proc.stdout, out, 1 << 20)
            err = proc.stderr.read()
        if proc.returncode != 0:
            os.unlink(path)
            raise RuntimeError(f"mariadb-dump {a.target} failed: {err.decode(errors='replace')}")
        return path


# --- PostgreSQL ------------------------------------------------------------------------

class PostgreSQL:
    def __init__(self, module, socket, connection_limit, locale):
        import psycopg2  # noqa: PLC0415 - only on the node, only for this engine
        from psycopg2 import sql  # noqa: PLC0415

        self.psycopg2 = psycopg2
        self.sql = sql
        self.socket = socket
        self.limit = connection_limit if connection_limit > 0 else -1
        self.locale = locale
        self.conn = psycopg2.connect(host=socket, dbname="postgres")
        self.conn.autocommit = True

    def q(self, stmt, args=None, conn=None):
        with (conn or self.conn).cursor() as cur:
            cur.execute(stmt, args)
            return cur.fetchall() if cur.description else []

    def read(self):
        state = State()
        for name, owner, comment, acl in self.q(
                "SELECT d.datname, pg_get_userbyid(d.datdba), "
                "shobj_description(d.oid, 'pg_database'), d.datacl::text[] "
                "FROM pg_database d"):
            if owner_of(name):
                public = acl is None or any(item.startswith("=") for item in acl)
                state.databases[name] = DbState(marker_tenant(comment), owner, public)
        for name, pw, canlogin, connlimit, elevated in self.q(
                "SELECT rolname, rolpassword, rolcanlogin, rolconnlimit, "
                "rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls "
                "FROM pg_authid"):
            if owner_of(name):
                state.users[name] = UserState(
                    pw, locked=not canlogin,
                    connection_limit=0 if connlimit < 0 else connlimit, elevated=elevated)
        return state

    def apply(self, a, archive_dir):
        sql = self.sql
        ident = sql.Identifier(a.target)
        if a.kind in ("create_user", "alter_user"):
            w = a.args[-1]
            verb = sql.SQL("CREATE ROLE" if a.kind == "create_user" else "ALTER ROLE")
            self.q(sql.SQL("{} {} WITH {} PASSWORD {} CONNECTION LIMIT {}").format(
                verb, ident, sql.SQL("NOLOGIN" if w.locked else "LOGIN"),
                sql.Literal(w.password_hash), sql.Literal(self.limit)))
            if a.kind == "create_user":
                self.q(sql.SQL("COMMENT ON ROLE {} IS {}").format(
                    ident, sql.Literal(marker(a.tenant))))
        elif a.kind == "revoke_global":
            self.q(sql.SQL("ALTER ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                           "NOBYPASSRLS").format(ident))
        elif a.kind == "create_db":
            self.q(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8' "
                           "LOCALE {}").format(ident, sql.Identifier(a.args[0]),
                                               sql.Literal(self.locale)))
            self.q(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                ident, sql.Literal(marker(a.tenant))))
            self.q(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
        elif a.kind == "mark_db":
            self.q(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                ident, sql.Literal(marker(a.tenant))))
        elif a.kind == "secure_db":
            self.q(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
        elif a.kind == "set_owner":
            old, new = a.args
            if old and owner_of(old) == a.tenant:
                # the old login's tables move too; run inside the database itself
                conn = self.psycopg2.connect(host=self.socket, dbname=a.target)
                conn.autocommit = True
                try:
                    self.q(sql.SQL("REASSIGN OWNED BY {} TO {}").format(
                        sql.Identifier(old), sql.Identifier(new)), conn=conn)
                finally:
                    conn.close()
            self.q(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(ident, sql.Identifier(new)))
        elif a.kind == "archive_db":
            return self.dump(a, archive_dir)
        elif a.kind == "drop_db":
            self.q(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))
        elif a.kind == "drop_user":
            self.q(sql.SQL("DROP ROLE {}").format(ident))
        return None

    def dump(self, a, archive_dir):
        path = archive_path(archive_dir, a.tenant, a.target, ".dump")
        with open_private(path) as out:
            proc = subprocess.run(
                [shutil.which("pg_dump") or "pg_dump", "--format=custom", "--host", self.socket,
                 "--dbname", a.target], stdout=out, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            os.unlink(path)
            raise RuntimeError(f"pg_dump {a.target} failed: {proc.stderr.decode(errors='replace')}")
        return path


# --- helpers -------------------------------------------------------------------------------

def archive_path(archive_dir, tenant, db, suffix):
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    tdir = os.path.join(archive_dir, tenant)
    os.makedirs(tdir, mode=0o700, exist_ok=True)
    return os.path.join(tdir, f"{db}-{stamp}{suffix}")


def open_private(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def run_module():
    db_opts = {
        "engine": {"type": "str", "required": True, "choices": ["mariadb", "postgresql"]},
        "name": {"type": "str", "required": True},
        "user": {"type": "str", "required": True},
        "password_hash": {"type": "str", "required": True, "no_log": True},
    }
    module = AnsibleModule(
        argument_spec={
            "engine": {"type": "str", "required": True, "choices": ["mariadb", "postgresql"]},
            "tenants": {"type": "list", "elements": "dict", "default": [], "options": {
                "id": {"type": "str", "required": True},
                "status": {"type": "str", "default": "active",
                           "choices": ["active", "suspended"]},
                "plan": {"type": "str"},
                "limits": {"type": "dict"},
                "databases": {"type": "list", "elements": "dict", "default": [],
                              "options": db_opts},
            }},
            "removed": {"type": "list", "elements": "dict", "default": [], "options": {
                "id": {"type": "str", "required": True},
                "archive": {"type": "bool"},
            }},
            "scope": {"type": "list", "elements": "str"},
            "archive": {"type": "bool", "default": False},
            "archive_dir": {"type": "path", "default": "/var/backups/oemhost/databases"},
            "user_host": {"type": "str", "default": "%"},
            "require_tls": {"type": "bool", "default": False},
            "connection_limit": {"type": "int", "default": 0},
            "login_unix_socket": {"type": "path"},
            "locale": {"type": "str", "default": "C.UTF-8"},
            "validate_only": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    engine = p["engine"]
    result = {"changed": False, "actions": [], "created": [], "dropped": [], "archives": [],
              "orphans": []}
    try:
        wanted = wanted_databases(engine, p["tenants"])
        removed = {}
        for r in p["removed"]:
            if not TENANT_RE.match(r["id"]):
                raise InputError(f"removed tenant {r['id']!r}: id: must match "
                                 "[a-z][a-z0-9]{2,15}")
            removed[r["id"]] = r["archive"]
        scope = None
        if p["scope"] is not None:
            bad = [s for s in p["scope"] if not TENANT_RE.match(s)]
            if bad:
                raise InputError(f"scope: {bad[0]!r} is not a tenant id")
            scope = set(p["scope"])
        if not HOST_RE.match(p["user_host"]):
            raise InputError(f"user_host: {p['user_host']!r} is not a host pattern")
        if not LOCALE_RE.match(p["locale"]):
            raise InputError(f"locale: {p['locale']!r} is not a locale name")
        if p["connection_limit"] < 0:
            raise InputError("connection_limit: must be 0 (no limit) or more")
    except InputError as exc:
        module.fail_json(msg=str(exc), **result)
    if p["validate_only"]:
        module.exit_json(**result)

    socket = p["login_unix_socket"] or DEFAULT_SOCKET[engine]
    try:
        if engine == "mariadb":
            backend = MariaDB(module, socket, p["user_host"], p["require_tls"],
                              p["connection_limit"])
        else:
            backend = PostgreSQL(module, socket, p["connection_limit"], p["locale"])
        current = backend.read()
    except ImportError as exc:
        module.fail_json(msg=f"missing Python driver on the node: {exc}", **result)
    except Exception as exc:  # noqa: BLE001 - any driver error: report it, masked
        module.fail_json(msg=f"cannot read the {engine} server: {mask(exc)}", **result)

    known = {w.tenant for w in wanted.values()} | {t["id"] for t in p["tenants"]} | set(removed)
    result["orphans"] = orphans(current, known) if scope is None else []
    try:
        actions = plan(engine, wanted, {t["id"] for t in p["tenants"]}, removed, scope, current,
                       connection_limit=p["connection_limit"], require_tls=p["require_tls"],
                       archive=p["archive"])
    except InputError as exc:
        module.fail_json(msg=str(exc), **result)

    result["actions"] = [a.describe() for a in actions]
    result["created"] = [a.target for a in actions if a.kind == "create_db"]
    result["dropped"] = [a.target for a in actions if a.kind == "drop_db"]
    result["changed"] = bool(actions)
    if module._diff:
        result["diff"] = {"prepared": "".join(f"{line}\n" for line in result["actions"])}
    if module.check_mode or not actions:
        module.exit_json(**result)

    done = []
    for a in actions:
        try:
            path = backend.apply(a, p["archive_dir"])
        except Exception as exc:  # noqa: BLE001 - stop at the first failure, say what was done
            result["actions"] = done
            module.fail_json(msg=f"{a.describe()}: {mask(exc)}",
                             exception=mask(traceback.format_exc()), **result)
        if path:
            result["archives"].append(path)
        done.append(a.describe())
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
