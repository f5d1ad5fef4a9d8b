"""Ops commands on the hosting state: ``oemhost inventory|node|reseller|plan|tenant|domain|
mailbox|ftp|db|dns ...``, all through :class:`~oemhost.store.Store`.

Every group takes ``-i/--inventory DIR`` (default: the configured inventory). Writes take
``--actor`` (default ``ops:<login name>``), ``--reason`` and ``--expected-version``.
``--json`` prints machine-readable output. Passwords are never command-line arguments
(they would show in ``ps``): they are read from a prompt, from the first line of stdin
(``--password-stdin``), or generated and printed once (``--generate-password``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import secrets
import sys
from pathlib import Path
from typing import Any

from oemhost.errors import OemhostError, ValidationError

_HASH_KEYS = {"password_hash"}


# --- helpers -------------------------------------------------------------------------------

def _store(args, settings):
    from oemhost.store import Store

    return Store(Path(args.inventory) if args.inventory else settings.inventory_dir)


def _default_actor() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return "ops:" + (re.sub(r"[^A-Za-z0-9._@+-]", "-", name)[:64] or "unknown")


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<set>" if k in _HASH_KEYS and v else _redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _emit(args, data: Any, human: str | None = None) -> None:
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False))
    elif human is not None:
        print(human)
    else:
        from oemhost.store import yamlio

        sys.stdout.write(yamlio.dumps(data).decode("utf-8"))


def _show(args, obj) -> int:
    data = _redact(obj.to_dict())
    data["version"] = obj.version
    _emit(args, data)
    return 0


def _table(args, rows: list[dict[str, Any]], columns: list[str]) -> int:
    if args.json:
        _emit(args, rows)
        return 0
    if not rows:
        print("(none)")
        return 0
    cells = [[str(r.get(c, "")) if r.get(c) is not None else "" for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _committed(args, commit: str, what: str, extra: dict | None = None) -> int:
    data = {"commit": commit, **(extra or {})}
    if args.json:
        _emit(args, data)
    else:
        print(f"{what}: committed {commit[:12]}")
        for key, value in (extra or {}).items():
            print(f"{key}: {value}")
    return 0


def _parse_value(text: str) -> Any:
    from oemhost.store import yamlio

    try:
        return yamlio.loads(text, source="--set")
    except ValidationError:
        return text


def _set_path(target: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    if not all(re.match(r"^[a-z_][a-z0-9_]*$", k) for k in keys):
        raise ValidationError({dotted: "is not a field name"})
    for key in keys[:-1]:
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            raise ValidationError({dotted: f"{key} is not a mapping"})
    target[keys[-1]] = value


def _changes(args) -> dict[str, Any]:
    """--file FILE (YAML/JSON mapping), then --set k=v (YAML value), --set-str k=v (text)."""
    from oemhost.store import yamlio

    data: dict[str, Any] = {}
    if getattr(args, "file", None):
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        loaded = yamlio.loads(raw, source=args.file)
        if not isinstance(loaded, dict):
            raise ValidationError({"": f"{args.file} must hold a mapping"})
        data.update(loaded)
    for item in getattr(args, "set", None) or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError({item: "use --set field=value"})
        _set_path(data, key.strip(), _parse_value(value))
    for item in getattr(args, "set_str", None) or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError({item: "use --set-str field=value"})
        _set_path(data, key.strip(), value)
    return data


def _password(args, what: str) -> tuple[str, dict[str, str]]:
    """The password for ``what`` and, if generated, the extra output that shows it once."""
    if getattr(args, "generate_password", False):
        pw = secrets.token_urlsafe(15)
        return pw, {"password": pw}
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        return line.rstrip("\r\n"), {}
    if not sys.stdin.isatty():
        raise OemhostError(f"no password for {what}: use --password-stdin or "
                           "--generate-password")
    first = getpass.getpass(f"Password for {what}: ")
    if getpass.getpass("Again: ") != first:
        raise OemhostError("the passwords do not match")
    return first, {}


def _write_kwargs(args) -> dict[str, Any]:
    out = {"actor": args.actor or _default_actor(), "reason": args.reason or ""}
    if getattr(args, "expected_version", None):
        out["expected_version"] = args.expected_version
    return out


def _split2(value: str, what: str) -> tuple[str, str]:
    left, sep, right = value.partition("/")
    if not sep:
        raise ValidationError({what: f"use {what.upper()} as <reseller>/<plan>"})
    return left, right


# --- parsers -------------------------------------------------------------------------------

def _common(json_ok: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("-i", "--inventory", metavar="DIR",
                   help="inventory directory (default: the configured one)")
    if json_ok:
        p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def _writer() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--actor", help="who makes the change (default ops:<login name>)")
    p.add_argument("--reason", default="", help="why (kept in the commit message)")
    p.add_argument("--expected-version", metavar="VERSION",
                   help="refuse if the record changed since this version was read")
    return p


def _changer() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="a field (dotted for nested, e.g. disk.web_mb=1500); YAML value")
    p.add_argument("--set-str", action="append", metavar="FIELD=TEXT",
                   help="a field taken literally as text")
    p.add_argument("--file", metavar="FILE", help="a YAML/JSON mapping of fields ('-': stdin)")
    return p


def _pw_opts() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin")
    g.add_argument("--generate-password", action="store_true",
                   help="generate a password and print it once")
    return p


def register(subparsers) -> None:
    common, writer, changer, pw = _common(), _writer(), _changer(), _pw_opts()

    def group(name: str, help_text: str):
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        sub = parser.add_subparsers(dest="action", metavar="ACTION")
        sub.required = True
        return sub

    def cmd(sub, name, func, help_text, parents=(), **kw):
        p = sub.add_parser(name, help=help_text, description=help_text,
                           parents=[common, *parents], **kw)
        p.set_defaults(func=func)
        return p

    # inventory
    inv = group("inventory", "the inventory as a whole: create, check, history")
    p = cmd(inv, "init", cmd_init, "create an inventory repository (idempotent)")
    p.add_argument("path", nargs="?", help="directory (default: the configured inventory)")
    p = cmd(inv, "check", cmd_check, "validate every state file as it is on disk")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    cmd(inv, "status", cmd_status, "state files with changes that are not committed")
    p = cmd(inv, "log", cmd_log, "recent changes (git history)")
    p.add_argument("--tenant", help="only changes of this tenant")
    p.add_argument("-n", type=int, default=20, help="how many (default 20)")

    # nodes
    sub = group("node", "hosting nodes")
    cmd(sub, "list", cmd_node_list, "list nodes")
    cmd(sub, "show", cmd_node_show, "show a node").add_argument("name")
    p = cmd(sub, "put", cmd_node_put, "create or replace a node from a YAML/JSON record",
            parents=[writer])
    p.add_argument("file", help="the node record ('-': stdin)")
    cmd(sub, "remove", cmd_node_remove, "remove a node (no tenants may be left on it)",
        parents=[writer]).add_argument("name")

    # resellers
    sub = group("reseller", "resellers (OEM contract holders)")
    cmd(sub, "list", cmd_reseller_list, "list resellers")
    cmd(sub, "show", cmd_reseller_show, "show a reseller").add_argument("id")
    cmd(sub, "add", cmd_reseller_add, "add a reseller (fields with --set/--file)",
        parents=[writer, changer])
    cmd(sub, "change", cmd_reseller_change, "change a reseller",
        parents=[writer, changer]).add_argument("id")
    cmd(sub, "remove", cmd_reseller_remove, "remove a reseller and its plans",
        parents=[writer]).add_argument("id")

    # plans
    sub = group("plan", "plans (courses) of a reseller")
    cmd(sub, "list", cmd_plan_list, "list plans").add_argument("--reseller")
    cmd(sub, "show", cmd_plan_show, "show a plan").add_argument("plan", metavar="RESELLER/PLAN")
    cmd(sub, "add", cmd_plan_add, "add a plan", parents=[writer, changer]).add_argument(
        "reseller")
    cmd(sub, "change", cmd_plan_change, "change a plan (tenants must still fit)",
        parents=[writer, changer]).add_argument("plan", metavar="RESELLER/PLAN")
    cmd(sub, "remove", cmd_plan_remove, "remove an unused plan",
        parents=[writer]).add_argument("plan", metavar="RESELLER/PLAN")

    # tenants
    sub = group("tenant", "tenants (end users)")
    p = cmd(sub, "list", cmd_tenant_list, "list tenants")
    for opt in ("--reseller", "--node", "--plan", "--status"):
        p.add_argument(opt)
    p.add_argument("-q", "--search", help="text in id, contractor, customer number, e-mail, "
                                          "domains")
    p.add_argument("--sort", default="id", help="field, '-' prefix for descending")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--limit", type=int)
    cmd(sub, "show", cmd_tenant_show, "show a tenant").add_argument("id")
    cmd(sub, "add", cmd_tenant_add, "add a tenant (fields with --set/--file; password "
                                    "prompted)", parents=[writer, changer, pw])
    cmd(sub, "change", cmd_tenant_change, "change tenant fields",
        parents=[writer, changer]).add_argument("id")
    p = cmd(sub, "status", cmd_tenant_status, "set status active|suspended|removed",
            parents=[writer])
    p.add_argument("id")
    p.add_argument("status", choices=["active", "suspended", "removed"])
    cmd(sub, "remove", cmd_tenant_remove, "mark removed (the roles tear it down)",
        parents=[writer]).add_argument("id")
    cmd(sub, "purge", cmd_tenant_purge, "delete a removed tenant's file",
        parents=[writer]).add_argument("id")
    cmd(sub, "password", cmd_tenant_password, "set the tenant's password",
        parents=[writer, pw]).add_argument("id")
    p = cmd(sub, "disk", cmd_tenant_disk, "set the web/mail split", parents=[writer])
    p.add_argument("id")
    p.add_argument("web_mb", type=int)
    p.add_argument("--mail-mb", type=int, help="default: the rest of the plan's total")

    # domains
    sub = group("domain", "a tenant's domains")
    cmd(sub, "list", cmd_domain_list, "list domains").add_argument("tenant")
    p = cmd(sub, "add", cmd_domain_add, "add a domain (Unicode or punycode)", parents=[writer])
    p.add_argument("tenant")
    p.add_argument("name")
    p.add_argument("--docroot")
    p.add_argument("--alias", action="append", help="alias (default www.<name>); repeat")
    p.add_argument("--no-alias", action="store_true", help="no aliases")
    p.add_argument("--tls", choices=["selfsigned", "acme", "own"])
    p.add_argument("--https-redirect", action="store_true")
    p.add_argument("--php")
    p = cmd(sub, "change", cmd_domain_change, "change a domain", parents=[writer, changer])
    p.add_argument("tenant")
    p.add_argument("name")
    p = cmd(sub, "remove", cmd_domain_remove, "remove a domain and its DNS records",
            parents=[writer])
    p.add_argument("tenant")
    p.add_argument("name")

    # mailboxes
    sub = group("mailbox", "a tenant's mailboxes")
    cmd(sub, "list", cmd_mailbox_list, "list mailboxes").add_argument("tenant")
    p = cmd(sub, "add", cmd_mailbox_add, "add a mailbox", parents=[writer, pw])
    p.add_argument("tenant")
    p.add_argument("address")
    p.add_argument("--quota-mb", type=int, required=True)
    p.add_argument("--forward", action="append", help="forward address; repeat")
    p = cmd(sub, "change", cmd_mailbox_change, "change quota_mb / forwards",
            parents=[writer, changer])
    p.add_argument("tenant")
    p.add_argument("address")
    p = cmd(sub, "password", cmd_mailbox_password, "set a mailbox password",
            parents=[writer, pw])
    p.add_argument("tenant")
    p.add_argument("address")
    p = cmd(sub, "lock", cmd_mailbox_lock, "stop a mailbox from sending", parents=[writer])
    p.add_argument("tenant")
    p.add_argument("address")
    p.add_argument("--lock-reason", required=True, help="why (shown to the user)")
    for name, func, help_text in (("unlock", cmd_mailbox_unlock, "allow sending again"),
                                  ("remove", cmd_mailbox_remove, "remove a mailbox")):
        p = cmd(sub, name, func, help_text, parents=[writer])
        p.add_argument("tenant")
        p.add_argument("address")

    # FTP
    sub = group("ftp", "a tenant's additional FTP accounts")
    cmd(sub, "list", cmd_ftp_list, "list FTP accounts").add_argument("tenant")
    p = cmd(sub, "add", cmd_ftp_add, "add an FTP account <tenant>-<name>", parents=[writer, pw])
    p.add_argument("tenant")
    p.add_argument("name")
    p.add_argument("--dir", default="", help="directory inside the web area (default: all)")
    p = cmd(sub, "change", cmd_ftp_change, "change directory and/or password",
            parents=[writer])
    p.add_argument("tenant")
    p.add_argument("name")
    p.add_argument("--dir")
    p.add_argument("--password", action="store_true", help="set a new password (prompted)")
    p.add_argument("--password-stdin", action="store_true")
    p = cmd(sub, "remove", cmd_ftp_remove, "remove an FTP account", parents=[writer])
    p.add_argument("tenant")
    p.add_argument("name")

    # databases
    sub = group("db", "a tenant's databases (MariaDB, PostgreSQL)")
    cmd(sub, "list", cmd_db_list, "list databases").add_argument("tenant")
    p = cmd(sub, "add", cmd_db_add, "add a database <tenant>_<name>", parents=[writer, pw])
    p.add_argument("tenant")
    p.add_argument("engine", choices=["mariadb", "postgresql"])
    p.add_argument("name")
    p.add_argument("--user", help="user name (default: the database name)")
    for name, func, help_text, parents in (
            ("password", cmd_db_password, "set a database user's password", [writer, pw]),
            ("remove", cmd_db_remove, "remove a database", [writer])):
        p = cmd(sub, name, func, help_text, parents=parents)
        p.add_argument("tenant")
        p.add_argument("engine", choices=["mariadb", "postgresql"])
        p.add_argument("name")

    # DNS
    sub = group("dns", "DNS records of a tenant's zones")
    p = cmd(sub, "show", cmd_dns_show, "show a zone's records")
    p.add_argument("tenant")
    p.add_argument("domain")
    p = cmd(sub, "set", cmd_dns_set, "replace a zone's records", parents=[writer])
    p.add_argument("tenant")
    p.add_argument("domain")
    p.add_argument("--file", required=True, metavar="FILE",
                   help="YAML/JSON list of {name, type, value, ttl} ('-': stdin)")


# --- inventory -----------------------------------------------------------------------------

def cmd_init(args, settings) -> int:
    from oemhost.store import Store

    path = Path(args.path or args.inventory or settings.inventory_dir)
    Store.init(path)
    _emit(args, {"inventory": str(path.absolute())}, f"inventory ready: {path}")
    return 0


def cmd_check(args, settings) -> int:
    store = _store(args, settings)
    issues = store.issues()
    errors = [i.line for i in issues if i.severity == "error"]
    warnings = [i.line for i in issues if i.severity != "error"]
    try:
        uncommitted = store.git.uncommitted()
    except OemhostError:
        uncommitted = []
    warnings += [f"{p}: not committed" for p in uncommitted]
    if args.json:
        _emit(args, {"inventory": str(store.root), "errors": errors, "warnings": warnings,
                     "ok": not errors and not (args.strict and warnings)})
    else:
        for line in errors:
            print(f"error: {line}")
        for line in warnings:
            print(f"warning: {line}")
        snap = store.refresh()
        print(f"{store.root}: {len(snap.nodes)} nodes, {len(snap.resellers)} resellers, "
              f"{len(snap.plans)} plans, {len(snap.tenants)} tenants; "
              f"{len(errors)} errors, {len(warnings)} warnings")
    return 1 if errors or (args.strict and warnings) else 0


def cmd_status(args, settings) -> int:
    store = _store(args, settings)
    paths = store.git.uncommitted()
    if args.json:
        _emit(args, paths)
    else:
        print("\n".join(paths) if paths else "nothing uncommitted under state/")
    return 0


def cmd_log(args, settings) -> int:
    store = _store(args, settings)
    entries = store.history(tenant=args.tenant, limit=args.n)
    if args.json:
        _emit(args, entries)
        return 0
    for e in entries:
        print(f"{e['commit'][:12]}  {e['date']}  {e['author']}  {e['subject']}")
    return 0


# --- nodes ---------------------------------------------------------------------------------

def cmd_node_list(args, settings) -> int:
    rows = [{"name": n.name, "address": n.address, "owner": n.owner,
             "services": ",".join(n.services), "infra": n.infra.provider,
             "capacity": n.capacity.tenants} for n in _store(args, settings).list_nodes()]
    return _table(args, rows, ["name", "address", "owner", "services", "infra", "capacity"])


def cmd_node_show(args, settings) -> int:
    return _show(args, _store(args, settings).get_node(args.name))


def cmd_node_put(args, settings) -> int:
    from oemhost.store import yamlio

    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    record = yamlio.loads(raw, source=args.file)
    commit = _store(args, settings).put_node(record, **_write_kwargs(args))
    name = record.get("name") if isinstance(record, dict) else ""
    return _committed(args, commit, f"node {name}")


def cmd_node_remove(args, settings) -> int:
    commit = _store(args, settings).remove_node(args.name, **_write_kwargs(args))
    return _committed(args, commit, f"node {args.name} removed")


# --- resellers -----------------------------------------------------------------------------

def cmd_reseller_list(args, settings) -> int:
    rows = [{"id": r.id, "company": r.company, "status": r.status,
             "brand": r.brand.display_name, "tenants_limit": r.limits.tenants}
            for r in _store(args, settings).list_resellers()]
    return _table(args, rows, ["id", "company", "status", "brand", "tenants_limit"])


def cmd_reseller_show(args, settings) -> int:
    return _show(args, _store(args, settings).get_reseller(args.id))


def cmd_reseller_add(args, settings) -> int:
    record = _changes(args)
    commit = _store(args, settings).add_reseller(record, **_write_kwargs(args))
    return _committed(args, commit, f"reseller {record.get('id')} added")


def cmd_reseller_change(args, settings) -> int:
    commit = _store(args, settings).change_reseller(args.id, _changes(args),
                                                    **_write_kwargs(args))
    return _committed(args, commit, f"reseller {args.id} changed")


def cmd_reseller_remove(args, settings) -> int:
    commit = _store(args, settings).remove_reseller(args.id, **_write_kwargs(args))
    return _committed(args, commit, f"reseller {args.id} removed")


# --- plans ---------------------------------------------------------------------------------

def cmd_plan_list(args, settings) -> int:
    rows = [{"plan": f"{p.reseller}/{p.id}", "name": p.name, "disk_mb": p.disk_mb,
             "domains": p.max_domains, "mailboxes": p.max_mailboxes,
             "databases": p.max_databases.mariadb + p.max_databases.postgresql,
             "ssh": p.ssh, "dns": p.dns, "mail": p.mail}
            for p in _store(args, settings).list_plans(args.reseller)]
    return _table(args, rows, ["plan", "name", "disk_mb", "domains", "mailboxes", "databases",
                               "ssh", "dns", "mail"])


def cmd_plan_show(args, settings) -> int:
    return _show(args, _store(args, settings).get_plan(*_split2(args.plan, "plan")))


def cmd_plan_add(args, settings) -> int:
    record = _changes(args)
    commit = _store(args, settings).add_plan(args.reseller, record, **_write_kwargs(args))
    return _committed(args, commit, f"plan {args.reseller}/{record.get('id')} added")


def cmd_plan_change(args, settings) -> int:
    reseller, plan = _split2(args.plan, "plan")
    commit = _store(args, settings).change_plan(reseller, plan, _changes(args),
                                                **_write_kwargs(args))
    return _committed(args, commit, f"plan {args.plan} changed")


def cmd_plan_remove(args, settings) -> int:
    reseller, plan = _split2(args.plan, "plan")
    commit = _store(args, settings).remove_plan(reseller, plan, **_write_kwargs(args))
    return _committed(args, commit, f"plan {args.plan} removed")


# --- tenants -------------------------------------------------------------------------------

def cmd_tenant_list(args, settings) -> int:
    rows = []
    for t in _store(args, settings).list_tenants(
            args.reseller, args.node, plan=args.plan, status=args.status, q=args.search,
            sort=args.sort, offset=args.offset, limit=args.limit):
        row = t.to_dict()
        row["version"] = t.version
        rows.append(row)
    if args.json:
        return _table(args, rows, [])
    for row in rows:
        row["domains"] = ",".join(row["domains"][:2]) + ("..." if len(row["domains"]) > 2
                                                           else "")
        row["errors"] = len(row["errors"]) or ""
    return _table(args, rows, ["id", "reseller", "plan", "node", "status", "contractor",
                               "domains", "mailboxes", "errors"])


def cmd_tenant_show(args, settings) -> int:
    return _show(args, _store(args, settings).get_tenant(args.id))


def cmd_tenant_add(args, settings) -> int:
    record = _changes(args)
    pw, extra = _password(args, f"tenant {record.get('id')}")
    commit = _store(args, settings).add_tenant(record, password=pw, **_write_kwargs(args))
    return _committed(args, commit, f"tenant {record.get('id')} added", extra)


def cmd_tenant_change(args, settings) -> int:
    commit = _store(args, settings).change_tenant(args.id, _changes(args),
                                                  **_write_kwargs(args))
    return _committed(args, commit, f"tenant {args.id} changed")


def cmd_tenant_status(args, settings) -> int:
    commit = _store(args, settings).set_tenant_status(args.id, args.status,
                                                      **_write_kwargs(args))
    return _committed(args, commit, f"tenant {args.id} {args.status}")


def cmd_tenant_remove(args, settings) -> int:
    commit = _store(args, settings).remove_tenant(args.id, **_write_kwargs(args))
    return _committed(args, commit, f"tenant {args.id} removed")


def cmd_tenant_purge(args, settings) -> int:
    commit = _store(args, settings).purge_tenant(args.id, **_write_kwargs(args))
    return _committed(args, commit, f"tenant {args.id} purged")


def cmd_tenant_password(args, settings) -> int:
    pw, extra = _password(args, f"tenant {args.id}")
    commit = _store(args, settings).set_tenant_password(args.id, pw, **_write_kwargs(args))
    return _committed(args, commit, f"tenant {args.id} password set", extra)


def cmd_tenant_disk(args, settings) -> int:
    commit = _store(args, settings).set_disk_split(args.id, args.web_mb, mail_mb=args.mail_mb,
                                                   **_write_kwargs(args))
    return _committed(args, commit, f"tenant {args.id} disk split set")


# --- domains, mailboxes, FTP, databases, DNS ---------------------------------------------------

def _tenant(args, settings):
    return _store(args, settings).get_tenant(args.tenant)


def cmd_domain_list(args, settings) -> int:
    from oemhost.store.validate import domain_to_unicode

    rows = [{"name": d.name, "display": domain_to_unicode(d.name), "docroot": d.docroot,
             "aliases": ",".join(d.aliases), "tls": d.tls.mode}
            for d in _tenant(args, settings).domains]
    return _table(args, rows, ["name", "display", "docroot", "aliases", "tls"])


def cmd_domain_add(args, settings) -> int:
    aliases = [] if args.no_alias else args.alias
    commit = _store(args, settings).add_domain(
        args.tenant, args.name, docroot=args.docroot, aliases=aliases,
        tls={"mode": args.tls} if args.tls else None, https_redirect=args.https_redirect,
        php_version=args.php, **_write_kwargs(args))
    return _committed(args, commit, f"domain {args.name} added")


def cmd_domain_change(args, settings) -> int:
    commit = _store(args, settings).change_domain(args.tenant, args.name, _changes(args),
                                                  **_write_kwargs(args))
    return _committed(args, commit, f"domain {args.name} changed")


def cmd_domain_remove(args, settings) -> int:
    commit = _store(args, settings).remove_domain(args.tenant, args.name,
                                                  **_write_kwargs(args))
    return _committed(args, commit, f"domain {args.name} removed")


def cmd_mailbox_list(args, settings) -> int:
    rows = [{"address": m.address, "quota_mb": m.quota_mb, "forwards": ",".join(m.forwards),
             "locked": m.locked.reason if m.locked else ""}
            for m in _tenant(args, settings).mailboxes]
    return _table(args, rows, ["address", "quota_mb", "forwards", "locked"])


def cmd_mailbox_add(args, settings) -> int:
    pw, extra = _password(args, args.address)
    commit = _store(args, settings).add_mailbox(args.tenant, args.address, pw, args.quota_mb,
                                                forwards=args.forward, **_write_kwargs(args))
    return _committed(args, commit, f"mailbox {args.address} added", extra)


def cmd_mailbox_change(args, settings) -> int:
    commit = _store(args, settings).change_mailbox(args.tenant, args.address, _changes(args),
                                                   **_write_kwargs(args))
    return _committed(args, commit, f"mailbox {args.address} changed")


def cmd_mailbox_password(args, settings) -> int:
    pw, extra = _password(args, args.address)
    commit = _store(args, settings).set_mailbox_password(args.tenant, args.address, pw,
                                                         **_write_kwargs(args))
    return _committed(args, commit, f"mailbox {args.address} password set", extra)


def cmd_mailbox_lock(args, settings) -> int:
    kw = _write_kwargs(args)
    kw.pop("reason")
    commit = _store(args, settings).lock_mailbox(args.tenant, args.address, args.lock_reason,
                                                 **kw)
    return _committed(args, commit, f"mailbox {args.address} locked")


def cmd_mailbox_unlock(args, settings) -> int:
    commit = _store(args, settings).unlock_mailbox(args.tenant, args.address,
                                                   **_write_kwargs(args))
    return _committed(args, commit, f"mailbox {args.address} unlocked")


def cmd_mailbox_remove(args, settings) -> int:
    commit = _store(args, settings).remove_mailbox(args.tenant, args.address,
                                                   **_write_kwargs(args))
    return _committed(args, commit, f"mailbox {args.address} removed")


def cmd_ftp_list(args, settings) -> int:
    rows = [{"name": a.name, "dir": a.dir or "(web area)"}
            for a in _tenant(args, settings).ftp_accounts]
    return _table(args, rows, ["name", "dir"])


def cmd_ftp_add(args, settings) -> int:
    pw, extra = _password(args, f"FTP account {args.name}")
    commit = _store(args, settings).add_ftp_account(args.tenant, args.name, pw, dir=args.dir,
                                                    **_write_kwargs(args))
    return _committed(args, commit, f"FTP account {args.name} added", extra)


def cmd_ftp_change(args, settings) -> int:
    pw = None
    if args.password or args.password_stdin:
        pw, _ = _password(args, f"FTP account {args.name}")
    commit = _store(args, settings).change_ftp_account(args.tenant, args.name, dir=args.dir,
                                                       password=pw, **_write_kwargs(args))
    return _committed(args, commit, f"FTP account {args.name} changed")


def cmd_ftp_remove(args, settings) -> int:
    commit = _store(args, settings).remove_ftp_account(args.tenant, args.name,
                                                       **_write_kwargs(args))
    return _committed(args, commit, f"FTP account {args.name} removed")


def cmd_db_list(args, settings) -> int:
    rows = [{"engine": d.engine, "name": d.name, "user": d.user}
            for d in _tenant(args, settings).databases]
    return _table(args, rows, ["engine", "name", "user"])


def cmd_db_add(args, settings) -> int:
    pw, extra = _password(args, f"database {args.name}")
    commit = _store(args, settings).add_database(args.tenant, args.engine, args.name, pw,
                                                 user=args.user, **_write_kwargs(args))
    return _committed(args, commit, f"{args.engine} database {args.name} added", extra)


def cmd_db_password(args, settings) -> int:
    pw, extra = _password(args, f"database {args.name}")
    commit = _store(args, settings).set_database_password(args.tenant, args.engine, args.name,
                                                          pw, **_write_kwargs(args))
    return _committed(args, commit, f"{args.engine} database {args.name} password set", extra)


def cmd_db_remove(args, settings) -> int:
    commit = _store(args, settings).remove_database(args.tenant, args.engine, args.name,
                                                    **_write_kwargs(args))
    return _committed(args, commit, f"{args.engine} database {args.name} removed")


def cmd_dns_show(args, settings) -> int:
    from oemhost.store import validate

    errs = validate.Errors()
    zone = validate.domain_name(args.domain, "domain", errs)
    errs.raise_if_any()
    rows = [r.to_dict() for r in _tenant(args, settings).dns_records if r.zone == zone]
    return _table(args, rows, ["name", "type", "value", "ttl"])


def cmd_dns_set(args, settings) -> int:
    from oemhost.store import yamlio

    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    records = yamlio.loads(raw, source=args.file)
    commit = _store(args, settings).set_dns_records(args.tenant, args.domain, records,
                                                    **_write_kwargs(args))
    return _committed(args, commit, f"DNS records of {args.domain} set")


__all__ = ["register"]
