# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Filters of the hosting roles (hosting_accounts, web, ftp): check the tenants' records
and shape them into what the batched modules and the templates need.

Everything here is plain Python over the ``oemhost_tenants`` records (docs/INVENTORY.md),
runs on the controller in one call for all tenants (no task per tenant) and is unit-tested
in tests/plugins/test_oemhost_hosting.py.

The roles check the records again although the inventory plugin validated them: a value
reaches a path, a config file or a command only after it matched a strict pattern here,
and a bad record fails the play *before* anything on a node changes, with a message
``"<tenant>: <field>: <message>"``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

try:
    from oemhost.ansible_native import native, plain_args
except ImportError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from oemhost.ansible_native import native, plain_args

TENANT_ID_RE = re.compile(r"^[a-z][a-z0-9]{2,15}$")
LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
FTP_SUFFIX_RE = re.compile(r"^[a-z0-9]{1,15}$")
SHA512_CRYPT_RE = re.compile(
    r"^\$6\$(rounds=[1-9][0-9]{3,8}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$")
CERT_REF_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
PHP_VERSION_RE = re.compile(r"^[5-9]\.[0-9]{1,2}$")
TLS_MODES = ("selfsigned", "acme", "own")
NODE_STATUSES = ("active", "suspended")
#: system accounts and service users a tenant id must not take (as the store's list)
RESERVED_IDS = frozenset("""
root daemon bin sys sync games man lp mail news uucp proxy backup list irc gnats nobody
systemd apt messagebus sshd postfix dovecot dovenull vmail mysql mariadb postgres ftp
pureftpd www www-data admin administrator operator ops oemhost ansible monitor nagios
debian ubuntu user users staff shadow adm tty disk kmem dialout fax voice cdrom floppy
tape sudo audio dip src utmp video sasl plugdev input render netdev lab test guest
abuse postmaster hostmaster webmaster noreply
""".split())
#: plan attributes the hosting roles read from a tenant's ``limits``
LIMIT_TYPES = {"disk_mb": int, "max_domains": int, "max_ftp_accounts": int, "ssh": bool,
               "ftps_required": bool}


# --- checks ------------------------------------------------------------------------------

def is_domain(value: Any) -> bool:
    """A lowercase ASCII (punycode) host name with at least two labels."""
    if not isinstance(value, str) or not 3 <= len(value) <= 253:
        return False
    labels = value.split(".")
    return (len(labels) >= 2 and all(LABEL_RE.match(label) for label in labels)
            and not labels[-1].isdigit())


def is_rel_path(value: Any, allow_empty: bool = False) -> bool:
    """A path inside an area: plain segments, no leading '/', no '..', no hidden names."""
    if value == "" and allow_empty:
        return True
    if not isinstance(value, str) or not value or len(value) > 200:
        return False
    return all(PATH_SEGMENT_RE.match(s) for s in value.split("/"))


def _shown(value: Any) -> str:
    if isinstance(value, str) and len(value) <= 80:
        return repr(value)
    return f"a {type(value).__name__}"


class _Collector:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, subject: str, field: str, message: str) -> None:
        self.errors.append(f"{subject}: {field}: {message}")


def _check_limits(tid: str, tenant: Mapping, err: _Collector) -> dict | None:
    limits = tenant.get("limits")
    plan = tenant.get("plan")
    if not isinstance(limits, Mapping) or not limits:
        err.add(tid, "plan", f"unknown plan {_shown(plan)}: no plan limits were resolved "
                             "for this tenant")
        return None
    ok = True
    for key, typ in LIMIT_TYPES.items():
        value = limits.get(key)
        if typ is int:
            good = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        else:
            good = isinstance(value, bool)
        if not good:
            err.add(tid, f"limits.{key}", f"plan {_shown(plan)} has no valid {key}")
            ok = False
    return dict(limits) if ok else None


def _check_disk(tid: str, tenant: Mapping, limits: Mapping | None, err: _Collector) -> None:
    disk = tenant.get("disk")
    if not isinstance(disk, Mapping):
        err.add(tid, "disk", "must be a mapping {web_mb, mail_mb}")
        return
    sizes = {}
    for key in ("web_mb", "mail_mb"):
        value = disk.get(key)
        # a plan without mail may give its mail area nothing: no mail area is made then
        least = 0 if key == "mail_mb" and limits and limits.get("mail") is False else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            err.add(tid, f"disk.{key}", f"must be a whole number of MB, at least {least}")
        else:
            sizes[key] = value
    if limits and len(sizes) == 2 and sizes["web_mb"] + sizes["mail_mb"] > limits["disk_mb"]:
        err.add(tid, "disk", f"web {sizes['web_mb']} MB + mail {sizes['mail_mb']} MB is more "
                             f"than the plan's {limits['disk_mb']} MB")


def _check_domains(tid: str, tenant: Mapping, limits: Mapping | None, owners: dict,
                   php_versions: list | None, err: _Collector) -> None:
    domains = tenant.get("domains") or []
    if not isinstance(domains, list):
        err.add(tid, "domains", "must be a list")
        return
    if limits and len(domains) > limits["max_domains"]:
        err.add(tid, "domains", f"{len(domains)} domains, the plan allows "
                                f"{limits['max_domains']}")
    for i, dom in enumerate(domains):
        where = f"domains[{i}]"
        if not isinstance(dom, Mapping):
            err.add(tid, where, "must be a mapping")
            continue
        names = [("name", dom.get("name"))]
        aliases = dom.get("aliases") or []
        if not isinstance(aliases, list):
            err.add(tid, f"{where}.aliases", "must be a list of domain names")
            aliases = []
        names += [(f"aliases[{j}]", a) for j, a in enumerate(aliases)]
        for key, name in names:
            if not is_domain(name):
                err.add(tid, f"{where}.{key}", f"{_shown(name)} is not a valid lowercase "
                                               "(punycode) domain name")
                continue
            other = owners.get(name)
            if other is not None and other[0] != tid:
                err.add(tid, f"{where}.{key}", f"{name} is also claimed by tenant {other[0]} "
                                               f"({other[1]})")
            elif other is not None:
                err.add(tid, f"{where}.{key}", f"{name} is listed twice (also {other[1]})")
            else:
                owners[name] = (tid, f"{where}.{key}")
        if not is_rel_path(dom.get("docroot", "public_html")):
            err.add(tid, f"{where}.docroot", f"{_shown(dom.get('docroot'))} must be a path "
                    "inside the web area (letters, digits, . _ -; no leading /, no '..')")
        tls = dom.get("tls") or {}
        if not isinstance(tls, Mapping) or tls.get("mode", "selfsigned") not in TLS_MODES:
            err.add(tid, f"{where}.tls.mode", f"must be one of {', '.join(TLS_MODES)}")
        elif tls.get("mode") == "own" and not (isinstance(tls.get("cert_ref"), str)
                                               and CERT_REF_RE.match(tls["cert_ref"])):
            err.add(tid, f"{where}.tls.cert_ref", "an own certificate needs a valid cert_ref")
        if not isinstance(dom.get("https_redirect", False), bool):
            err.add(tid, f"{where}.https_redirect", "must be true or false")
        php = dom.get("php_version")
        if php is not None:
            if not isinstance(php, str) or not PHP_VERSION_RE.match(php):
                err.add(tid, f"{where}.php_version", f"{_shown(php)} is not a PHP version")
            elif php_versions is not None and php not in php_versions:
                err.add(tid, f"{where}.php_version", f"PHP {php} is not offered on this node "
                        f"({', '.join(php_versions)})")


def _check_ftp(tid: str, tenant: Mapping, limits: Mapping | None, err: _Collector) -> None:
    accounts = tenant.get("ftp_accounts") or []
    if not isinstance(accounts, list):
        err.add(tid, "ftp_accounts", "must be a list")
        return
    if limits and len(accounts) > limits["max_ftp_accounts"]:
        err.add(tid, "ftp_accounts", f"{len(accounts)} FTP accounts, the plan allows "
                                     f"{limits['max_ftp_accounts']}")
    seen: set[str] = set()
    for i, acc in enumerate(accounts):
        where = f"ftp_accounts[{i}]"
        if not isinstance(acc, Mapping):
            err.add(tid, where, "must be a mapping")
            continue
        name = acc.get("name")
        if not (isinstance(name, str) and name.startswith(tid + "-")
                and FTP_SUFFIX_RE.match(name[len(tid) + 1:])):
            err.add(tid, f"{where}.name", f"{_shown(name)} must be {tid}-<a-z0-9, up to 15>")
        elif name in seen:
            err.add(tid, f"{where}.name", f"{name} is listed twice")
        else:
            seen.add(name)
        if not (isinstance(acc.get("password_hash"), str)
                and SHA512_CRYPT_RE.match(acc["password_hash"])):
            err.add(tid, f"{where}.password_hash", "must be a SHA512-crypt ($6$) hash")
        if not is_rel_path(acc.get("dir", ""), allow_empty=True):
            err.add(tid, f"{where}.dir", f"{_shown(acc.get('dir'))} must be a path inside the "
                    "web area (letters, digits, . _ -; no leading /, no '..')")


def hosting_errors(tenants: Any, removed: Any = None, scope: Any = None,
                   php_versions: Any = None) -> list[str]:
    """Everything wrong in the records the hosting roles use, one line per problem.

    ``tenants`` is ``oemhost_tenants``, ``removed`` ``oemhost_removed_tenants``, ``scope``
    ``oemhost_tenant_scope`` (ids or None), ``php_versions`` the versions the node offers
    (None: not checked). Cross-tenant rules (a domain claimed twice) always look at every
    tenant of the node, also in a tenant-scoped run.
    """
    err = _Collector()
    if tenants is None:
        tenants = []
    if not isinstance(tenants, list):
        return ["oemhost_tenants: must be a list of tenant records"]
    removed = removed or []
    if not isinstance(removed, list):
        return ["oemhost_removed_tenants: must be a list of tenant records"]
    if scope is not None:
        if not isinstance(scope, list) or not all(
                isinstance(s, str) and TENANT_ID_RE.match(s) for s in scope):
            err.add("oemhost_tenant_scope", "value", "must be a list of tenant ids")
    ids: dict[str, str] = {}
    owners: dict[str, tuple[str, str]] = {}
    for listname, records in (("oemhost_tenants", tenants),
                              ("oemhost_removed_tenants", removed)):
        for index, tenant in enumerate(records):
            tid = tenant.get("id") if isinstance(tenant, Mapping) else None
            if not isinstance(tid, str) or not TENANT_ID_RE.match(tid):
                err.add(f"{listname}[{index}]", "id", f"{_shown(tid)} is not a tenant id "
                                                       "([a-z][a-z0-9]{2,15})")
                continue
            if tid in RESERVED_IDS:
                err.add(tid, "id", f"{tid!r} is reserved for the system")
                continue
            if tid in ids:
                err.add(tid, "id", f"is listed twice ({ids[tid]} and {listname})")
                continue
            ids[tid] = listname
            if listname == "oemhost_removed_tenants":
                continue  # only its id is used (to lock the account)
            status = tenant.get("status", "active")
            if status not in NODE_STATUSES:
                err.add(tid, "status", f"{_shown(status)}: a tenant on a node is active or "
                                       "suspended (removed ones are in oemhost_removed_tenants)")
            limits = _check_limits(tid, tenant, err)
            _check_disk(tid, tenant, limits, err)
            if not isinstance(tenant.get("ssh", False), bool):
                err.add(tid, "ssh", "must be true or false")
            pw = tenant.get("password_hash")
            if pw is not None and not (isinstance(pw, str) and SHA512_CRYPT_RE.match(pw)):
                err.add(tid, "password_hash", "must be a SHA512-crypt ($6$) hash")
            _check_domains(tid, tenant, limits, owners, php_versions, err)
            _check_ftp(tid, tenant, limits, err)
    return err.errors


# --- shaping -------------------------------------------------------------------------------

def hosting_scope(tenants: Iterable[Mapping] | None, scope: Any = None) -> list[Mapping]:
    """The tenants a run converges: all of them, or those whose id is in ``scope``."""
    if scope is None:
        return native(list(tenants or []))
    wanted = set(native(scope))
    # pick the scope's records from the raw list first: only they are copied (a scoped
    # run reads one tenant's record of hundreds, on every task)
    tenants = tenants or []
    raw = tenants._non_lazy_copy() if hasattr(tenants, "_non_lazy_copy") else tenants
    return [native(tenants[i]) for i, t in enumerate(raw)
            if isinstance(t, Mapping) and t.get("id") in wanted]


def _ssh_allowed(tenant: Mapping) -> bool:
    return (tenant.get("status", "active") == "active" and bool(tenant.get("ssh"))
            and bool((tenant.get("limits") or {}).get("ssh")))


def hosting_users(tenants: Iterable[Mapping] | None,
                  removed: Iterable[Mapping] | None = None) -> list[dict]:
    """Entries for the ``oemhost_tenant_users`` module: one per tenant of the node.

    Active tenants log in with their password hash; suspended and removed ones are locked
    (the hash kept behind a '!', as ``usermod -L`` does). SSH is on only when the plan
    allows it, the tenant wants it and the tenant is active.
    """
    out = []
    for tenant in tenants or []:
        active = tenant.get("status", "active") == "active"
        out.append({"name": tenant["id"], "password_hash": tenant.get("password_hash"),
                    "locked": not active, "ssh": _ssh_allowed(tenant), "state": "present"})
    for tenant in removed or []:
        out.append({"name": tenant["id"], "password_hash": tenant.get("password_hash"),
                    "locked": True, "ssh": False, "state": "present"})
    return out


def hosting_areas(tenants: Iterable[Mapping] | None) -> list[dict]:
    """Entries for the ``oemhost_quota`` module: limits per area and the plan total."""
    return [{"tenant": t["id"],
             "areas": {area: t["disk"][f"{area}_mb"] for area in ("web", "mail")
                       if t["disk"][f"{area}_mb"] > 0},
             "total_mb": t["limits"]["disk_mb"]}
            for t in tenants or []]


def _domain_names(tenants: Iterable[Mapping]) -> list[str]:
    return [d["name"] for t in tenants for d in t.get("domains") or []]


def web_dirs(tenants: Iterable[Mapping] | None, base: str, web_group: str) -> list[dict]:
    """Directories the web role keeps under each tenant's home: logs, PHP's tmp, and every
    document root (with the directories leading to it)."""
    out = []
    for t in tenants or []:
        tid = t["id"]
        out.append({"path": f"{tid}/logs", "owner": "root", "group": tid, "mode": "0750"})
        out.append({"path": f"{tid}/web/tmp", "owner": tid, "group": tid, "mode": "0700"})
        docroots = sorted({d.get("docroot", "public_html") for d in t.get("domains") or []})
        for docroot in docroots:
            out.append({"path": f"{tid}/web/{docroot}", "owner": tid, "group": web_group,
                        "mode": "02750", "parents": {"owner": tid, "group": web_group,
                                                     "mode": "02750"}})
    return out


def web_certificates(tenants: Iterable[Mapping] | None) -> list[dict]:
    """Entries for ``oemhost_selfsigned_certs``: every domain gets a self-signed
    certificate for its name and aliases (used until an ACME or own one is there)."""
    return [{"name": d["name"], "sans": [d["name"], *(d.get("aliases") or [])]}
            for t in tenants or [] for d in t.get("domains") or []]


def web_tls_domains(tenants: Iterable[Mapping] | None, modes: Any) -> list[dict]:
    """The domains whose TLS mode is one of ``modes`` (a name or a list)."""
    modes = [modes] if isinstance(modes, str) else list(modes)
    return [dict(d) for t in tenants or [] for d in t.get("domains") or []
            if (d.get("tls") or {}).get("mode", "selfsigned") in modes]


def web_sites(tenants: Iterable[Mapping] | None, base: str, tls_root: str,
              present_certs: Iterable[str] | None = None) -> list[dict]:
    """What the vhost and PHP-FPM templates render, resolved per tenant and domain.

    ``present_certs`` are the domains whose ACME or own certificate exists on the node
    (``<tls_root>/<domain>/``); other domains use their self-signed one.
    """
    present = set(present_certs or [])
    sites = []
    for t in tenants or []:
        tid = t["id"]
        domains = []
        for d in t.get("domains") or []:
            mode = (d.get("tls") or {}).get("mode", "selfsigned")
            own = mode in ("acme", "own") and d["name"] in present
            cert_dir = (f"{tls_root}/{d['name']}" if own
                        else f"{tls_root}/selfsigned/{d['name']}")
            domains.append({
                "name": d["name"], "aliases": list(d.get("aliases") or []),
                "docroot": f"{base}/{tid}/web/{d.get('docroot', 'public_html')}",
                "https_redirect": bool(d.get("https_redirect", False)),
                "tls_mode": mode,
                "cert": f"{cert_dir}/fullchain.pem", "key": f"{cert_dir}/privkey.pem",
            })
        sites.append({"id": tid, "home": f"{base}/{tid}", "web": f"{base}/{tid}/web",
                      "logs": f"{base}/{tid}/logs",
                      "suspended": t.get("status", "active") != "active",
                      "domains": domains})
    return sites


def ftp_accounts(tenants: Iterable[Mapping] | None, base: str) -> list[dict]:
    """Every FTP login of the node's active tenants, for ``oemhost_pureftpd_accounts``: the
    main account (the tenant id, jailed to the web area) and the additional ones (jailed to
    their directory), each running as the tenant's system user."""
    out = []
    for t in tenants or []:
        tid = t["id"]
        if t.get("status", "active") != "active":
            continue
        tls = bool((t.get("limits") or {}).get("ftps_required", True))
        if t.get("password_hash"):
            out.append({"login": tid, "password_hash": t["password_hash"], "user": tid,
                        "dir": f"{base}/{tid}/web", "tls_required": tls})
        for acc in t.get("ftp_accounts") or []:
            sub = acc.get("dir") or ""
            out.append({"login": acc["name"], "password_hash": acc["password_hash"],
                        "user": tid, "dir": f"{base}/{tid}/web" + (f"/{sub}" if sub else ""),
                        "tls_required": tls})
    return sorted(out, key=lambda a: a["login"])


def ftp_dirs(tenants: Iterable[Mapping] | None, web_group: str) -> list[dict]:
    """The directories of the additional FTP accounts (inside the web area)."""
    out = []
    for t in tenants or []:
        tid = t["id"]
        for sub in sorted({a.get("dir") for a in t.get("ftp_accounts") or [] if a.get("dir")}):
            out.append({"path": f"{tid}/web/{sub}", "owner": tid, "group": web_group,
                        "mode": "02750", "parents": {"owner": tid, "group": web_group,
                                                     "mode": "02750"}})
    return out


class FilterModule:
    def filters(self):
        return {"oemhost_hosting_scope": hosting_scope} | {name: plain_args(fn) for name, fn in {
            "oemhost_hosting_errors": hosting_errors,
            "oemhost_hosting_users": hosting_users,
            "oemhost_hosting_areas": hosting_areas,
            "oemhost_web_dirs": web_dirs,
            "oemhost_web_certificates": web_certificates,
            "oemhost_web_sites": web_sites,
            "oemhost_web_tls_domains": web_tls_domains,
            "oemhost_ftp_accounts": ftp_accounts,
            "oemhost_ftp_dirs": ftp_dirs,
        }.items()}
