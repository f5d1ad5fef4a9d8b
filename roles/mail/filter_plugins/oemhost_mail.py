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

import re
from collections.abc import Mapping

TENANT_ID = re.compile(r"^[a-z][a-z0-9]{2,15}$")
# one DNS label: letters, digits, inner hyphens (punycode "xn--" labels included)
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
DOMAIN = re.compile(rf"^(?=.{{4,253}}$){_LABEL}(?:\.{_LABEL})*\.[a-z][a-z0-9-]{{1,62}}(?<!-)$")
# local part: lowercase ASCII letters, digits and . _ - (no leading, trailing or double dot)
LOCAL_PART = re.compile(r"^(?=.{1,64}$)[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$")
# Dovecot's SHA512-CRYPT as the store writes it (oemhost.store.hashing)
DOVECOT_HASH = re.compile(
    r"^\{SHA512-CRYPT\}\$6\$(?:rounds=[0-9]{4,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$")

HOUR = 3600
DAY = 86400


def split_address(address: object) -> tuple[str, str] | None:
    """``(local, domain)`` of a valid, lowercase address, else ``None``."""
    if not isinstance(address, str) or address.count("@") != 1:
        return None
    local, domain = address.split("@")
    if not LOCAL_PART.fullmatch(local) or not DOMAIN.fullmatch(domain):
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


def mail_state(tenants: object, passwd: Mapping | None = None, *,
               hosting_root: str = "/srv/hosting",
               default_limits: Mapping | None = None,
               max_forwards: int = 20) -> dict:
    """Validate the tenants' mail state and return what the role renders.

    ``passwd`` is ``getent_passwd`` from ``ansible.builtin.getent`` (user -> [pw, uid, gid,
    ...]); when given, every mail tenant must have its system user. Returns a dict with
    ``errors`` (list of strings), ``domains``, ``tls_domains``, ``mailboxes``, ``forwards``,
    ``locked``, ``refused_senders``, ``rate_limits`` and ``tenants`` (ids of tenants with
    mail), all sorted so the rendered files only change when the state does.
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

        uid = gid = None
        if passwd is not None:
            entry = passwd.get(tid)
            if not entry or len(entry) < 3:
                err("id", "no system user on the node (role hosting_accounts creates it)")
            else:
                uid, gid = entry[1], entry[2]

        for bindex, box in enumerate(boxes):
            where = f"mailboxes[{bindex}]"
            if not isinstance(box, Mapping):
                err(where, "must be a mapping")
                continue
            address = box.get("address")
            parts = split_address(address)
            if parts is None:
                err(f"{where}.address", "not a valid lowercase address "
                                        "(letters, digits, . _ - before the @)")
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
            targets = box.get("forwards") or []
            if not isinstance(targets, list) or len(targets) > max_forwards:
                err(f"{where}.forwards", f"must be a list of at most {max_forwards} addresses")
                continue
            bad = [i for i, t in enumerate(targets) if split_address(t) is None or t == address]
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
                "uid": uid,
                "gid": gid,
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


class FilterModule:
    def filters(self):
        return {"oemhost_mail_state": mail_state}
