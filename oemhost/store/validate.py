"""Validation of the hosting state: one set of rules for every writer and reader.

Used by the store before it writes (errors raise :class:`~oemhost.errors.ValidationError`
with one message per field path, ``domains[1].aliases[0]``), by ``oemhost inventory check``
and by the inventory plugin, which turns the same messages into
``oemhost_inventory_errors`` (``"<subject>: <field>: <message>"``).

Two levels:

- **record checks** (``check_node`` / ``check_reseller`` / ``check_plan`` /
  ``check_tenant``): one record on its own: types, id and name patterns, free-text
  hygiene, IDN to punycode, paths inside their area, hash formats. They return the
  *normalised* record (every field present, canonical forms) and the errors.
- **relation checks** (``tenant_relation_errors``, ``plan_fit_errors`` and the
  :class:`~oemhost.store.snapshot.Snapshot` that drives them): a tenant against its
  reseller, plan and node (plan limits, node services, owner), and claims across tenants
  (a domain belongs to one tenant only).

Every identifier that reaches a path, a config file, a shell or SQL matches a strict
pattern here; free text (contractor, company, reasons) is refused if it holds control,
format or unassigned characters, and it is never used as a name anywhere.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
import shlex
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from oemhost.errors import ValidationError
from oemhost.store import hashing
from oemhost.store.model import (
    DB_ENGINES,
    DNS_TYPES,
    INFRA_PROVIDERS,
    RESELLER_STATUSES,
    SERVICES,
    SHARED_OWNER,
    TENANT_STATUSES,
    TLS_MODES,
)

# --- patterns ------------------------------------------------------------------------

#: reseller, plan and node ids: lowercase ASCII, no leading/trailing/double hyphen
SLUG_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,30}$")
#: tenant ids become system user names, home directories and database prefixes
TENANT_ID_RE = re.compile(r"^[a-z][a-z0-9]{2,15}$")
FTP_SUFFIX_RE = re.compile(r"^[a-z0-9]{1,15}$")
DB_SUFFIX_RE = re.compile(r"^[a-z0-9]{1,16}$")
MAIL_LOCAL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_+-]|\.(?=[a-z0-9_+-])){0,63}$")
FORWARD_LOCAL_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_+-]|\.(?=[A-Za-z0-9_+-])){0,63}$")
LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DNS_OWNER_LABEL_RE = re.compile(r"^(?:\*|_?[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)$")
PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
UNIX_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
#: an absolute path of plain segments (hidden directories allowed, '.' and '..' not)
KEY_FILE_RE = re.compile(r"^(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._-]+)+$")
SSH_OPTION_VALUE_RE = re.compile(r"^[A-Za-z0-9_./:@,+=-]+$")
PARAM_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
CUSTOMER_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$")
PHP_VERSION_RE = re.compile(r"^[5-9]\.[0-9]{1,2}$")
CERT_REF_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
LOCALES = ("ja", "en")
#: actors recorded as commit authors and on mailbox locks
ACTOR_RE = re.compile(
    r"^(?:ops:[A-Za-z0-9._@+-]{1,64}"
    r"|reseller:[a-z][a-z0-9-]{1,30}/[A-Za-z0-9._@+-]{1,64}"
    r"|tenant:[a-z][a-z0-9]{2,15}"
    r"|monitor|lab|system)$"
)

#: names a tenant id may not take: system accounts and service users on a Debian node
RESERVED_TENANT_IDS = frozenset("""
root daemon bin sys sync games man lp mail news uucp proxy backup list irc gnats nobody
systemd apt messagebus sshd postfix dovecot dovenull vmail mysql mariadb postgres ftp
pureftpd www www-data admin administrator operator ops oemhost ansible monitor nagios
debian ubuntu user users staff shadow adm tty disk kmem dialout fax voice cdrom floppy
tape sudo audio dip src utmp video sasl plugdev input render netdev lab test guest
abuse postmaster hostmaster webmaster noreply
""".split())
RESERVED_SLUGS = frozenset({SHARED_OWNER, "all", "ungrouped", "localhost"})
SSH_FORBIDDEN_OPTIONS = frozenset(o.lower() for o in (
    "ProxyCommand", "LocalCommand", "PermitLocalCommand", "KnownHostsCommand", "Match",
    "Include", "RemoteCommand"))

MAX_INT = 100_000_000
DB_USER_MAX = {"mariadb": 80, "postgresql": 63}

#: scripts that may share one domain label (UTS #39 "highly restrictive" combinations)
_SCRIPT_COMBOS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
)


# --- error collection ----------------------------------------------------------------

class Errors:
    """Per-field messages; the first message for a path wins."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.items.setdefault(path, message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, subject: str = "") -> None:
        if self.items:
            raise ValidationError(self.items, subject=subject)


def _join(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


# --- scalar checks (return the normalised value, or None after recording an error) ----

def text(value: Any, path: str, errs: Errors, *, max_len: int, required: bool = True) -> Any:
    """Free text shown to people (names, reasons). Never used as an identifier."""
    if not isinstance(value, str):
        errs.add(path, "must be text")
        return None
    if not value:
        if required:
            errs.add(path, "must not be empty")
            return None
        return value
    if len(value) > max_len:
        errs.add(path, f"must be at most {max_len} characters (got {len(value)})")
        return None
    if value != value.strip():
        errs.add(path, "must not start or end with spaces")
        return None
    for ch in value:
        cat = unicodedata.category(ch)
        if cat[0] == "C" or cat in ("Zl", "Zp"):
            errs.add(path, f"must not contain control or invisible characters (U+{ord(ch):04X})")
            return None
    return value


def pattern(value: Any, path: str, errs: Errors, rx: re.Pattern[str], what: str) -> Any:
    if not isinstance(value, str) or not rx.match(value):
        shown = value if isinstance(value, str) and len(value) <= 64 else type(value).__name__
        errs.add(path, f"{shown!r} is not a valid {what}" if isinstance(value, str)
                 else f"must be a {what}")
        return None
    return value


def integer(value: Any, path: str, errs: Errors, *, minimum: int = 0,
            maximum: int = MAX_INT) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        errs.add(path, "must be a whole number")
        return None
    if not minimum <= value <= maximum:
        errs.add(path, f"must be between {minimum} and {maximum}")
        return None
    return value


def boolean(value: Any, path: str, errs: Errors) -> Any:
    if not isinstance(value, bool):
        errs.add(path, "must be true or false")
        return None
    return value


def choice(value: Any, path: str, errs: Errors, choices: Iterable[str]) -> Any:
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        errs.add(path, f"must be one of {', '.join(choices)}")
        return None
    return value


def date(value: Any, path: str, errs: Errors) -> Any:
    if not isinstance(value, str) or not DATE_RE.match(value):
        errs.add(path, "must be a date YYYY-MM-DD")
        return None
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        errs.add(path, "must be a real date")
        return None
    return value


def timestamp(value: Any, path: str, errs: Errors) -> Any:
    if not isinstance(value, str) or not TIMESTAMP_RE.match(value):
        errs.add(path, "must be a UTC time YYYY-MM-DDTHH:MM:SSZ")
        return None
    try:
        _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errs.add(path, "must be a real time")
        return None
    return value


def password(value: Any, field: str = "password") -> str:
    """Check a plaintext password (never stored; only its hashes are)."""
    errs = Errors()
    if not isinstance(value, str) or not value:
        errs.add(field, "a password is required")
    elif not 8 <= len(value) <= 128:
        errs.add(field, "must be 8 to 128 characters")
    elif any(unicodedata.category(c)[0] == "C" for c in value):
        errs.add(field, "must not contain control characters")
    errs.raise_if_any()
    return value


def actor(value: Any) -> str:
    errs = Errors()
    pattern(value, "actor", errs, ACTOR_RE,
            "actor (ops:<name>, reseller:<id>/<user>, tenant:<id>, monitor, lab)")
    errs.raise_if_any()
    return value


def reason(value: Any) -> str:
    errs = Errors()
    text(value, "reason", errs, max_len=500, required=False)
    errs.raise_if_any()
    return value


# --- domains and addresses -----------------------------------------------------------

def _script(ch: str) -> str | None:
    if ch.isascii() and not ch.isalpha():
        return None  # digits and hyphen are common to every script
    name = unicodedata.name(ch, "")
    if not name:
        return "UNKNOWN"
    first = name.split(" ", 1)[0]
    if first in ("CJK", "IDEOGRAPHIC"):
        return "HAN"
    if first == "KATAKANA-HIRAGANA":  # the prolonged sound mark
        return "KATAKANA"
    return first


def _mixed_script(label: str) -> bool:
    scripts = {s for s in map(_script, label) if s}
    if len(scripts) <= 1:
        return False
    return not any(scripts <= combo for combo in _SCRIPT_COMBOS)


def domain_name(value: Any, path: str, errs: Errors) -> Any:
    """A domain name as typed (Unicode or punycode) -> lowercase punycode, or an error."""
    import idna

    if not isinstance(value, str) or not value:
        errs.add(path, "must be a domain name")
        return None
    if len(value) > 253 or any(unicodedata.category(c)[0] in "CZ" for c in value):
        errs.add(path, "is not a valid domain name")
        return None
    name = value.rstrip(".") if value.endswith(".") and not value.endswith("..") else value
    try:
        ascii_name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
        unicode_name = idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        errs.add(path, f"is not a valid domain name ({exc})")
        return None
    labels = ascii_name.split(".")
    if len(labels) < 2 or len(ascii_name) > 253:
        errs.add(path, "must have at least two labels (example.jp)")
        return None
    if not all(LABEL_RE.match(label) for label in labels) or labels[-1].isdigit():
        errs.add(path, "is not a valid domain name")
        return None
    for label in unicode_name.split("."):
        if _mixed_script(label):
            errs.add(path, f"label {label!r} mixes scripts (look-alike domain)")
            return None
    return ascii_name


def domain_to_unicode(name: str) -> str:
    import idna

    try:
        return idna.decode(name)
    except (idna.IDNAError, UnicodeError):
        return name


def hostname_or_ip(value: Any, path: str, errs: Errors) -> Any:
    if isinstance(value, str):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
        if all(LABEL_RE.match(label) for label in value.split(".")) and len(value) <= 253:
            return value
    errs.add(path, "must be an IP address or a host name")
    return None


def email(value: Any, path: str, errs: Errors, *, strict_local: bool = False) -> Any:
    """An e-mail address; the domain part is stored as punycode."""
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(value, str) or len(value) > 254:
        errs.add(path, "must be an e-mail address")
        return None
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        errs.add(path, f"is not a valid e-mail address ({exc})")
        return None
    local = result.local_part
    if strict_local and not FORWARD_LOCAL_RE.match(local):
        errs.add(path, "the part before @ may use letters, digits and . _ + - only")
        return None
    if not local.isascii():
        errs.add(path, "the part before @ must be ASCII")
        return None
    ascii_domain = domain_name(result.domain, path, errs)
    if ascii_domain is None:
        return None
    return f"{local}@{ascii_domain}"


def rel_path(value: Any, path: str, errs: Errors, *, allow_empty: bool = False) -> Any:
    """A path relative to a tenant's area: plain segments, no '..', no hidden names."""
    if not isinstance(value, str):
        errs.add(path, "must be a relative path")
        return None
    if value == "":
        if allow_empty:
            return value
        errs.add(path, "must not be empty")
        return None
    segments = value.split("/")
    if len(value) > 200 or not all(PATH_SEGMENT_RE.match(s) for s in segments):
        errs.add(path, "must be a relative path of letters, digits, . _ - "
                       "(no leading /, no '..', no hidden names)")
        return None
    return value


# --- mappings and lists ---------------------------------------------------------------

def _mapping(value: Any, path: str, errs: Errors, known: Iterable[str]) -> dict | None:
    if not isinstance(value, dict):
        errs.add(path, "must be a mapping")
        return None
    for key in value:
        if key not in known:
            errs.add(_join(path, key), "unknown field")
    return value


def _list(value: Any, path: str, errs: Errors, *, max_len: int = 1000) -> list | None:
    if not isinstance(value, list):
        errs.add(path, "must be a list")
        return None
    if len(value) > max_len:
        errs.add(path, f"must have at most {max_len} entries")
        return None
    return value


FieldSpec = tuple[str, Callable[[Any, str, Errors], Any], Any]
_REQUIRED = object()


def _record(value: Any, path: str, errs: Errors, spec: list[FieldSpec]) -> dict | None:
    """Check a mapping against ``spec`` (name, checker, default); fill defaults."""
    data = _mapping(value, path, errs, [name for name, _c, _d in spec])
    if data is None:
        return None
    out: dict[str, Any] = {}
    for name, check, default in spec:
        sub = _join(path, name)
        if name not in data:
            if default is _REQUIRED:
                errs.add(sub, "is required")
                out[name] = None
                continue
            out[name] = default() if callable(default) else default
            if out[name] is None:
                continue
            # defaults are checked too: they may depend on nothing but must be valid
        raw = data.get(name, out.get(name))
        out[name] = check(raw, sub, errs)
    return out


def _opt(check: Callable[[Any, str, Errors], Any]) -> Callable[[Any, str, Errors], Any]:
    def inner(value: Any, path: str, errs: Errors) -> Any:
        return None if value is None else check(value, path, errs)
    return inner


def _slug(what: str) -> Callable[[Any, str, Errors], Any]:
    def inner(value: Any, path: str, errs: Errors) -> Any:
        value = pattern(value, path, errs, SLUG_RE, what)
        if value in RESERVED_SLUGS:
            errs.add(path, f"{value!r} is reserved")
            return None
        return value
    return inner


def _int(minimum: int = 0, maximum: int = MAX_INT) -> Callable[[Any, str, Errors], Any]:
    return lambda v, p, e: integer(v, p, e, minimum=minimum, maximum=maximum)


def _text(max_len: int, required: bool = True) -> Callable[[Any, str, Errors], Any]:
    return lambda v, p, e: text(v, p, e, max_len=max_len, required=required)


def _choice(choices: Iterable[str]) -> Callable[[Any, str, Errors], Any]:
    choices = tuple(choices)
    return lambda v, p, e: choice(v, p, e, choices)


def _hash(rx: re.Pattern[str], what: str) -> Callable[[Any, str, Errors], Any]:
    def inner(value: Any, path: str, errs: Errors) -> Any:
        if not isinstance(value, str) or not rx.match(value):
            errs.add(path, f"must be a {what} hash (set a password; never a plaintext)")
            return None
        return value
    return inner


# --- node ------------------------------------------------------------------------------

def _ssh_common_args(value: Any, path: str, errs: Errors) -> Any:
    if not isinstance(value, str) or len(value) > 1000 or "\n" in value or "\0" in value:
        errs.add(path, "must be one line of ssh options")
        return None
    try:
        words = shlex.split(value)
    except ValueError as exc:
        errs.add(path, f"cannot be split into words ({exc})")
        return None
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-o" and i + 1 < len(words):
            option, i = words[i + 1], i + 2
        elif word.startswith("-o") and len(word) > 2:
            option, i = word[2:], i + 1
        else:
            errs.add(path, f"only '-o Option=value' words are allowed (found {word[:40]!r})")
            return None
        key, sep, val = option.partition("=")
        if not sep or not key.isalpha() or not SSH_OPTION_VALUE_RE.match(val):
            errs.add(path, f"{option[:60]!r} is not an Option=value pair")
            return None
        if key.lower() in SSH_FORBIDDEN_OPTIONS:
            errs.add(path, f"ssh option {key} is not allowed here")
            return None
    return value


_CONNECTION_SPEC: list[FieldSpec] = [
    ("user", _opt(lambda v, p, e: pattern(v, p, e, UNIX_USER_RE, "user name")), None),
    ("port", _opt(_int(1, 65535)), None),
    ("private_key_file", _opt(lambda v, p, e: pattern(v, p, e, KEY_FILE_RE, "absolute path")),
     None),
    ("ssh_common_args", _opt(_ssh_common_args), None),
]

#: parameters each level-2 reboot provider needs at least
INFRA_REQUIRED_PARAMS = {
    "lab": ("node",), "libvirt": ("domain",), "ipmi": ("host",), "proxmox": ("vmid",),
    "command": ("argv",),
}


def _infra_params(value: Any, path: str, errs: Errors) -> Any:
    if not isinstance(value, dict):
        errs.add(path, "must be a mapping")
        return None
    for key, val in value.items():
        sub = _join(path, str(key))
        if not isinstance(key, str) or not PARAM_KEY_RE.match(key):
            errs.add(sub, "parameter names are lowercase letters, digits and _")
        elif isinstance(val, str):
            text(val, sub, errs, max_len=1000, required=False)
        elif isinstance(val, list):
            for i, item in enumerate(val):
                text(item, _join(sub, i), errs, max_len=1000)
        elif not isinstance(val, int | bool):
            errs.add(sub, "must be text, a number, true/false or a list of text")
    return value


def _infra(value: Any, path: str, errs: Errors) -> Any:
    rec = _record(value, path, errs, [
        ("provider", _choice(INFRA_PROVIDERS), _REQUIRED),
        ("params", _infra_params, dict),
    ])
    if rec and rec.get("provider") and isinstance(rec.get("params"), dict):
        for key in INFRA_REQUIRED_PARAMS[rec["provider"]]:
            if key not in rec["params"]:
                errs.add(_join(_join(path, "params"), key),
                         f"is required for provider {rec['provider']}")
    return rec


def _services(value: Any, path: str, errs: Errors) -> Any:
    items = _list(value, path, errs, max_len=len(SERVICES))
    if items is None:
        return None
    for i, item in enumerate(items):
        choice(item, _join(path, i), errs, SERVICES)
    if len(set(map(str, items))) != len(items):
        errs.add(path, "must not repeat a service")
    return [s for s in SERVICES if s in items]  # canonical order


def check_node(data: Any) -> tuple[dict | None, dict[str, str]]:
    errs = Errors()
    rec = _record(data, "", errs, [
        ("name", _slug("node name"), _REQUIRED),
        ("address", hostname_or_ip, _REQUIRED),
        ("connection", lambda v, p, e: _record(v, p, e, _CONNECTION_SPEC), dict),
        ("services", _services, list),
        ("owner", _owner, SHARED_OWNER),
        ("infra", _infra, _REQUIRED),
        ("capacity", lambda v, p, e: _record(v, p, e, [
            ("tenants", _int(0, 100000), 500), ("disk_mb", _int(), 200000)]), dict),
    ])
    return rec, errs.items


def _owner(value: Any, path: str, errs: Errors) -> Any:
    if value == SHARED_OWNER:
        return value
    return pattern(value, path, errs, SLUG_RE, "reseller id or 'shared'")


# --- reseller --------------------------------------------------------------------------

def _url(value: Any, path: str, errs: Errors) -> Any:
    if value == "":
        return value
    if not isinstance(value, str) or len(value) > 500 or not value.isascii() or any(
            c in value for c in " \"'<>\\`{}|^\n\r\t"):
        errs.add(path, "must be an https:// URL")
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        errs.add(path, "must be an https:// URL")
        return None
    return value


def _color(value: Any, path: str, errs: Errors) -> Any:
    value = pattern(value, path, errs, COLOR_RE, "colour (#rrggbb)")
    return value.lower() if value else value


def _contacts(value: Any, path: str, errs: Errors) -> Any:
    items = _list(value, path, errs, max_len=20)
    if items is None:
        return None
    out = [email(item, _join(path, i), errs) for i, item in enumerate(items)]
    if len(set(out)) != len(out):
        errs.add(path, "must not repeat an address")
    return out


_BRAND_SPEC: list[FieldSpec] = [
    ("display_name", _text(100), _REQUIRED),
    ("logo_url", _url, ""),
    ("primary_color", _color, "#0055aa"),
    ("accent_color", _color, "#ff8800"),
    ("panel_host", _opt(domain_name), None),
]


def check_reseller(data: Any) -> tuple[dict | None, dict[str, str]]:
    errs = Errors()
    rec = _record(data, "", errs, [
        ("id", _slug("reseller id"), _REQUIRED),
        ("company", _text(200), _REQUIRED),
        ("status", _choice(RESELLER_STATUSES), "active"),
        ("contacts", _contacts, list),
        ("brand", lambda v, p, e: _record(v, p, e, _BRAND_SPEC), _REQUIRED),
        ("locale", _choice(LOCALES), "ja"),
        ("limits", lambda v, p, e: _record(v, p, e, [
            ("tenants", _int(0, 1_000_000), 100),
            ("disk_mb", _int(), 100000),
            ("oversell", boolean, False)]), dict),
    ])
    return rec, errs.items


# --- plan ------------------------------------------------------------------------------

def check_plan(data: Any) -> tuple[dict | None, dict[str, str]]:
    errs = Errors()
    rec = _record(data, "", errs, [
        ("id", _slug("plan id"), _REQUIRED),
        ("reseller", _slug("reseller id"), _REQUIRED),
        ("name", _text(100), _REQUIRED),
        ("disk_mb", _int(1), _REQUIRED),
        ("default_web_mb", _int(0), _REQUIRED),
        ("max_domains", _int(0, 1000), 1),
        ("max_mailboxes", _int(0, 100000), 0),
        ("max_mailbox_mb", _int(0), 0),
        ("max_ftp_accounts", _int(0, 1000), 0),
        ("max_databases", lambda v, p, e: _record(v, p, e, [
            ("mariadb", _int(0, 1000), 0), ("postgresql", _int(0, 1000), 0)]), dict),
        ("dns", boolean, False),
        ("ssh", boolean, False),
        ("mail", boolean, False),
        ("ftps_required", boolean, True),
        ("mail_limits", lambda v, p, e: _record(v, p, e, [
            ("per_hour", _int(0, 1_000_000), 200),
            ("per_day", _int(0, 10_000_000), 2000)]), dict),
    ])
    if rec and not errs:
        if rec["default_web_mb"] > rec["disk_mb"]:
            errs.add("default_web_mb", "must not exceed disk_mb")
        if rec["max_mailbox_mb"] > rec["disk_mb"]:
            errs.add("max_mailbox_mb", "must not exceed disk_mb")
        if rec["mail_limits"]["per_hour"] > rec["mail_limits"]["per_day"]:
            errs.add("mail_limits.per_hour", "must not exceed per_day")
    return rec, errs.items


# --- tenant ----------------------------------------------------------------------------

def _tls(value: Any, path: str, errs: Errors) -> Any:
    rec = _record(value, path, errs, [
        ("mode", _choice(TLS_MODES), "selfsigned"),
        ("cert_ref", _opt(lambda v, p, e: pattern(v, p, e, CERT_REF_RE, "certificate name")),
         None),
    ])
    if rec and rec.get("mode") == "own" and not rec.get("cert_ref"):
        errs.add(_join(path, "cert_ref"), "is required for an own certificate")
    if rec and rec.get("mode") != "own" and rec.get("cert_ref"):
        errs.add(_join(path, "cert_ref"), "is only used with mode own")
    return rec


def _domain_list(value: Any, path: str, errs: Errors, max_len: int) -> Any:
    items = _list(value, path, errs, max_len=max_len)
    if items is None:
        return None
    return [domain_name(item, _join(path, i), errs) for i, item in enumerate(items)]


_DOMAIN_SPEC: list[FieldSpec] = [
    ("name", domain_name, _REQUIRED),
    ("docroot", rel_path, "public_html"),
    ("aliases", lambda v, p, e: _domain_list(v, p, e, 20), list),
    ("tls", _tls, dict),
    ("https_redirect", boolean, False),
    ("php_version", _opt(lambda v, p, e: pattern(v, p, e, PHP_VERSION_RE, "PHP version")),
     None),
]


def _forwards(value: Any, path: str, errs: Errors) -> Any:
    items = _list(value, path, errs, max_len=20)
    if items is None:
        return None
    out = [email(item, _join(path, i), errs, strict_local=True) for i, item in enumerate(items)]
    if len(set(out)) != len(out):
        errs.add(path, "must not repeat an address")
    return out


def mailbox_address(value: Any, path: str, errs: Errors) -> Any:
    if not isinstance(value, str) or value.count("@") != 1:
        errs.add(path, "must be an address local@domain")
        return None
    local, _, dom = value.partition("@")
    local = local.lower()
    if not MAIL_LOCAL_RE.match(local):
        errs.add(path, "the part before @ may use a-z, 0-9 and . _ + - (not first or last)")
        return None
    ascii_domain = domain_name(dom, path, errs)
    return f"{local}@{ascii_domain}" if ascii_domain else None


def _lock(value: Any, path: str, errs: Errors) -> Any:
    return _record(value, path, errs, [
        ("reason", _text(300), _REQUIRED),
        ("at", timestamp, _REQUIRED),
        ("by", lambda v, p, e: pattern(v, p, e, ACTOR_RE, "actor"), _REQUIRED),
    ])


_MAILBOX_SPEC: list[FieldSpec] = [
    ("address", mailbox_address, _REQUIRED),
    ("password_hash", _hash(hashing.DOVECOT_RE, "{SHA512-CRYPT}"), _REQUIRED),
    ("quota_mb", _int(1), _REQUIRED),
    ("forwards", _forwards, list),
    ("locked", _opt(_lock), None),
]


def _prefixed(tenant_id: str | None, sep: str, rx: re.Pattern[str], what: str):
    def inner(value: Any, path: str, errs: Errors) -> Any:
        if not isinstance(value, str) or not tenant_id or not value.startswith(tenant_id + sep) \
                or not rx.match(value[len(tenant_id) + 1:]):
            errs.add(path, f"must be {tenant_id or '<tenant>'}{sep}<{what}>")
            return None
        return value
    return inner


def _dns_owner(value: Any, path: str, errs: Errors) -> Any:
    if value == "@":
        return value
    if not isinstance(value, str) or len(value) > 200:
        errs.add(path, "must be @ or a name relative to the zone")
        return None
    labels = value.lower().split(".")
    if not all(DNS_OWNER_LABEL_RE.match(label) for label in labels) or "*" in labels[1:]:
        errs.add(path, "must be @ or a name relative to the zone (www, _dmarc, *.app)")
        return None
    return value.lower()


_DNS_SPEC: list[FieldSpec] = [
    ("zone", domain_name, _REQUIRED),
    ("name", _dns_owner, "@"),
    ("type", _choice(DNS_TYPES), _REQUIRED),
    ("value", lambda v, p, e: v, _REQUIRED),  # checked with the type below
    ("ttl", _int(60, 86400), 3600),
]


def dns_value(rtype: str, value: Any, zone: str, path: str, errs: Errors) -> Any:
    """Check an rdata value with dnspython; non-TXT values come back in canonical form."""
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    if not isinstance(value, str) or not value:
        errs.add(path, "must be text")
        return None
    if rtype == "TXT":
        if len(value) > 2048 or not all(32 <= ord(c) < 127 for c in value):
            errs.add(path, "TXT text must be printable ASCII, at most 2048 characters")
            return None
        quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        if len(value) > 500 or any(c in value for c in ";()\\$\n\r\t\0"):
            errs.add(path, f"is not a valid {rtype} value")
            return None
        if not value.isascii():
            errs.add(path, "names in DNS values must be ASCII (use the xn-- form)")
            return None
        quoted = value
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), quoted,
                                    origin=dns.name.from_text(zone), relativize=False)
    except (dns.exception.DNSException, ValueError) as exc:
        errs.add(path, f"is not a valid {rtype} value ({exc})")
        return None
    return value if rtype == "TXT" else rdata.to_text()


def check_tenant(data: Any) -> tuple[dict | None, dict[str, str]]:
    """Record checks of a tenant and everything it holds."""
    errs = Errors()
    tid = data.get("id") if isinstance(data, dict) else None
    tid = tid if isinstance(tid, str) and TENANT_ID_RE.match(tid) else None

    def tenant_id(value: Any, path: str, e: Errors) -> Any:
        value = pattern(value, path, e, TENANT_ID_RE, "tenant id ([a-z][a-z0-9]{2,15})")
        if value in RESERVED_TENANT_IDS:
            e.add(path, f"{value!r} is reserved for the system")
            return None
        return value

    def items(spec: list[FieldSpec], max_len: int):
        def inner(value: Any, path: str, e: Errors) -> Any:
            lst = _list(value, path, e, max_len=max_len)
            if lst is None:
                return None
            return [_record(item, _join(path, i), e, spec) for i, item in enumerate(lst)]
        return inner

    ftp_spec: list[FieldSpec] = [
        ("name", _prefixed(tid, "-", FTP_SUFFIX_RE, "a-z0-9, up to 15"), _REQUIRED),
        ("password_hash", _hash(hashing.SHA512_CRYPT_RE, "SHA512-crypt"), _REQUIRED),
        ("dir", lambda v, p, e: rel_path(v, p, e, allow_empty=True), ""),
    ]
    db_spec: list[FieldSpec] = [
        ("engine", _choice(DB_ENGINES), _REQUIRED),
        ("name", _prefixed(tid, "_", DB_SUFFIX_RE, "a-z0-9, up to 16"), _REQUIRED),
        ("user", _prefixed(tid, "_", DB_SUFFIX_RE, "a-z0-9, up to 16"), _REQUIRED),
        ("password_hash", lambda v, p, e: v, _REQUIRED),  # per engine, below
    ]
    rec = _record(data, "", errs, [
        ("id", tenant_id, _REQUIRED),
        ("reseller", _slug("reseller id"), _REQUIRED),
        ("plan", _slug("plan id"), _REQUIRED),
        ("node", _slug("node name"), _REQUIRED),
        ("status", _choice(TENANT_STATUSES), "active"),
        ("status_reason", _text(500, required=False), ""),
        ("contractor", _text(200), _REQUIRED),
        ("customer_number", _opt(lambda v, p, e: pattern(v, p, e, CUSTOMER_NUMBER_RE,
                                                         "customer number")), None),
        ("contract_date", date, _REQUIRED),
        ("start_date", date, _REQUIRED),
        ("contact_email", email, _REQUIRED),
        ("disk", lambda v, p, e: _record(v, p, e, [
            ("web_mb", _int(0), _REQUIRED), ("mail_mb", _int(0), _REQUIRED)]), _REQUIRED),
        ("ssh", boolean, False),
        ("password_hash", _hash(hashing.SHA512_CRYPT_RE, "SHA512-crypt"), _REQUIRED),
        ("domains", items(_DOMAIN_SPEC, 1000), list),
        ("mailboxes", items(_MAILBOX_SPEC, 100000), list),
        ("ftp_accounts", items(ftp_spec, 1000), list),
        ("databases", items(db_spec, 1000), list),
        ("dns_records", items(_DNS_SPEC, 2000), list),
    ])
    if rec is None:
        return None, errs.items
    _tenant_internal(rec, errs)
    return rec, errs.items


def _tenant_internal(rec: dict, errs: Errors) -> None:
    """Consistency inside one tenant record (after the field checks)."""
    domains = [d for d in rec.get("domains") or [] if d]
    names: dict[str, str] = {}
    for i, dom in enumerate(domains):
        for key, name in [("name", dom.get("name"))] + [
                (f"aliases[{j}]", a) for j, a in enumerate(dom.get("aliases") or [])]:
            if not name:
                continue
            if name in names:
                errs.add(f"domains[{i}].{key}", f"{name} is already used by {names[name]}")
            else:
                names[name] = f"domains[{i}]"
    primary = {d.get("name") for d in domains}

    seen: set[str] = set()
    for i, box in enumerate(m for m in rec.get("mailboxes") or []):
        if not box or not box.get("address"):
            continue
        addr = box["address"]
        if addr in seen:
            errs.add(f"mailboxes[{i}].address", f"{addr} is listed twice")
        seen.add(addr)
        if addr.split("@", 1)[1] not in primary:
            errs.add(f"mailboxes[{i}].address", "must be on one of the tenant's domains")
        if addr in (box.get("forwards") or []):
            errs.add(f"mailboxes[{i}].forwards", "must not forward to itself")

    seen = set()
    for i, acc in enumerate(a for a in rec.get("ftp_accounts") or []):
        if acc and acc.get("name"):
            if acc["name"] in seen:
                errs.add(f"ftp_accounts[{i}].name", "is listed twice")
            seen.add(acc["name"])

    seen_names: set[tuple[str, str]] = set()
    seen_users: set[tuple[str, str]] = set()
    for i, db in enumerate(d for d in rec.get("databases") or []):
        if not db or not db.get("engine"):
            continue
        engine = db["engine"]
        if db.get("name") and (engine, db["name"]) in seen_names:
            errs.add(f"databases[{i}].name", "is listed twice")
        if db.get("user") and (engine, db["user"]) in seen_users:
            errs.add(f"databases[{i}].user", "is already used by another database")
        seen_names.add((engine, db.get("name")))
        seen_users.add((engine, db.get("user")))
        if db.get("user") and len(db["user"]) > DB_USER_MAX[engine]:
            errs.add(f"databases[{i}].user", f"is too long for {engine}")
        ph = db.get("password_hash")
        if not isinstance(ph, str) or not hashing.DATABASE_HASH_RE[engine].match(ph):
            what = "MariaDB *<40 hex>" if engine == "mariadb" else "SCRAM-SHA-256 verifier"
            errs.add(f"databases[{i}].password_hash", f"must be a {what} hash")

    for i, rr in enumerate(r for r in rec.get("dns_records") or []):
        if not rr or not rr.get("zone") or not rr.get("type"):
            continue
        path = f"dns_records[{i}]"
        if rr["zone"] not in primary:
            errs.add(f"{path}.zone", "must be one of the tenant's domains")
            continue
        if rr["type"] == "CNAME" and rr.get("name") == "@":
            errs.add(f"{path}.name", "a CNAME cannot be at the zone apex (@)")
        rr["value"] = dns_value(rr["type"], rr.get("value"), rr["zone"], f"{path}.value", errs)
    owners: dict[tuple[str, str], set[str]] = {}
    for rr in rec.get("dns_records") or []:
        if rr and rr.get("zone") and rr.get("name"):
            owners.setdefault((rr["zone"], rr["name"]), set()).add(rr.get("type"))
    for (zone, name), types in owners.items():
        if "CNAME" in types and len(types) > 1:
            errs.add("dns_records", f"{name}.{zone}: a CNAME cannot sit beside other records")

    for i, dom in enumerate(domains):
        tls = dom.get("tls") or {}
        if tls.get("mode") == "own" and tls.get("cert_ref") and tls["cert_ref"] != dom.get("name"):
            errs.add(f"domains[{i}].tls.cert_ref", "must name the domain's own certificate")

    disk = rec.get("disk") or {}
    contract, start = rec.get("contract_date"), rec.get("start_date")
    if contract and start and start < contract:
        errs.add("start_date", "must not be before the contract date")
    if rec.get("status") == "active" and rec.get("status_reason"):
        errs.add("status_reason", "is only kept while suspended or removed")
    del disk


# --- relations ---------------------------------------------------------------------------

def tenant_summary(rec: dict) -> dict[str, Any]:
    """What relation checks and the tenant list need, from a (normalised) tenant record."""
    dbs = {e: 0 for e in DB_ENGINES}
    for db in rec.get("databases") or []:
        if db and db.get("engine") in dbs:
            dbs[db["engine"]] += 1
    disk = rec.get("disk") or {}
    return {
        "id": rec.get("id"), "reseller": rec.get("reseller"), "plan": rec.get("plan"),
        "node": rec.get("node"), "status": rec.get("status"),
        "contractor": rec.get("contractor") or "",
        "customer_number": rec.get("customer_number"),
        "contact_email": rec.get("contact_email") or "",
        "contract_date": rec.get("contract_date") or "",
        "start_date": rec.get("start_date") or "",
        "disk": {"web_mb": disk.get("web_mb") or 0, "mail_mb": disk.get("mail_mb") or 0},
        "ssh": bool(rec.get("ssh")),
        "domains": [[d.get("name"), list(d.get("aliases") or [])]
                    for d in rec.get("domains") or [] if d],
        "quotas": [m.get("quota_mb") or 0 for m in rec.get("mailboxes") or [] if m],
        "ftp": len(rec.get("ftp_accounts") or []),
        "databases": dbs,
        "dns": len(rec.get("dns_records") or []),
    }


def tenant_relation_errors(summary: dict, *, plan: dict | None, reseller: dict | None,
                           node: dict | None) -> dict[str, str]:
    """A tenant against its plan, reseller and node (from :func:`tenant_summary`)."""
    errs = Errors()
    if reseller is None:
        errs.add("reseller", f"reseller {summary['reseller']!r} does not exist")
    if plan is None:
        errs.add("plan", f"plan {summary['plan']!r} of reseller {summary['reseller']!r} "
                         "does not exist")
    if node is None:
        errs.add("node", f"node {summary['node']!r} does not exist")
    else:
        if node["owner"] not in (SHARED_OWNER, summary["reseller"]):
            errs.add("node", f"node {node['name']} belongs to reseller {node['owner']}")
        services = set(node.get("services") or ())
        needs = [("domains", "web", bool(summary["domains"])),
                 ("mailboxes", "mail", bool(summary["quotas"])),
                 ("ftp_accounts", "ftp", bool(summary["ftp"])),
                 ("dns_records", "dns", bool(summary["dns"]))]
        needs += [("databases", e, bool(summary["databases"][e])) for e in DB_ENGINES]
        for field, service, needed in needs:
            if needed and service not in services:
                errs.add(field, f"node {node['name']} does not run {service}")
    if plan is not None:
        plan_errors(summary, plan, errs)
    return errs.items


def plan_errors(summary: dict, plan: dict, errs: Errors) -> None:
    name = plan["name"]
    disk = summary["disk"]
    if disk["web_mb"] + disk["mail_mb"] > plan["disk_mb"]:
        errs.add("disk", f"web {disk['web_mb']} MB + mail {disk['mail_mb']} MB is more than "
                         f"the plan's {plan['disk_mb']} MB")
    if len(summary["domains"]) > plan["max_domains"]:
        errs.add("domains", f"{len(summary['domains'])} domains, plan {name} allows "
                            f"{plan['max_domains']}")
    quotas = summary["quotas"]
    if quotas and not plan["mail"]:
        errs.add("mailboxes", f"plan {name} has no mail service")
    elif len(quotas) > plan["max_mailboxes"]:
        errs.add("mailboxes", f"{len(quotas)} mailboxes, plan {name} allows "
                              f"{plan['max_mailboxes']}")
    for i, quota in enumerate(quotas):
        if quota > plan["max_mailbox_mb"]:
            errs.add(f"mailboxes[{i}].quota_mb", f"{quota} MB is over the plan's mailbox size "
                                                 f"{plan['max_mailbox_mb']} MB")
        if quota > disk["mail_mb"]:
            errs.add(f"mailboxes[{i}].quota_mb", f"{quota} MB is over the mail area "
                                                 f"{disk['mail_mb']} MB")
    if summary["ftp"] > plan["max_ftp_accounts"]:
        errs.add("ftp_accounts", f"{summary['ftp']} FTP accounts, plan {name} allows "
                                 f"{plan['max_ftp_accounts']}")
    for engine in DB_ENGINES:
        count, allowed = summary["databases"][engine], plan["max_databases"][engine]
        if count > allowed:
            errs.add("databases", f"{count} {engine} databases, plan {name} allows {allowed}")
    if summary["dns"] and not plan["dns"]:
        errs.add("dns_records", f"plan {name} has no DNS zone management")
    if summary["ssh"] and not plan["ssh"]:
        errs.add("ssh", f"plan {name} does not allow SSH")


def check_record(kind: str, data: Any) -> tuple[dict | None, dict[str, str]]:
    return {"node": check_node, "reseller": check_reseller, "plan": check_plan,
            "tenant": check_tenant}[kind](data)


def format_errors(subject: str, errors: dict[str, str]) -> list[str]:
    """``"<subject>: <field>: <message>"`` lines (the form of ``oemhost_inventory_errors``)."""
    return [f"{subject}: {k}: {v}" if k else f"{subject}: {v}" for k, v in errors.items()]
