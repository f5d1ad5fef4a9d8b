#!/usr/bin/python
# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Self-signed certificates for many domains in one task (python3-cryptography)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_selfsigned_certs
short_description: Keep a self-signed certificate for every hosted domain, batched
description:
  - For each entry keeps C(<root>/<name>/privkey.pem) (0600) and C(<root>/<name>/fullchain.pem),
    a self-signed certificate whose subject alternative names are exactly O(certs[].sans).
    A certificate is (re)issued only when it is missing, its names differ, it expires within
    O(renew_days), or it does not match its key.
  - A full check (parse the certificate and key, compare the key pair) is done once per
    certificate; C(<root>/.oemhost-checked.json) (0600) records the SHA-256 of the pair that
    passed with its names and expiry, so a later run with the same files only hashes them.
  - Built on the C(cryptography) library, the same backend the community.crypto modules use;
    one task for all domains instead of three community.crypto tasks per domain
    (private key, CSR, certificate), which does not scale to thousands of domains.
  - Also reports which domains have an ACME or own certificate in O(installed_root)
    (C(<installed_root>/<name>/fullchain.pem) and C(privkey.pem)), so the vhosts can use it.
version_added: "0.1.0"
author: oemhost contributors
requirements: [python3-cryptography on the node]
options:
  root:
    description: Directory of the self-signed certificates (one sub-directory per domain).
    type: path
    default: /etc/oemhost/tls/selfsigned
  certs:
    description: The certificates.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Domain (subject CN, and directory name unless O(certs[].dir) is set).
        type: str
        required: true
      dir:
        description: Directory name under O(root) when it is not O(certs[].name)
          (for example C(node) for the node's own certificate).
        type: str
      sans:
        description: DNS names of the certificate.
        type: list
        elements: str
        required: true
  prune:
    description: Remove certificate directories under O(root) that are not in O(certs).
    type: bool
    default: true
  days:
    description: Validity of a new certificate.
    type: int
    default: 825
  renew_days:
    description: Reissue when fewer days than this are left.
    type: int
    default: 30
  key_type:
    description: Key algorithm (ECDSA P-256 or RSA 2048).
    type: str
    choices: [ec, rsa]
    default: ec
  installed_root:
    description: Where ACME and own certificates live (only read, for RV(installed)).
    type: path
    default: /etc/oemhost/tls
  installed_check:
    description: Domains to look for in O(installed_root).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Self-signed certificates for every domain
  oemhost_selfsigned_certs:
    certs:
      - {name: shop1.example, sans: [shop1.example, www.shop1.example]}
"""

RETURN = r"""
issued:
  description: Domains whose certificate was (or would be) issued.
  type: list
  elements: str
  returned: always
removed:
  description: Certificate directories removed.
  type: list
  elements: str
  returned: always
installed:
  description: Domains of O(installed_check) that have an ACME or own certificate.
  type: list
  elements: str
  returned: always
"""

import datetime  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # reported by main()
    HAS_CRYPTOGRAPHY = False

RECORD = ".oemhost-checked.json"
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (node: Python 3.11)


def _not_after(cert) -> datetime.datetime:
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)  # noqa: UP017
    return value


def _public_bytes(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def needs_issue(cert_pem: bytes | None, key_pem: bytes | None, sans: list[str],
                renew_days: int) -> str | None:
    """Why the certificate must be issued again, or None when it is fine."""
    if cert_pem is None or key_pem is None:
        return "missing"
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError:
        return "unreadable"
    try:
        names = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    if sorted(set(names)) != sorted(set(sans)):
        return "names changed"
    if _not_after(cert) - _utcnow() < datetime.timedelta(days=renew_days):
        return "expiring"
    if _public_bytes(cert.public_key()) != _public_bytes(key.public_key()):
        return "key mismatch"
    return None


def _digest(cert_pem: bytes, key_pem: bytes) -> str:
    return hashlib.sha256(b"%d:" % len(cert_pem) + cert_pem + key_pem).hexdigest()


def checked_entry(cert_pem: bytes, key_pem: bytes, sans: list[str]) -> dict:
    """The record of a pair that passed the full check."""
    expires = _not_after(x509.load_pem_x509_certificate(cert_pem))
    return {"digest": _digest(cert_pem, key_pem), "sans": sorted(set(sans)),
            "not_after": expires.isoformat()}


def still_good(entry: dict | None, cert_pem: bytes | None, key_pem: bytes | None,
               sans: list[str], renew_days: int) -> bool:
    """True when the record shows these very files passed, for these names, and they are
    not due for renewal: the full check can be skipped."""
    if not isinstance(entry, dict) or cert_pem is None or key_pem is None:
        return False
    try:
        expires = datetime.datetime.fromisoformat(entry["not_after"])
        return (entry["digest"] == _digest(cert_pem, key_pem)
                and entry["sans"] == sorted(set(sans))
                and expires - _utcnow() >= datetime.timedelta(days=renew_days))
    except (KeyError, TypeError, ValueError):
        return False


def _read_record(root: str) -> dict:
    try:
        with open(os.path.join(root, RECORD), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def issue(name: str, sans: list[str], days: int, key_type: str) -> tuple[bytes, bytes]:
    key = (ec.generate_private_key(ec.SECP256R1()) if key_type == "ec"
           else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _utcnow()
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def _write(path: str, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".oemhost-", dir=os.path.dirname(path))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/etc/oemhost/tls/selfsigned"),
            certs=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                dir=dict(type="str"),
                sans=dict(type="list", elements="str", required=True),
            )),
            prune=dict(type="bool", default=True),
            days=dict(type="int", default=825),
            renew_days=dict(type="int", default=30),
            key_type=dict(type="str", choices=["ec", "rsa"], default="ec"),
            installed_root=dict(type="path", default="/etc/oemhost/tls"),
            installed_check=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg="python3-cryptography is required on the node")
    p = module.params
    root = p["root"]
    for entry in p["certs"]:
        if not NAME_RE.match(entry["name"]) or not all(NAME_RE.match(s) for s in entry["sans"]):
            module.fail_json(msg=f"{entry['name']!r}: not a domain name")
        entry["dir"] = entry["dir"] or entry["name"]
        if not NAME_RE.match(entry["dir"]) or ".." in entry["dir"]:
            module.fail_json(msg=f"{entry['dir']!r}: not a directory name")
    issued, lines = [], []
    record = _read_record(root)
    # a scoped run keeps the other certificates' records; a pruning run only its own
    new_record = {} if p["prune"] else dict(record)
    for entry in p["certs"]:
        name, key = entry["name"], entry["dir"]
        d = os.path.join(root, key)
        cert_pem = _read(os.path.join(d, "fullchain.pem"))
        key_pem = _read(os.path.join(d, "privkey.pem"))
        if still_good(record.get(key), cert_pem, key_pem, entry["sans"], p["renew_days"]):
            new_record[key] = record[key]
            continue
        reason = needs_issue(cert_pem, key_pem, entry["sans"], p["renew_days"])
        if reason is None:
            new_record[key] = checked_entry(cert_pem, key_pem, entry["sans"])
            continue
        new_record.pop(key, None)
        issued.append(name)
        lines.append(f"{name}: issue ({reason}) for {', '.join(entry['sans'])}\n")
        if module.check_mode:
            continue
        os.makedirs(d, mode=0o755, exist_ok=True)
        cert_pem, key_pem = issue(name, entry["sans"], p["days"], p["key_type"])
        _write(os.path.join(d, "privkey.pem"), key_pem, 0o600)
        _write(os.path.join(d, "fullchain.pem"), cert_pem, 0o644)
        new_record[key] = checked_entry(cert_pem, key_pem, entry["sans"])
    removed = []
    if p["prune"] and os.path.isdir(root):
        keep = {e["dir"] for e in p["certs"]}
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name)
            if name not in keep and NAME_RE.match(name) and os.path.isdir(path) \
                    and not os.path.islink(path):
                removed.append(name)
                lines.append(f"{name}: remove\n")
                if not module.check_mode:
                    shutil.rmtree(path)
    if new_record != record and not module.check_mode and os.path.isdir(root):
        # the record is a cache of checks, not managed state: it never makes a change
        _write(os.path.join(root, RECORD),
               json.dumps(new_record, sort_keys=True).encode(), 0o600)
    installed = [n for n in p["installed_check"] if NAME_RE.match(n)
                 and os.path.isfile(os.path.join(p["installed_root"], n, "fullchain.pem"))
                 and os.path.isfile(os.path.join(p["installed_root"], n, "privkey.pem"))]
    module.exit_json(changed=bool(issued or removed), issued=issued, removed=removed,
                     installed=installed,
                     diff={"before": "", "after": "".join(lines), "before_header": root,
                           "after_header": f"{root} (changes)"})


if __name__ == "__main__":
    main()
