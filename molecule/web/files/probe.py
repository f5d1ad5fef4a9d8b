"""Real clients for the web scenario's verify step, run on the host ("outside" the node).

Every sub-command prints one JSON object; the verify playbook asserts on it.

  probe.py http URL HOST IP                 -> {status, body, location}
  probe.py cert IP NAME                     -> {sans, subject}   (TLS with SNI NAME)
  probe.py ftp IP USER PWFILE --tls|--plain [--upload NAME]
                                            -> {login, pwd, listing, escape:{...}, error}
  probe.py ssh IP USER PWFILE COMMAND...    -> {rc, stdout, stderr}  (password login)
  probe.py mutate IN OUT OP...              -> writes a changed copy of a tenants JSON file
"""

from __future__ import annotations

import argparse
import ftplib
import http.client
import io
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
from pathlib import Path


def _insecure() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed test certificates
    return ctx


def http_probe(url: str, host: str, ip: str) -> dict:
    scheme, _, rest = url.partition("://")
    path = "/" + rest.partition("/")[2]
    if scheme == "https":
        raw = socket.create_connection((ip, 443), timeout=10)
        sock = _insecure().wrap_socket(raw, server_hostname=host)
        conn = http.client.HTTPSConnection(host, 443, timeout=10, context=_insecure())
        conn.sock = sock
    else:
        conn = http.client.HTTPConnection(ip, 80, timeout=10)
    conn.request("GET", path, headers={"Host": host})
    resp = conn.getresponse()
    body = resp.read().decode("utf-8", "replace")
    return {"status": resp.status, "body": body.strip(), "location": resp.getheader("Location")}


def cert_probe(ip: str, name: str) -> dict:
    from cryptography import x509

    with socket.create_connection((ip, 443), timeout=10) as raw:
        with _insecure().wrap_socket(raw, server_hostname=name) as sock:
            der = sock.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    sans = cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    return {"sans": sans, "subject": cert.subject.rfc4514_string()}


def ftp_probe(ip: str, user: str, password: str, use_tls: bool, upload: str | None) -> dict:
    out: dict = {"login": False}
    try:
        if use_tls:
            ftp = ftplib.FTP_TLS(context=_insecure(), timeout=15)  # noqa: S321 (FTPS is what we test)
            ftp.connect(ip, 21)
            ftp.auth()
            ftp.login(user, password)
            ftp.prot_p()
        else:
            ftp = ftplib.FTP(timeout=15)  # noqa: S321 (plain FTP must be refused or allowed per plan)
            ftp.connect(ip, 21)
            ftp.login(user, password)
    except ftplib.all_errors as exc:
        out["error"] = str(exc)
        return out
    out["login"] = True
    out["pwd"] = ftp.pwd()
    if upload:
        ftp.storbinary(f"STOR {upload}", io.BytesIO(f"uploaded by {user}\n".encode()))
    out["listing"] = sorted(ftp.nlst())
    escape = {}
    for target in ("..", "/srv", "/srv/hosting", "/etc"):
        try:
            ftp.cwd(target)
            escape[target] = ftp.pwd()
        except ftplib.error_perm as exc:
            escape[target] = f"refused: {exc}"
        ftp.cwd("/")
    try:
        buf = io.BytesIO()
        ftp.retrbinary("RETR /etc/passwd", buf.write)
        escape["/etc/passwd"] = "read"
    except ftplib.error_perm as exc:
        escape["/etc/passwd"] = f"refused: {exc}"
    out["escape"] = escape
    out["listing_after_escape"] = sorted(ftp.nlst())
    ftp.quit()
    return out


def ssh_probe(ip: str, user: str, pwfile: str, command: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        askpass = Path(tmp) / "askpass"
        askpass.write_text(f"#!/bin/sh\nexec cat '{pwfile}'\n")
        askpass.chmod(stat.S_IRWXU)
        env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force",
                   DISPLAY=":0")
        proc = subprocess.run(
            ["ssh", "-o", "BatchMode=no", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
             "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
             "-o", "NumberOfPasswordPrompts=1", f"{user}@{ip}", *command],
            capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)
    return {"rc": proc.returncode, "stdout": proc.stdout.strip(), "stderr": proc.stderr.strip()}


def mutate(src: str, dst: str, ops: list[str]) -> dict:
    """OPs: TENANT.path.to.field=JSON (set), remove=TENANT (drop the tenant),
    append:TENANT.path.to.list=JSON (append)."""
    data = json.loads(Path(src).read_text())
    tenants = data["oemhost_tenants"]
    for op in ops:
        if op.startswith("remove="):
            tid = op.split("=", 1)[1]
            gone = [t for t in tenants if t["id"] == tid]
            tenants[:] = [t for t in tenants if t["id"] != tid]
            data.setdefault("oemhost_removed_tenants", []).extend(
                dict(t, status="removed") for t in gone)
            continue
        append = op.startswith("append:")
        path, _, value = op.removeprefix("append:").partition("=")
        tid, *keys = path.split(".")
        node = next(t for t in tenants if t["id"] == tid)
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        last = int(keys[-1]) if keys[-1].isdigit() else keys[-1]
        if append:
            node[last].append(json.loads(value))
        elif value == "DELETE":
            del node[last]
        else:
            node[last] = json.loads(value)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return {"written": dst}


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("http")
    p.add_argument("url")
    p.add_argument("host")
    p.add_argument("ip")
    p = sub.add_parser("cert")
    p.add_argument("ip")
    p.add_argument("name")
    p = sub.add_parser("ftp")
    p.add_argument("ip")
    p.add_argument("user")
    p.add_argument("pwfile")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--upload")
    p = sub.add_parser("ssh")
    p.add_argument("ip")
    p.add_argument("user")
    p.add_argument("pwfile")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("mutate")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("ops", nargs="+")
    a = ap.parse_args()
    if a.cmd == "http":
        out = http_probe(a.url, a.host, a.ip)
    elif a.cmd == "cert":
        out = cert_probe(a.ip, a.name)
    elif a.cmd == "ftp":
        out = ftp_probe(a.ip, a.user, Path(a.pwfile).read_text().strip(), a.tls, a.upload)
    elif a.cmd == "ssh":
        out = ssh_probe(a.ip, a.user, a.pwfile, a.command)
    else:
        out = mutate(a.src, a.dst, a.ops)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
