#!/usr/bin/python
# Copyright (c) 2026, oemhost
# SPDX-License-Identifier: MIT
"""Database sizes per tenant, for the usage collection."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_database_usage
short_description: Sizes of the tenants' MariaDB or PostgreSQL databases
description:
  - Reads, in one query, the size of every database the M(oemhost_databases) module manages
    (those commented C(oemhost:<tenant>)) and sums them per tenant. Read only.
  - MariaDB - C(SUM(DATA_LENGTH + INDEX_LENGTH)) from C(information_schema.TABLES) per schema
    (InnoDB's estimate of the data and index pages), as root over the unix socket.
  - PostgreSQL - C(pg_database_size()) (the database directory on disk), as the C(postgres)
    OS user over its socket (C(become_user=postgres)). The C(oemhost_monitor) login can run
    the same query from outside (it is a member of C(pg_monitor), which includes
    C(pg_read_all_stats)).
version_added: "0.1.0"
author: oemhost
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  engine:
    description: Which server to read.
    type: str
    required: true
    choices: [mariadb, postgresql]
  login_unix_socket:
    description: MariaDB socket file or PostgreSQL socket directory (Debian's by default).
    type: path
requirements:
  - PyMySQL (python3-pymysql) or psycopg2 (python3-psycopg2) on the node
"""

EXAMPLES = r"""
- name: Read the tenants' MariaDB sizes
  oemhost_database_usage:
    engine: mariadb
  register: mariadb_usage

- name: Read the tenants' PostgreSQL sizes
  oemhost_database_usage:
    engine: postgresql
  become: true
  become_user: postgres
  register: postgresql_usage
"""

RETURN = r"""
databases:
  description: One entry per managed database.
  returned: always
  type: list
  elements: dict
  sample: [{"tenant": "shop1", "engine": "mariadb", "name": "shop1_wp", "bytes": 1589248}]
tenants:
  description: Total bytes and number of databases per tenant.
  returned: always
  type: dict
  sample: {"shop1": {"bytes": 1589248, "databases": 1}}
"""

import re

from ansible.module_utils.basic import AnsibleModule

OBJECT_RE = re.compile(r"^([a-z][a-z0-9]{2,15})_[a-z0-9]{1,16}\Z")
MARKER_PREFIX = "oemhost:"
DEFAULT_SOCKET = {"mariadb": "/run/mysqld/mysqld.sock", "postgresql": "/var/run/postgresql"}

MARIADB_QUERY = (
    "SELECT s.SCHEMA_NAME, s.SCHEMA_COMMENT, "
    "COALESCE(SUM(t.DATA_LENGTH + t.INDEX_LENGTH), 0) "
    "FROM information_schema.SCHEMATA s "
    "LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME "
    "WHERE s.SCHEMA_COMMENT LIKE 'oemhost:%' GROUP BY s.SCHEMA_NAME, s.SCHEMA_COMMENT")
POSTGRESQL_QUERY = (
    "SELECT datname, shobj_description(oid, 'pg_database'), pg_database_size(oid) "
    "FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE 'oemhost:%'")


def summarise(engine, rows):
    """(name, comment, bytes) rows -> (databases, tenants); rows of foreign names are skipped."""
    databases, tenants = [], {}
    for name, comment, size in rows:
        m = OBJECT_RE.match(name or "")
        if not m or comment != MARKER_PREFIX + m.group(1):
            continue
        tid = m.group(1)
        databases.append({"tenant": tid, "engine": engine, "name": name, "bytes": int(size)})
        t = tenants.setdefault(tid, {"bytes": 0, "databases": 0})
        t["bytes"] += int(size)
        t["databases"] += 1
    databases.sort(key=lambda d: d["name"])
    return databases, tenants


def read_rows(engine, socket):
    if engine == "mariadb":
        import pymysql  # noqa: PLC0415 - on the node only

        conn = pymysql.connect(unix_socket=socket, user="root", charset="utf8mb4")
        query = MARIADB_QUERY
    else:
        import psycopg2  # noqa: PLC0415 - on the node only

        conn = psycopg2.connect(host=socket, dbname="postgres")
        query = POSTGRESQL_QUERY
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall()
    finally:
        conn.close()


def main():
    module = AnsibleModule(
        argument_spec={
            "engine": {"type": "str", "required": True, "choices": ["mariadb", "postgresql"]},
            "login_unix_socket": {"type": "path"},
        },
        supports_check_mode=True,
    )
    engine = module.params["engine"]
    try:
        rows = read_rows(engine, module.params["login_unix_socket"] or DEFAULT_SOCKET[engine])
    except Exception as exc:  # noqa: BLE001 - driver errors of two drivers
        module.fail_json(msg=f"cannot read the {engine} server: {exc}")
    databases, tenants = summarise(engine, rows)
    module.exit_json(changed=False, databases=databases, tenants=tenants)


if __name__ == "__main__":
    main()
