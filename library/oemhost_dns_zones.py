#!/usr/bin/python
# Copyright (c) 2026, oemhost
# SPDX-License-Identifier: MIT
"""Batched BIND9 zone files for every tenant domain whose plan includes DNS."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_dns_zones
short_description: Write, check and load the zone files of all tenant domains in one call
description:
  - Builds one primary zone per domain of every tenant whose plan has C(dns=true), from the
    tenants placed on the node(s) this server answers for. Each zone gets SOA and NS, A/AAAA
    for the apex, C(www) and the domain's in-zone aliases, MX and an SPF TXT record pointing
    at the tenant's node (a null MX and C(v=spf1 -all) when the plan has no mail), then the
    tenant's own C(dns_records). A tenant record replaces the defaults of the same name and
    type (a CNAME replaces every default at its name; an SPF TXT at C(@) replaces the default
    SPF; a tenant MX at C(@) also drops the default SPF).
  - Acts only on what differs. The serial is managed here - it is only bumped when the
    zone's content changes (C(max(old + 1, YYYYMMDD00))), so a second run changes nothing.
  - Every new or changed zone file is written to a temporary file and checked with
    C(named-checkzone) first; a zone that fails the check is not installed (the old file,
    if any, keeps serving) and the module fails after installing the zones that passed,
    naming the tenant, the zone and the checker's message.
  - Writes the zone list (an C(include) file for named.conf) with only the zones whose file
    is in place, checks it with C(named-checkconf), and tells named with C(rndc reconfig)
    (zones added or removed) and C(rndc reload <zone>) (zones changed). A failed C(rndc)
    leaves a marker so the next run reloads everything.
  - Zone files of zones no longer wanted are deleted (with O(scope), only those of the
    tenants in scope).
  - Inputs are checked before anything is written; names and values that could inject
    zone-file syntax (newlines, C(;), C($), parentheses, quotes) are refused.
version_added: "0.1.0"
author: oemhost
attributes:
  check_mode:
    support: full
    details: In check mode changed zones are still checked with named-checkzone (read only).
  diff_mode:
    support: full
options:
  sources:
    description:
      - Nodes whose tenants this server answers for. Each has the node's C(addresses) (the
        A/AAAA target of its tenants' names) and its C(tenants) (tenant records as the
        inventory gives them - C(id), C(status), C(limits.dns), C(limits.mail), C(domains),
        C(dns_records); other keys are ignored).
    type: list
    elements: dict
    required: true
    suboptions:
      addresses:
        type: list
        elements: str
        required: true
        description: The node's public IPv4/IPv6 addresses.
      tenants:
        type: list
        elements: dict
        default: []
        description: Tenant records.
  nameservers:
    description:
      - Host names of the authoritative servers (NS records; the first is the SOA MNAME).
        Empty means one in-zone C(ns1.<zone>) with the node's address as glue.
    type: list
    elements: str
    default: []
  hostmaster:
    description: SOA RNAME as a mail address or DNS name; empty means C(hostmaster.<zone>).
    type: str
    default: ""
  mail_host:
    description:
      - MX target for tenants with mail. Empty means an in-zone C(mail.<zone>) with the
        node's addresses.
    type: str
    default: ""
  default_ttl:
    description: TTL of the zone's default records (and C($TTL)).
    type: int
    default: 3600
  soa:
    description: SOA timers in seconds.
    type: dict
    default: {}
    suboptions:
      refresh: {type: int, default: 3600, description: Refresh.}
      retry: {type: int, default: 900, description: Retry.}
      expire: {type: int, default: 1209600, description: Expire.}
      negative_ttl: {type: int, default: 300, description: Negative caching TTL.}
  scope:
    description: Tenant ids whose zones are written or removed; omit for all.
    type: list
    elements: str
  zone_dir:
    description: Directory of the zone files (C(<zone>.zone)).
    type: path
    default: /var/lib/bind/oemhost
  conf_file:
    description: The zone list included from named.conf.
    type: path
    default: /etc/bind/oemhost/zones.conf
  group:
    description: Group owning zone files (named reads them).
    type: str
    default: bind
  checkzone:
    description: Path of named-checkzone.
    type: path
    default: /usr/bin/named-checkzone
  checkconf:
    description: Path of named-checkconf.
    type: path
    default: /usr/bin/named-checkconf
  rndc:
    description: Path of rndc; used when O(reload=true).
    type: path
    default: /usr/sbin/rndc
  reload:
    description: Tell the running named about changes.
    type: bool
    default: true
  validate_only:
    description: Only check the input; no file is read or written, no checker run.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Write, check and load the tenants' zones
  oemhost_dns_zones:
    sources:
      - addresses: ["{{ oemhost_node.address }}"]
        tenants: "{{ oemhost_tenants | community.general.keep_keys(
                     target=['id', 'status', 'limits', 'domains', 'dns_records']) }}"
    nameservers: [ns1.provider.example, ns2.provider.example]
    hostmaster: hostmaster@provider.example
    scope: "{{ oemhost_tenant_scope | default(omit) }}"
"""

RETURN = r"""
zones:
  description: Every zone wanted, with its serial (after the run).
  returned: always
  type: dict
  sample: {"example.jp": 2026112401}
added:
  description: Zones created.
  returned: always
  type: list
  elements: str
updated:
  description: Zones whose content (and serial) changed.
  returned: always
  type: list
  elements: str
removed:
  description: Zones whose file was deleted.
  returned: always
  type: list
  elements: str
failed_zones:
  description: Zones that failed named-checkzone, with the checker's output.
  returned: always
  type: dict
"""

import datetime
import grp
import ipaddress
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

from ansible.module_utils.basic import AnsibleModule

TENANT_RE = re.compile(r"^[a-z][a-z0-9]{2,15}\Z")
LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
OWNER_LABEL_RE = re.compile(r"^(?:\*|_?[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)\Z")
TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA")
#: rdata of the non-TXT types: no zone-file syntax (; ( ) $ " \ newline) can get in
PLAIN_VALUE_RE = re.compile(r"^[A-Za-z0-9._:*-]+(?: [A-Za-z0-9._:*-]+)*\Z")
CAA_VALUE_RE = re.compile(r'^[0-9]{1,3} [A-Za-z0-9]{1,15} "[\x20\x21\x23-\x5b\x5d-\x7e]*"\Z')
SERIAL_RE = re.compile(r"^\s+(\d{1,10})\s+; serial$", re.M)
TENANT_HEADER_RE = re.compile(r"^; tenant: ([a-z][a-z0-9]{2,15})$", re.M)
MIN_TTL = 60
MAX_TTL = 604800
HEADER = "; Generated by oemhost (library/oemhost_dns_zones.py) from the inventory: edits are lost."
RELOAD_MARKER = ".reload-pending"
RELOAD_ALL_ABOVE = 50


class InputError(ValueError):
    """The module's input is not acceptable; nothing was changed."""


@dataclass(frozen=True)
class Rec:
    name: str
    type: str
    value: str
    ttl: int


@dataclass
class Zone:
    name: str
    tenant: str
    records: list


# --- input checks ---------------------------------------------------------------------------

def domain_ok(name):
    if not isinstance(name, str) or len(name) > 253 or name != name.lower():
        return False
    labels = name.split(".")
    return len(labels) >= 2 and all(LABEL_RE.match(label) for label in labels) \
        and not labels[-1].isdigit()


def hostname_ok(name):
    """An absolute host name given by ops (NS, MX target), with or without the final dot."""
    return domain_ok(name[:-1] if isinstance(name, str) and name.endswith(".") else name)


def owner_ok(name):
    if name == "@":
        return True
    if not isinstance(name, str) or len(name) > 200:
        return False
    labels = name.split(".")
    return all(OWNER_LABEL_RE.match(label) for label in labels) and "*" not in labels[1:]


def value_error(rtype, value):
    """Why ``value`` cannot be written as ``rtype`` rdata, or None."""
    if not isinstance(value, str) or not value:
        return "must be text"
    if rtype == "TXT":
        if len(value) > 2048 or not all(32 <= ord(c) < 127 for c in value):
            return "TXT text must be printable ASCII, at most 2048 characters"
        return None
    if len(value) > 500:
        return "is too long"
    if rtype == "CAA":
        return None if CAA_VALUE_RE.match(value) else 'must look like: 0 issue "ca.example"'
    return None if PLAIN_VALUE_RE.match(value) else f"is not a valid {rtype} value"


def ttl_of(value, where, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_TTL <= value <= MAX_TTL:
        raise InputError(f"{where}.ttl: must be a number of seconds from {MIN_TTL} to {MAX_TTL}")
    return value


def address_list(values, where):
    out = []
    for v in values:
        try:
            out.append(ipaddress.ip_address(v))
        except ValueError:
            raise InputError(f"{where}: {v!r} is not an IP address") from None
    if not out:
        raise InputError(f"{where}: at least one address is needed")
    return out


def absolute(name):
    return name if name.endswith(".") else name + "."


# --- zone content (pure; unit-tested) -------------------------------------------------------

def build_zones(sources, *, nameservers=(), mail_host="", default_ttl=3600):
    """zone name -> Zone for every DNS-enabled tenant domain; raises InputError."""
    for ns in nameservers:
        if not hostname_ok(ns):
            raise InputError(f"nameservers: {ns!r} is not a host name")
    if mail_host and not hostname_ok(mail_host):
        raise InputError(f"mail_host: {mail_host!r} is not a host name")
    zones = {}
    seen = set()
    for si, src in enumerate(sources):
        addrs = address_list(src.get("addresses") or [], f"sources[{si}].addresses")
        for t in src.get("tenants") or []:
            tid = t.get("id") if isinstance(t, dict) else None
            if not isinstance(tid, str) or not TENANT_RE.match(tid):
                raise InputError(f"tenant {tid!r}: id: must match [a-z][a-z0-9]{{2,15}}")
            if tid in seen:
                raise InputError(f"tenant {tid}: listed twice")
            seen.add(tid)
            for zone in tenant_zones(t, addrs, nameservers, mail_host, default_ttl):
                if zone.name in zones:
                    raise InputError(f"tenant {tid}: domains: {zone.name} is also a zone of "
                                     f"tenant {zones[zone.name].tenant}")
                zones[zone.name] = zone
    return zones


def tenant_zones(t, addrs, nameservers, mail_host, default_ttl):
    tid = t["id"]
    limits = t.get("limits") or {}
    domains = t.get("domains") or []
    records = t.get("dns_records") or []
    names = []
    for i, d in enumerate(domains):
        name = d.get("name") if isinstance(d, dict) else None
        if not domain_ok(name):
            raise InputError(f"tenant {tid}: domains[{i}].name: {name!r} is not a domain name")
        names.append(name)
    if limits.get("dns") is not True:
        if records:
            raise InputError(f"tenant {tid}: dns_records: plan {t.get('plan') or '?'} has no "
                             "DNS zone management")
        return []
    own = {n: [] for n in names}
    for i, r in enumerate(records):
        where = f"tenant {tid}: dns_records[{i}]"
        if not isinstance(r, dict):
            raise InputError(f"{where}: must be a record")
        zone = r.get("zone") or (names[0] if names else None)
        if zone not in own:
            raise InputError(f"{where}.zone: {zone!r} is not one of the tenant's domains")
        name = r.get("name", "@")
        if isinstance(name, str):
            name = name.lower()
        if not owner_ok(name):
            raise InputError(f"{where}.name: must be @ or a name relative to the zone")
        rtype = r.get("type")
        if rtype not in TYPES:
            raise InputError(f"{where}.type: must be one of {', '.join(TYPES)}")
        err = value_error(rtype, r.get("value"))
        if err:
            raise InputError(f"{where}.value: {err}")
        own[zone].append(Rec(name, rtype, r["value"], ttl_of(r.get("ttl"), where, 3600)))
    out = []
    for i, name in enumerate(names):
        aliases = domains[i].get("aliases") or []
        out.append(Zone(name, tid, zone_records(
            name, aliases, own[name], addrs, bool(limits.get("mail")), nameservers, mail_host,
            default_ttl)))
    return out


def zone_records(zone, aliases, own, addrs, mail, nameservers, mail_host, ttl):
    """The zone's records: defaults (unless the tenant's own replace them), then its own."""
    own_keys = {(r.name, r.type) for r in own}
    cname_names = {r.name for r in own if r.type == "CNAME"}
    defaults = []

    def add(name, rtype, value):
        rec = Rec(name, rtype, value, ttl)
        if name in cname_names or (name, rtype) in own_keys or rec in defaults:
            return
        defaults.append(rec)

    def add_host(name):
        for a in addrs:
            add(name, "A" if a.version == 4 else "AAAA", str(a))

    if nameservers:
        for ns in nameservers:
            defaults.append(Rec("@", "NS", absolute(ns), ttl))
    else:
        defaults.append(Rec("@", "NS", f"ns1.{zone}.", ttl))
        add_host("ns1")
    add_host("@")
    add_host("www")
    for alias in aliases:
        if isinstance(alias, str) and alias.endswith("." + zone) and domain_ok(alias):
            add_host(alias[: -len(zone) - 1])
    if ("@", "MX") not in own_keys:
        if mail:
            add("@", "MX", f"10 {absolute(mail_host)}" if mail_host else f"10 mail.{zone}.")
            if not mail_host:
                add_host("mail")
            ips = " ".join(f"ip{a.version}:{a}" for a in addrs)
            spf = f"v=spf1 mx {ips} -all"
        else:
            add("@", "MX", "0 .")
            spf = "v=spf1 -all"
        if not any(r.name == "@" and r.type == "TXT" and r.value.startswith("v=spf1")
                   for r in own):
            defaults.append(Rec("@", "TXT", spf, ttl))
    return defaults + list(own)


def txt_rdata(value):
    """TXT text as quoted character-strings of at most 255 bytes each."""
    chunks = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


def render(zone, serial, *, nameservers=(), hostmaster="", default_ttl=3600, soa=None):
    soa = {"refresh": 3600, "retry": 900, "expire": 1209600, "negative_ttl": 300, **(soa or {})}
    mname = absolute(nameservers[0]) if nameservers else f"ns1.{zone.name}."
    if hostmaster:
        local, _, dom = hostmaster.partition("@")
        rname = absolute(f"{local.replace('.', chr(92) + '.')}.{dom}" if dom else hostmaster)
    else:
        rname = f"hostmaster.{zone.name}."
    lines = [
        HEADER,
        f"; tenant: {zone.tenant}",
        f"$ORIGIN {zone.name}.",
        f"$TTL {default_ttl}",
        f"@\tIN\tSOA\t{mname} {rname} (",
        f"\t\t\t{serial}\t; serial",
        f"\t\t\t{soa['refresh']}\t; refresh",
        f"\t\t\t{soa['retry']}\t; retry",
        f"\t\t\t{soa['expire']}\t; expire",
        f"\t\t\t{soa['negative_ttl']} )\t; negative caching TTL",
    ]
    for r in zone.records:
        value = txt_rdata(r.value) if r.type == "TXT" else r.value
        lines.append(f"{r.name}\t{r.ttl}\tIN\t{r.type}\t{value}")
    return "\n".join(lines) + "\n"


def without_serial(text):
    return SERIAL_RE.sub("\tSERIAL\t; serial", text, count=1)


def serial_of(text):
    m = SERIAL_RE.search(text or "")
    return int(m.group(1)) if m else 0


def next_serial(old, today):
    """A serial above ``old``, in YYYYMMDDnn form while that is possible."""
    base = int(today.strftime("%Y%m%d")) * 100
    return max(old + 1, base) % (1 << 32) or 1


def zones_conf(zones, zone_dir):
    lines = ["// Generated by oemhost (library/oemhost_dns_zones.py) from the inventory: "
             "edits are lost."]
    for name in sorted(zones):
        lines.append(f'zone "{name}" {{ type primary; file "{zone_dir}/{name}.zone"; }};')
    return "\n".join(lines) + "\n"


# --- files ---------------------------------------------------------------------------------

def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_temp(directory, name, text, gid):
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if gid is not None:
            os.chown(tmp, 0, gid)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def check_zone(checkzone, zone, path):
    proc = subprocess.run([checkzone, "-k", "fail", "-i", "full", zone, path],
                          capture_output=True, text=True, check=False)
    return None if proc.returncode == 0 else (proc.stdout + proc.stderr).strip()


def run_module():
    module = AnsibleModule(
        argument_spec={
            "sources": {"type": "list", "elements": "dict", "required": True, "options": {
                "addresses": {"type": "list", "elements": "str", "required": True},
                "tenants": {"type": "list", "elements": "dict", "default": []},
            }},
            "nameservers": {"type": "list", "elements": "str", "default": []},
            "hostmaster": {"type": "str", "default": ""},
            "mail_host": {"type": "str", "default": ""},
            "default_ttl": {"type": "int", "default": 3600},
            "soa": {"type": "dict", "default": {}, "options": {
                "refresh": {"type": "int", "default": 3600},
                "retry": {"type": "int", "default": 900},
                "expire": {"type": "int", "default": 1209600},
                "negative_ttl": {"type": "int", "default": 300},
            }},
            "scope": {"type": "list", "elements": "str"},
            "zone_dir": {"type": "path", "default": "/var/lib/bind/oemhost"},
            "conf_file": {"type": "path", "default": "/etc/bind/oemhost/zones.conf"},
            "group": {"type": "str", "default": "bind"},
            "checkzone": {"type": "path", "default": "/usr/bin/named-checkzone"},
            "checkconf": {"type": "path", "default": "/usr/bin/named-checkconf"},
            "rndc": {"type": "path", "default": "/usr/sbin/rndc"},
            "reload": {"type": "bool", "default": True},
            "validate_only": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    result = {"changed": False, "zones": {}, "added": [], "updated": [], "removed": [],
              "failed_zones": {}}
    try:
        zones = build_zones(p["sources"], nameservers=p["nameservers"],
                            mail_host=p["mail_host"], default_ttl=p["default_ttl"])
        hm = p["hostmaster"]
        if hm and not (hostname_ok(hm) or (hm.count("@") == 1 and hostname_ok(
                hm.split("@")[1]) and re.match(r"^[a-z0-9][a-z0-9._-]{0,63}\Z", hm.split("@")[0]))):
            raise InputError(f"hostmaster: {hm!r} is not a mail address or host name")
        ttl_of(p["default_ttl"], "default", 3600)
        for key, value in p["soa"].items():
            if not 60 <= value <= 2419200:
                raise InputError(f"soa.{key}: must be from 60 to 2419200 seconds")
        scope = None
        if p["scope"] is not None:
            bad = [s for s in p["scope"] if not TENANT_RE.match(s)]
            if bad:
                raise InputError(f"scope: {bad[0]!r} is not a tenant id")
            scope = set(p["scope"])
    except InputError as exc:
        module.fail_json(msg=str(exc), **result)
    if p["validate_only"]:
        result["zones"] = dict.fromkeys(sorted(zones), 0)
        module.exit_json(**result)

    zone_dir, conf_file = p["zone_dir"], p["conf_file"]
    try:
        gid = grp.getgrnam(p["group"]).gr_gid
    except KeyError:
        gid = None
        if not module.check_mode:
            module.fail_json(msg=f"group {p['group']!r} does not exist", **result)
    if not module.check_mode:
        for d in (zone_dir, os.path.dirname(conf_file)):
            os.makedirs(d, mode=0o755, exist_ok=True)

    def in_scope(tid):
        return scope is None or tid in scope

    render_args = {"nameservers": p["nameservers"], "hostmaster": p["hostmaster"],
                   "default_ttl": p["default_ttl"], "soa": p["soa"]}
    today = datetime.datetime.now(datetime.UTC).date()
    diffs = []
    installed = set()   # zones whose file is (or will be) in place
    to_install = {}     # zone -> text
    for name, zone in sorted(zones.items()):
        path = os.path.join(zone_dir, f"{name}.zone")
        old = read(path)
        if not in_scope(zone.tenant):
            if old is not None:
                installed.add(name)
                result["zones"][name] = serial_of(old)
            continue
        text = render(zone, serial_of(old), **render_args)
        if old is not None and without_serial(old) == without_serial(text):
            installed.add(name)
            result["zones"][name] = serial_of(old)
            continue
        serial = next_serial(serial_of(old), today)
        text = render(zone, serial, **render_args)
        tmp = None
        try:
            if module.check_mode:  # checked outside the zone directory, then deleted
                tmp = write_temp(tempfile.gettempdir(), name, text, None)
            else:
                tmp = write_temp(zone_dir, name, text, gid)
            if os.path.exists(p["checkzone"]):
                err = check_zone(p["checkzone"], name, tmp)
            elif module.check_mode:
                err = None
            else:
                module.fail_json(msg=f"{p['checkzone']} is missing", **result)
        except OSError as exc:
            if tmp:
                os.unlink(tmp)
            module.fail_json(msg=f"zone {name}: {exc}", **result)
        if err:
            err = err.replace(tmp, path)
            os.unlink(tmp)
            result["failed_zones"][name] = f"tenant {zone.tenant}: zone {name}: {err}"
            if old is not None:
                installed.add(name)
                result["zones"][name] = serial_of(old)
            continue
        if module.check_mode:
            os.unlink(tmp)
        else:
            to_install[name] = tmp
        installed.add(name)
        result["zones"][name] = serial
        (result["updated"] if old is not None else result["added"]).append(name)
        diffs.append({"before_header": path, "after_header": path,
                      "before": old or "", "after": text})

    # zone files no longer wanted (only the scoped tenants' when scoped)
    stale = []
    if os.path.isdir(zone_dir):
        for fname in sorted(os.listdir(zone_dir)):
            if not fname.endswith(".zone") or fname[:-5] in zones:
                continue
            text = read(os.path.join(zone_dir, fname)) or ""
            m = TENANT_HEADER_RE.search(text)
            if scope is None or (m and m.group(1) in scope):
                stale.append(fname[:-5])
                diffs.append({"before_header": os.path.join(zone_dir, fname),
                              "after_header": "(removed)", "before": text, "after": ""})
    result["removed"] = stale

    conf_old = read(conf_file)
    conf_new = zones_conf(installed, zone_dir)
    conf_changed = conf_old != conf_new
    if conf_changed:
        diffs.append({"before_header": conf_file, "after_header": conf_file,
                      "before": conf_old or "", "after": conf_new})
    result["changed"] = bool(to_install or result["added"] or result["updated"] or stale
                             or conf_changed)
    if module._diff:
        result["diff"] = diffs
    marker = os.path.join(zone_dir, RELOAD_MARKER)
    if module.check_mode:
        finish(module, result)

    for name, tmp in to_install.items():
        os.replace(tmp, os.path.join(zone_dir, f"{name}.zone"))
    if conf_changed:
        tmp = write_temp(os.path.dirname(conf_file), "zones.conf", conf_new, gid)
        proc = subprocess.run([p["checkconf"], tmp], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            os.unlink(tmp)
            module.fail_json(msg=f"{conf_file} fails named-checkconf: "
                                 f"{(proc.stdout + proc.stderr).strip()}", **result)
        os.replace(tmp, conf_file)
    for name in stale:
        os.unlink(os.path.join(zone_dir, f"{name}.zone"))

    if p["reload"] and (result["changed"] or os.path.exists(marker)):
        reload_named(module, p["rndc"], marker, result, conf_changed)
    finish(module, result)


def reload_named(module, rndc, marker, result, conf_changed):
    pending = os.path.exists(marker)
    commands = []
    if pending or len(result["updated"]) > RELOAD_ALL_ABOVE:
        commands.append([rndc, "reload"])
    else:
        if conf_changed or result["added"] or result["removed"]:
            commands.append([rndc, "reconfig"])
        commands += [[rndc, "reload", name] for name in result["updated"]]
    for argv in commands:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            with open(marker, "w", encoding="utf-8") as f:
                f.write("named did not take the last change; the next run reloads everything\n")
            module.fail_json(msg=f"{' '.join(argv[1:])} failed: "
                                 f"{(proc.stdout + proc.stderr).strip()}", **result)
    if pending:
        os.unlink(marker)
        result["changed"] = True


def finish(module, result):
    if result["failed_zones"]:
        module.fail_json(msg="zone check failed (the old zone keeps serving): "
                             + "; ".join(result["failed_zones"][z]
                                         for z in sorted(result["failed_zones"])), **result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
