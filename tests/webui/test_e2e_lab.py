"""The whole story on a real lab node with the real roles, proven with real clients.

A lab node is booted and converged (``site.yml`` through the job engine and its worker);
then the browser story of test_browser.py runs against it: the provider creates a
reseller, the reseller logs in on its branded page and creates a plan and a customer, the
end user adds a domain, a mailbox, an FTP account and a database, each applied by a job.
Then real clients prove it: the domain answers over HTTPS (SNI), a mail sent over SMTP is
read over IMAPS, the FTP account uploads over FTPS (and the file is served over HTTPS), the
database accepts a login.

Needs root (the lab), the roles and ``playbooks/tenant.yml`` (skipped until they are on
main). Screenshots: test-artifacts/e2e/*.png.
"""

from __future__ import annotations

import ftplib
import imaplib
import io
import smtplib
import socket
import ssl
import threading
import time
import uuid
from email.message import EmailMessage

import pytest

from oemhost.config import PROJECT_DIR, Settings

pytestmark = [pytest.mark.lab, pytest.mark.browser]

NEEDED = ["playbooks/site.yml", "playbooks/tenant.yml", "roles/hosting_accounts",
          "roles/web", "roles/mail", "roles/ftp", "roles/mariadb"]


def _insecure() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the lab's certificates are self-signed
    return ctx


def https_get(address: str, host: str, path: str = "/") -> tuple[int, bytes]:
    """GET https://host/path from ``address`` with SNI = host (name-based vhosts)."""
    with socket.create_connection((address, 443), timeout=10) as raw, \
            _insecure().wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                    .encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def until(fn, timeout: float = 120, every: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = fn()
            if result:
                return result
        except (OSError, smtplib.SMTPException, imaplib.IMAP4.error, ftplib.Error) as exc:
            last = exc
        time.sleep(every)
    raise AssertionError(f"gave up after {timeout} s (last error: {last})")


@pytest.fixture
def lab_env(tmp_path):
    import os

    missing = [p for p in NEEDED if not (PROJECT_DIR / p).exists()]
    if missing:
        pytest.skip(f"needs the roles and playbooks: missing {', '.join(missing)}")
    if os.geteuid() != 0:
        pytest.skip("needs root (the lab boots nodes)")
    from oemhost.lab import Lab

    inv = tmp_path / "inventory"
    lab = Lab(PROJECT_DIR, "webui-e2e", inventory_dir=inv)
    lab.up(1)
    try:
        yield lab, inv
    finally:
        lab.down()


@pytest.fixture
def live_lab(lab_env, tmp_path):
    from werkzeug.serving import make_server

    from oemhost import accounts, jobs
    from oemhost.jobs.config import JobsConfig
    from oemhost.jobs.worker import Worker, open_database
    from oemhost.store import Store
    from webui import create_app

    lab, inv = lab_env
    state = tmp_path / "state"
    settings = Settings(project_dir=PROJECT_DIR, inventory_dir=inv, state_dir=state,
                        database_url=f"sqlite:///{state / 'oemhost.db'}",
                        raw={"web": {"cookie_secure": False}})
    node = Store(inv).list_nodes()[0]
    factory = open_database(settings)
    worker = Worker(settings, JobsConfig.from_settings(settings), factory=factory,
                    scheduler=False)
    wthread = threading.Thread(target=worker.run, daemon=True)
    wthread.start()
    with factory() as s:
        job = jobs.submit(s, kind="provision", playbook="site.yml", nodes=[node.name],
                          requested_by="lab", reason="e2e: converge", settings=settings)
        s.commit()
        done = jobs.wait(s, job.id, timeout=3600)
        assert done.status == "succeeded", done.error
    app = create_app({"OEMHOST_SETTINGS": settings})
    with app.app_context():
        from webui.context import db

        accounts.create_user(db(), kind="provider", login="ops", password="ops-password-1",
                             created_by="test")
        db().commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", node, lab
    finally:
        worker.stop(drain=60)
        wthread.join(120)
        server.shutdown()
        thread.join(10)
        app.extensions["oemhost_engine"].dispose()
        factory.kw["bind"].dispose()


def test_story_on_lab_nodes_with_real_clients(live_lab, chromium):
    from test_browser import walk_story

    base, node, lab = live_lab
    info = walk_story(base, chromium, PROJECT_DIR / "test-artifacts" / "e2e")
    addr = node.address

    # HTTPS: the customer's domain is served by its vhost (SNI)
    status, _body = until(lambda: https_get(addr, info["domain"]))
    assert status in (200, 403)  # an empty docroot may answer 403 before anything is uploaded

    # SMTP in, IMAPS read
    subject = f"e2e {uuid.uuid4()}"
    msg = EmailMessage()
    msg["From"] = "tester@outside.example"
    msg["To"] = info["mailbox"]
    msg["Subject"] = subject
    msg.set_content("hello from the panels' end-to-end test")
    with smtplib.SMTP(addr, 25, timeout=30) as smtp:
        smtp.send_message(msg)

    def read_mail():
        with imaplib.IMAP4_SSL(addr, 993, ssl_context=_insecure(), timeout=30) as imap:
            imap.login(info["mailbox"], info["mailbox_password"])
            imap.select("INBOX")
            typ, data = imap.search(None, "SUBJECT", f'"{subject}"')
            return typ == "OK" and data[0].split()
    assert until(read_mail)

    # FTP upload (FTPS), then the file is served over HTTPS
    payload = f"uploaded {uuid.uuid4()}".encode()

    def upload():
        with ftplib.FTP_TLS(addr, timeout=30, context=_insecure()) as ftp:  # noqa: S321
            ftp.login(info["ftp_user"], info["ftp_password"])
            ftp.prot_p()
            ftp.storbinary("STOR e2e.txt", io.BytesIO(payload))
            return True
    assert until(upload)
    status, body = until(lambda: (lambda r: r if r[0] == 200 else None)(
        https_get(addr, info["domain"], "/e2e.txt")))
    assert body.strip() == payload

    # the database accepts its user's login: over TCP when the node offers MariaDB to the
    # network, else with the mariadb client on the node itself (a local-only server)
    import shlex

    import pymysql

    def db_login():
        try:
            conn = pymysql.connect(host=addr, user=info["database"],
                                   password=info["database_password"],
                                   database=info["database"], connect_timeout=10)
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] == 2003:  # nothing listens on the node's address
                cmd = (f"mariadb --user={shlex.quote(info['database'])} "
                       f"--password={shlex.quote(info['database_password'])} "
                       f"--batch --skip-column-names -e 'SELECT 1' "
                       f"{shlex.quote(info['database'])}")
                return lab.ssh(node.name, cmd).stdout.strip() == "1"
            return False  # not ready yet (or refused): until() tries again
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                return cur.fetchone() == (1,)
        finally:
            conn.close()
    assert until(db_login)


@pytest.fixture
def chromium(tmp_path):
    from test_browser import CHROMIUM, CHROMIUM_ARGS, _browser_available

    _browser_available()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        contexts = []

        def new_context():
            ctx = pw.chromium.launch_persistent_context(
                str(tmp_path / f"profile{len(contexts)}"), executable_path=CHROMIUM,
                args=CHROMIUM_ARGS, headless=True, viewport={"width": 1280, "height": 900})
            ctx.set_default_timeout(60_000)
            contexts.append(ctx)
            return ctx.pages[0] if ctx.pages else ctx.new_page()

        yield new_context
        for ctx in contexts:
            ctx.close()
