#!/usr/bin/env python3
"""A real mail client from outside the node, for the verify step: prints one JSON object.

  mailclient.py send HOST --port 587|465|25 [--user ADDR] [--password-of ADDR | --wrong-password]
                --from ADDR --to ADDR[,ADDR...] [--subject S] [--size BYTES] [--no-size]
  mailclient.py imap HOST --port 993|143 --user ADDR [--password-of ADDR] [--subject S] [--wait N]
  mailclient.py pop3 HOST --port 995|110 --user ADDR [--password-of ADDR] [--subject S] [--wait N]
  mailclient.py cert HOST --port N [--servername NAME] [--starttls smtp|imap|pop3]

Passwords come from SECRETS/passwords.json (random per run, see make_secrets.py); secrets
directory from --secrets or $MAIL_TEST_DIR. Plain stdlib clients (smtplib, imaplib, poplib,
ssl) with certificate checks off: the nodes have self-signed certificates.
"""

from __future__ import annotations

import argparse
import email.message
import imaplib
import json
import os
import poplib
import smtplib
import socket
import ssl
import sys
import time

TIMEOUT = 20


def tls_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def password(args) -> str:
    if args.wrong_password:
        return "not-the-password"
    secrets_dir = args.secrets or os.environ.get("MAIL_TEST_DIR", "")
    with open(os.path.join(secrets_dir, "passwords.json")) as f:
        return json.load(f)[args.password_of or args.user]


def out(**data) -> int:
    print(json.dumps(data))
    return 0


def send(args) -> int:
    msg = email.message.EmailMessage()
    msg["From"] = args.sender
    msg["To"] = args.to
    msg["Subject"] = args.subject
    msg.set_content("oemhost mail test\n" + "x" * max(0, args.size))
    rcpts = args.to.split(",")
    stage = "connect"
    try:
        if args.port == 465:
            smtp = smtplib.SMTP_SSL(args.host, 465, timeout=TIMEOUT, context=tls_context())
        else:
            smtp = smtplib.SMTP(args.host, args.port, timeout=TIMEOUT)
        with smtp:
            smtp.ehlo("client.test")
            if args.port != 465:
                stage = "starttls"
                smtp.starttls(context=tls_context())
                smtp.ehlo("client.test")
            if args.user:
                stage = "auth"
                smtp.login(args.user, password(args))
            if args.no_size:  # hide the size from the server (no SIZE= on MAIL FROM)
                smtp.esmtp_features.pop("size", None)
            stage = "send"
            refused = smtp.send_message(msg, from_addr=args.sender, to_addrs=rcpts)
        return out(ok=True, refused={k: [v[0], v[1].decode()] for k, v in refused.items()})
    except smtplib.SMTPRecipientsRefused as exc:
        first = next(iter(exc.recipients.values()))
        return out(ok=False, stage="rcpt", code=first[0], message=first[1].decode(),
                   refused={k: [v[0], v[1].decode()] for k, v in exc.recipients.items()})
    except smtplib.SMTPSenderRefused as exc:
        return out(ok=False, stage="mail", code=exc.smtp_code, message=exc.smtp_error.decode())
    except smtplib.SMTPResponseException as exc:
        return out(ok=False, stage=stage, code=exc.smtp_code,
                   message=exc.smtp_error.decode(errors="replace"))
    except (smtplib.SMTPException, OSError) as exc:
        return out(ok=False, stage=stage, code=0, message=str(exc))


def imap(args) -> int:
    try:
        if args.port == 993:
            conn = imaplib.IMAP4_SSL(args.host, 993, ssl_context=tls_context(), timeout=TIMEOUT)
        else:
            conn = imaplib.IMAP4(args.host, args.port, timeout=TIMEOUT)
            if args.plain:
                caps = [c.decode() if isinstance(c, bytes) else c for c in conn.capabilities]
                return out(ok=True, logindisabled="LOGINDISABLED" in caps, caps=caps)
            conn.starttls(ssl_context=tls_context())
        conn.login(args.user, password(args))
    except (imaplib.IMAP4.error, OSError) as exc:
        return out(ok=False, stage="login", message=str(exc))
    deadline = time.monotonic() + args.wait
    while True:
        conn.select("INBOX", readonly=True)
        criteria = ["SUBJECT", f'"{args.subject}"'] if args.subject else ["ALL"]
        _, data = conn.search(None, *criteria)
        ids = data[0].split()
        if ids or time.monotonic() >= deadline:
            break
        time.sleep(1)
    bodies = []
    for msg_id in ids[-3:]:
        _, parts = conn.fetch(msg_id, "(RFC822)")
        bodies.append(parts[0][1].decode(errors="replace"))
    conn.logout()
    return out(ok=True, count=len(ids), found=bool(ids), bodies=bodies)


def pop3(args) -> int:
    try:
        if args.port == 995:
            conn = poplib.POP3_SSL(args.host, 995, context=tls_context(), timeout=TIMEOUT)
        else:
            conn = poplib.POP3(args.host, args.port, timeout=TIMEOUT)
            conn.stls(context=tls_context())
        conn.user(args.user)
        conn.pass_(password(args))
    except (poplib.error_proto, OSError) as exc:
        return out(ok=False, stage="login", message=str(exc))
    count, _ = conn.stat()
    found = False
    for i in range(1, count + 1):
        _, lines, _ = conn.retr(i)
        text = b"\n".join(lines).decode(errors="replace")
        if not args.subject or f"Subject: {args.subject}" in text:
            found = True
    conn.quit()
    return out(ok=True, count=count, found=found)


def cert(args) -> int:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    raw = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    if args.starttls == "smtp":
        raw.recv(1024)
        raw.sendall(b"EHLO client.test\r\n")
        time.sleep(0.5)
        raw.recv(4096)
        raw.sendall(b"STARTTLS\r\n")
        raw.recv(1024)
    elif args.starttls == "imap":
        raw.recv(1024)
        raw.sendall(b"a STARTTLS\r\n")
        raw.recv(1024)
    elif args.starttls == "pop3":
        raw.recv(1024)
        raw.sendall(b"STLS\r\n")
        raw.recv(1024)
    with tls_context().wrap_socket(raw, server_hostname=args.servername) as tls:
        der = tls.getpeercert(binary_form=True)
        version = tls.version()
    crt = x509.load_der_x509_certificate(der)
    cns = crt.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return out(ok=True, subject_cn=cns[0].value if cns else "", tls=version)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["send", "imap", "pop3", "cert"])
    parser.add_argument("host")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secrets")
    parser.add_argument("--user")
    parser.add_argument("--password-of")
    parser.add_argument("--wrong-password", action="store_true")
    parser.add_argument("--from", dest="sender")
    parser.add_argument("--to")
    parser.add_argument("--subject", default="")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--no-size", action="store_true")
    parser.add_argument("--wait", type=float, default=0)
    parser.add_argument("--plain", action="store_true", help="imap on 143: only read CAPABILITY")
    parser.add_argument("--servername")
    parser.add_argument("--starttls", choices=["smtp", "imap", "pop3"])
    args = parser.parse_args()
    return {"send": send, "imap": imap, "pop3": pop3, "cert": cert}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
