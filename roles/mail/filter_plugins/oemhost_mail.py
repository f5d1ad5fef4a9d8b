"""Filters of the ``mail`` role: validate the tenants' mail state and flatten it.

``oemhost_mail_state`` turns ``oemhost_tenants`` (records as in docs/INVENTORY.md) into the
flat lists the role's templates render (domains, mailboxes, forwards, locks, sending
limits) and collects every error as ``"<tenant>: <field>: <message>"``. The role asserts
that list is empty before anything on the node changes, so a bad value (an address on a
domain the tenant does not own, a quota above the plan, a malformed hash...) stops the run
with a message naming the tenant and the field.

Every string that reaches a config file is checked against a strict pattern here: no
value can carry a newline, a colon, a space or a directive into Postfix maps, the Dovecot
passwd-file or the policy daemon's YAML.

The functions are plain Python so that tests/roles/mail/ can call them directly.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path

try:
    from oemhost.ansible_native import plain_args
except ImportError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from oemhost.ansible_native import plain_args

TENANT_ID = re.compile(r"^[a-z][a-z0-9]{2,15}$")
# one DNS label: letters, digits, inner hyphens (punycode "xn--" labels included)
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
DOMAIN = re.compile(rf"^(?=.{{4,253}}$){_LABEL}(?:\.{_LABEL})*\.[a-z][a-z0-9-]{{1,62}}(?<!-)$")
# a mailbox's local part, as the store allows it (oemhost/store/validate.py MAIL_LOCAL_RE):
# lowercase ASCII letters, digits and . _ + -, starting with a letter or digit, no dot last
# or doubled. `+` is part of the name: the node does no sub-addressing.
LOCAL_PART = re.compile(r"[a-z0-9](?:[a-z0-9_+-]|\.(?=[a-z0-9_+-])){0,63}")
# a forwarding target's local part may also hold capitals (FORWARD_LOCAL_RE)
FORWARD_LOCAL_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_+-]|\.(?=[A-Za-z0-9_+-])){0,63}")
# Dovecot's SHA512-CRYPT as the store writes it (oemhost.store.hashing)
DOVECOT_HASH = re.compile(
    r"^\{SHA512-CRYPT\}\$6\$(?:rounds=[0-9]{4,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$")

HOUR = 3600
DAY = 86400


def split_address(address: object, local_re: re.Pattern = LOCAL_PART) -> tuple[str, str] | None:
    """``(local, domain)`` of a valid address (lowercase domain), else ``None``."""
    if not isinstance(address, str) or address.count("@") != 1:
        return None
    local, domain = address.split("@")
    if not local_re.fullmatch(local) or not DOMAIN.fullmatch(domain):
        return None
    return local, domain


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _limits(tenant: Mapping, default_limits: Mapping, err) -> dict | None:
    limits = tenant.get("limits")
    if not isinstance(limits, Mapping):
        err("limits", "missing (the plan's attributes, resolved)")
        return None
    out = {"mail": limits.get("mail")}
    if not isinstance(out["mail"], bool):
        err("limits.mail", "must be true or false")
        return None
    for key in ("max_mailboxes", "max_mailbox_mb"):
        val = _int(limits.get(key))
        if val is None or val < 0:
            err(f"limits.{key}", "must be a whole number >= 0")
            return None
        out[key] = val
    rates = limits.get("mail_limits")
    if rates is None:
        rates = {}
    if not isinstance(rates, Mapping):
        err("limits.mail_limits", "must be a mapping {per_hour, per_day}")
        return None
    for key in ("per_hour", "per_day"):
        val = rates.get(key, default_limits.get(key))
        if _int(val) is None or val < 1:
            err(f"limits.mail_limits.{key}", "must be a whole number >= 1")
            return None
        out[key] = val
    return out


def _locked(value: object, err) -> dict | None:
    """``None`` when not locked, else ``{"login": bool}`` (the reason stays inert)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        err("locked", "must be null or a mapping {reason, at, by[, login]}")
        return None
    for key in ("reason", "by"):
        if not isinstance(value.get(key), str) or not value.get(key):
            err(f"locked.{key}", "must be a non-empty string")
    if value.get("at") in (None, ""):
        err("locked.at", "missing (when the lock was set)")
    login = value.get("login", False)
    if not isinstance(login, bool):
        err("locked.login", "must be true or false")
        login = True  # the stricter reading until the record is fixed
    return {"login": login}


def mail_state(tenants: object, *, hosting_root: str = "/srv/hosting",
               default_limits: Mapping | None = None, max_forwards: int = 20) -> dict:
    """Validate the tenants' mail state and return it flattened.

    Returns a dict with ``errors`` (list of strings), ``domains``, ``tls_domains``,
    ``mailboxes``, ``forwards``, ``locked``, ``refused_senders``, ``rate_limits`` and
    ``tenants`` (ids of tenants with mail, whose system users must exist on the node), all
    sorted so the rendered files only change when the state does.
    """
    default_limits = dict(default_limits or {})
    errors: list[str] = []
    domains: dict[str, str] = {}          # domain -> tenant
    tls_domains: set[str] = set()         # domains with their own (acme / own) certificate
    mailboxes: dict[str, dict] = {}       # address -> record
    forwards: dict[str, list[str]] = {}
    locked: list[str] = []
    refused: list[dict] = []              # SASL logins that may not send, and why
    rate_limits: dict[str, list[list[int]]] = {}
    mail_tenants: list[str] = []

    if tenants is None:
        tenants = []
    if not isinstance(tenants, list):
        return {"errors": ["oemhost_tenants: must be a list of tenant records"],
                "domains": [], "tls_domains": [], "mailboxes": [], "forwards": [],
                "locked": [], "refused_senders": [], "rate_limits": {}, "tenants": []}

    for index, tenant in enumerate(tenants):
        tid = tenant.get("id") if isinstance(tenant, Mapping) else None
        if not isinstance(tid, str) or not TENANT_ID.fullmatch(tid):
            errors.append(f"oemhost_tenants[{index}]: id: must match {TENANT_ID.pattern}")
            continue

        def err(field: str, message: str, _tid: str = tid) -> None:
            errors.append(f"{_tid}: {field}: {message}")

        status = tenant.get("status", "active")
        if status not in ("active", "suspended"):
            err("status", "must be active or suspended on a node")
            continue
        limits = _limits(tenant, default_limits, err)
        if limits is None:
            continue
        boxes = tenant.get("mailboxes") or []
        if not isinstance(boxes, list):
            err("mailboxes", "must be a list")
            continue
        if not limits["mail"]:
            if boxes:
                err("mailboxes", "the plan has no mail service, but mailboxes are defined")
            continue
        if len(boxes) > limits["max_mailboxes"]:
            err("mailboxes", f"{len(boxes)} mailboxes, the plan allows "
                             f"{limits['max_mailboxes']}")

        disk = tenant.get("disk")
        mail_mb = _int(disk.get("mail_mb")) if isinstance(disk, Mapping) else None
        owned: set[str] = set()
        for dindex, domain in enumerate(tenant.get("domains") or []):
            name = domain.get("name") if isinstance(domain, Mapping) else None
            if not isinstance(name, str) or not DOMAIN.fullmatch(name):
                err(f"domains[{dindex}].name", "not a valid lowercase (punycode) domain name")
                continue
            if name in domains and domains[name] != tid:
                err(f"domains[{dindex}].name", f"{name} is also claimed by tenant "
                                               f"{domains[name]}")
                continue
            domains[name] = tid
            owned.add(name)
            tls = domain.get("tls")
            if isinstance(tls, Mapping) and tls.get("mode") in ("acme", "own"):
                tls_domains.add(name)
        mail_tenants.append(tid)

        for bindex, box in enumerate(boxes):
            where = f"mailboxes[{bindex}]"
            if not isinstance(box, Mapping):
                err(where, "must be a mapping")
                continue
            address = box.get("address")
            parts = split_address(address)
            if parts is None:
                err(f"{where}.address", "not a valid lowercase address "
                                        "(letters, digits, . _ + - before the @)")
                continue
            if parts[1] not in owned:
                err(f"{where}.address", f"{address}: the domain {parts[1]} is not one of "
                                        "this tenant's domains")
                continue
            if address in mailboxes:
                err(f"{where}.address", f"{address} is defined twice")
                continue
            pw = box.get("password_hash")
            if not isinstance(pw, str) or not DOVECOT_HASH.fullmatch(pw):
                # never echo the value: it is a password hash
                err(f"{where}.password_hash", "must be a Dovecot {SHA512-CRYPT}$6$... hash")
                continue
            quota = _int(box.get("quota_mb"))
            if quota is None or quota < 1:
                err(f"{where}.quota_mb", "must be a whole number of MB >= 1")
                continue
            if quota > limits["max_mailbox_mb"]:
                err(f"{where}.quota_mb", f"{quota} MB is above the plan's mailbox size "
                                         f"{limits['max_mailbox_mb']} MB")
                continue
            if mail_mb is not None and quota > mail_mb:
                err(f"{where}.quota_mb", f"{quota} MB is above the tenant's mail area "
                                         f"{mail_mb} MB (disk.mail_mb)")
                continue
            targets = box.get("forwards") or []
            if not isinstance(targets, list) or len(targets) > max_forwards:
                err(f"{where}.forwards", f"must be a list of at most {max_forwards} addresses")
                continue
            bad = [i for i, t in enumerate(targets)
                   if split_address(t, FORWARD_LOCAL_PART) is None or t == address]
            if bad:
                err(f"{where}.forwards[{bad[0]}]", "not a valid lowercase address "
                                                   "(or the mailbox itself)")
                continue
            lock = _locked(box.get("locked"), lambda f, m, _w=where: err(f"{_w}.{f}", m))
            local, domain = parts
            mailboxes[address] = {
                "address": address,
                "tenant": tid,
                "password_hash": pw,
                # Dovecot resolves the tenant's user and group by name
                "uid": tid,
                "gid": tid,
                "home": f"{hosting_root}/{tid}/mail/{domain}/{local}",
                "quota_mb": quota,
                "login": status == "active" and not (lock and lock["login"]),
                "send": status == "active" and lock is None,
            }
            if targets:
                forwards[address] = list(dict.fromkeys(targets))
            if lock is not None:
                locked.append(address)
            if status != "active" or lock is not None:
                # Dovecot's nologin stops IMAP/POP3 logins but not SMTP AUTH (Postfix asks
                # the auth service directly), so Postfix refuses these logins itself.
                refused.append({"address": address,
                                "why": "suspended" if status != "active" else "locked"})
            rate_limits[address] = [[limits["per_hour"], HOUR], [limits["per_day"], DAY]]

    return {
        "errors": errors,
        "domains": sorted(domains),
        "tls_domains": sorted(tls_domains),
        "mailboxes": [mailboxes[a] for a in sorted(mailboxes)],
        "forwards": [{"address": a, "targets": forwards[a]} for a in sorted(forwards)],
        "locked": sorted(locked),
        "refused_senders": sorted(refused, key=lambda r: r["address"]),
        "rate_limits": {a: rate_limits[a] for a in sorted(rate_limits)},
        "tenants": sorted(mail_tenants),
    }


def split_limits(rate_limits: Mapping, default_limits: Mapping) -> tuple[list, dict]:
    """The daemon's default limits and its per-login exceptions.

    The most common limits of the node's mailboxes (usually one plan's) become the
    default, and only mailboxes with other limits are listed: the configuration stays
    small, so the daemon restarts fast when a mailbox is added. Every SASL login is a
    mailbox of the inventory, so no unknown login falls back to the default.
    """
    counts: dict[tuple, int] = {}
    for limits in rate_limits.values():
        key = tuple(tuple(pair) for pair in limits)
        counts[key] = counts.get(key, 0) + 1
    if counts:
        best = min(counts, key=lambda k: (-counts[k], k))
        common = [list(pair) for pair in best]
    else:
        common = [[int(default_limits["per_hour"]), HOUR], [int(default_limits["per_day"]), DAY]]
    exceptions = {a: lim for a, lim in rate_limits.items()
                  if [list(pair) for pair in lim] != common}
    return common, exceptions


def render_tables(state: Mapping, *, header: str, locked_text: str, suspended_text: str,
                  rate_fail_text: str, default_limits: Mapping,
                  policyd_database: str) -> dict[str, str]:
    """The contents of the node's mail tables, built from a valid ``mail_state``.

    Plain string building rather than Jinja templates: with thousands of mailboxes the
    templating layer of Ansible, not the writing, was the cost of a converge (measured in
    bench/bench_mail_converge.py). Every value here passed the patterns above.
    """
    head = "".join(f"# {line}\n" for line in header.splitlines())

    def table(comment: str, lines) -> str:
        return head + f"# Role mail: {comment}\n" + "".join(f"{line}\n" for line in lines)

    passwd = table(
        "one line per mailbox (address:hash:uid:gid::home::extra fields), hashes only.",
        (f"{b['address']}:{b['password_hash']}:{b['uid']}:{b['gid']}::{b['home']}::"
         f"userdb_quota_rule=*:storage={b['quota_mb']}M" + ("" if b["login"] else " nologin=y")
         for b in state["mailboxes"]))
    common, exceptions = split_limits(state["rate_limits"], default_limits)
    policyd = {
        "debug": False,
        "user": "policyd-rate-limit",
        "group": "postfix",
        "pidfile": "/run/policyd-rate-limit/policyd-rate-limit.pid",
        "backend": 0,
        "sqlite_config": {"database": policyd_database},
        "SOCKET": "/var/spool/postfix/ratelimit/policy",
        "socket_permission": 0o660,
        "limit_by_sasl": True,
        "limit_by_sender": False,
        "limit_by_ip": False,
        "limited_networks": [],
        "limits": common,
        "limits_by_id": exceptions,
        "success_action": "dunno",
        "fail_action": f"defer_if_permit 4.7.1 {rate_fail_text}",
        "db_error_action": "dunno",
        "report": True,
        "report_to": None,
        "report_limits": [HOUR, DAY],
        "report_only_if_needed": True,
    }
    policyd_text = (head + "# Role mail: sending limits per SASL login (recipients per hour / "
                    "day) from each\n# mailbox's plan. JSON, a subset of YAML: no value can "
                    "become YAML syntax. The\n# daemon runs with group postfix and a 0660 "
                    "socket, so only Postfix can talk to it.\n"
                    + json.dumps(policyd, indent=1, sort_keys=True) + "\n")
    texts = {"locked": locked_text, "suspended": suspended_text}
    return {
        "domains": table("tenant domains whose plan has mail.",
                         (f"{d} OK" for d in state["domains"])),
        "mailboxes": table("mailboxes (recipient check) and the login owning each address.",
                           (f"{b['address']} {b['address']}" for b in state["mailboxes"])),
        "forwards": table("forwards; the mailbox keeps its own copy.",
                          (f"{f['address']} {','.join([f['address'], *f['targets']])}"
                           for f in state["forwards"])),
        "refused_senders": table("SASL logins that may not send (locked in the inventory, "
                                 "or of a suspended tenant).",
                                 (f"{r['address']} REJECT {texts[r['why']]}"
                                  for r in state["refused_senders"])),
        "passwd": passwd,
        "policyd": policyd_text,
    }


ONE_LINE = re.compile(r"[^\x00-\x1f\x7f]*")


def mail_tables(tenants: object, settings: Mapping) -> dict:
    """Filter ``oemhost_mail_tables``: validate, then render (nothing when invalid)."""
    state = mail_state(tenants, hosting_root=settings["hosting_root"],
                       default_limits=settings["default_limits"],
                       max_forwards=int(settings["max_forwards"]))
    # the provider's reply texts go into Postfix tables and the daemon's config
    for name in ("locked_text", "suspended_text", "rate_fail_text"):
        if not isinstance(settings[name], str) or not ONE_LINE.fullmatch(settings[name]):
            state["errors"].append(f"mail__{name}: must be one line of text")
    for key in ("per_hour", "per_day"):
        value = settings["default_limits"].get(key)
        if _int(value) is None or value < 1:
            state["errors"].append(f"mail__rate_default_limits.{key}: must be a whole number >= 1")
    files = {} if state["errors"] else render_tables(
        state, header=settings["header"], locked_text=settings["locked_text"],
        suspended_text=settings["suspended_text"], rate_fail_text=settings["rate_fail_text"],
        default_limits=settings["default_limits"],
        policyd_database=settings["policyd_database"])
    return {"errors": state["errors"], "tenants": state["tenants"],
            "tls_domains": state["tls_domains"], "files": files,
            "counts": {"domains": len(state["domains"]), "mailboxes": len(state["mailboxes"])}}


class FilterModule:
    def filters(self):
        return {"oemhost_mail_state": plain_args(mail_state),
                "oemhost_mail_tables": plain_args(mail_tables)}
