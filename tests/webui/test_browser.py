"""The panels in a real browser (Debian's chromium driven by Playwright), against a real
HTTP server, a real store, a real database and a real job worker running ansible-playbook.

The story: the provider creates a reseller with a brand -> the reseller logs in on its
branded page, creates a plan and a customer -> the end user logs in and adds a domain, a
mailbox, an FTP account and a database; each change shows its job live until it is done.
The playbooks here converge a stand-in node (``ansible_connection: local``, address
127.0.0.1); the story on real lab nodes with the real roles is test_e2e_lab.py.

Screenshots of every page: test-artifacts/browser/*.png.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from oemhost.config import PROJECT_DIR, Settings

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT_DIR / "test-artifacts" / "browser"

ANSIBLE_CFG = f"""[defaults]
inventory_plugins = {PROJECT_DIR}/plugins/inventory
vars_plugins = {PROJECT_DIR}/plugins/vars
host_key_checking = False
retry_files_enabled = False
gathering = explicit
stdout_callback = default
nocows = True

[inventory]
enable_plugins = oemhost_state, yaml, auto
ignore_patterns = ^state$, ^secrets$, ^host_vars$
"""

# stands in for the real tenant.yml: sees the tenant scope and the node's tenants
TENANT_PLAY = """---
- name: Converge tenants (browser test stand-in)
  hosts: all
  gather_facts: false
  tasks:
    - name: Show the tenants in scope
      ansible.builtin.debug:
        msg: "{{ oemhost_tenant_scope | default(['ALL']) | join(',') }}"
    - name: Take a moment, so that the panel shows the job running
      ansible.builtin.command: sleep 1
      changed_when: false
"""


def _browser_available():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make host-deps)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed")


@pytest.fixture
def live(tmp_path, _inventory_template):
    """A server on 127.0.0.1 and a job worker, over a copy of the test inventory."""
    import shutil

    from werkzeug.serving import make_server

    from oemhost.jobs.config import JobsConfig
    from oemhost.jobs.worker import Worker, open_database
    from webui import create_app

    _browser_available()
    inv = tmp_path / "inventory"
    shutil.copytree(_inventory_template, inv, symlinks=True)
    (inv / "host_vars").mkdir()
    (inv / "host_vars" / "node1.yml").write_text(
        "---\nansible_connection: local\n"
        "ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n")
    project = tmp_path / "project"
    (project / "playbooks").mkdir(parents=True)
    (project / "ansible.cfg").write_text(ANSIBLE_CFG)
    for name in ("tenant.yml", "site.yml", "remove_tenant.yml"):
        (project / "playbooks" / name).write_text(TENANT_PLAY)
    state = tmp_path / "state"
    settings = Settings(project_dir=project, inventory_dir=inv, state_dir=state,
                        database_url=f"sqlite:///{state / 'oemhost.db'}",
                        raw={"web": {"cookie_secure": False,
                                     "argon2": {"time_cost": 1, "memory_kib": 1024,
                                                "parallelism": 1}},
                             "jobs": {"poll_interval": 0.2}})
    app = create_app({"OEMHOST_SETTINGS": settings})
    with app.app_context():
        from oemhost import accounts
        from webui.context import db

        accounts.create_user(db(), kind="provider", login="ops", password="ops-password-1",
                             created_by="test")
        db().commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    factory = open_database(settings)
    worker = Worker(settings, JobsConfig.from_settings(settings), factory=factory,
                    scheduler=False)
    wthread = threading.Thread(target=worker.run, daemon=True)
    wthread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        worker.stop(drain=30)
        wthread.join(60)
        server.shutdown()
        thread.join(10)
        app.extensions["oemhost_engine"].dispose()
        factory.kw["bind"].dispose()


@pytest.fixture
def chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    _browser_available()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        contexts = []

        def new_context():
            ctx = pw.chromium.launch_persistent_context(
                str(tmp_path / f"profile{len(contexts)}"), executable_path=CHROMIUM,
                args=CHROMIUM_ARGS, headless=True, viewport={"width": 1280, "height": 900})
            ctx.set_default_timeout(30_000)
            contexts.append(ctx)
            return ctx.pages[0] if ctx.pages else ctx.new_page()

        yield new_context
        for ctx in contexts:
            ctx.close()


_shots = {"dir": ARTIFACTS}


def shot(page, name: str) -> None:
    _shots["dir"].mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(_shots["dir"] / f"{name}.png"), full_page=True)


def wait_job_done(page, timeout=120_000) -> str:
    """Wait until the page's job box says the job finished; return its status."""
    page.wait_for_selector(".job-watch[data-status=succeeded], .job-watch[data-status=failed]",
                           timeout=timeout)
    return page.get_attribute(".job-watch", "data-status")


def test_the_whole_story_in_a_browser(live, chromium):
    walk_story(live, chromium, ARTIFACTS)


def walk_story(base: str, chromium, artifacts: Path) -> dict[str, str]:
    """The whole story through the browser; returns what the real clients need."""
    _shots["dir"] = artifacts
    # --- the provider creates a reseller with its brand --------------------------------
    ops = chromium()
    ops.goto(f"{base}/login?lang=en")
    shot(ops, "01-provider-login")
    ops.fill("#login", "ops")
    ops.fill("#password", "ops-password-1")
    ops.click("form button[type=submit]")
    ops.wait_for_url(f"{base}/provider/")
    shot(ops, "02-provider-overview")
    ops.click("text=Resellers")
    ops.click("text=New reseller")
    ops.fill("#id", "gamma")
    ops.fill("#company", "ガンマ株式会社")
    ops.fill("#contacts", "noc@gamma.example")
    ops.fill("#display_name", "Gamma Web")
    ops.eval_on_selector("#primary_color", "e => e.value = '#6a1b9a'")
    ops.eval_on_selector("#accent_color", "e => e.value = '#ffb300'")
    ops.select_option("#locale", "ja")
    ops.fill("#login", "boss")
    shot(ops, "03-provider-new-reseller")
    ops.click("form.card button[type=submit]")
    ops.wait_for_selector(".secret.password, .error, .form-error")
    assert ops.query_selector(".secret.password"), ops.inner_text("main")
    reseller_pw = ops.inner_text(".secret.password").strip()
    login_url = ops.inner_text(".login-url").strip()
    assert login_url.endswith("/r/gamma/login")
    shot(ops, "04-provider-reseller-credentials")
    ops.goto(f"{base}/provider/nodes")
    shot(ops, "05-provider-nodes")

    # --- the reseller logs in on its branded page --------------------------------------
    rs = chromium()
    rs.goto(f"{base}/r/gamma/login")
    assert "Gamma Web" in rs.inner_text(".brand-name")
    assert rs.get_attribute("html", "lang") == "ja"
    bg = rs.eval_on_selector(".topbar", "e => getComputedStyle(e).backgroundColor")
    assert bg == "rgb(106, 27, 154)"  # the reseller's primary colour
    shot(rs, "06-reseller-branded-login")
    rs.fill("#login", "boss")
    rs.fill("#password", reseller_pw)
    rs.click("button[type=submit]")
    rs.wait_for_url(f"{base}/reseller/")
    shot(rs, "07-reseller-usage")
    rs.goto(f"{base}/reseller/plans/new")
    rs.fill("#id", "start")
    rs.fill("#name", "スタート")
    rs.fill("#disk_mb", "1000")
    rs.fill("#default_web_mb", "700")
    rs.fill("#max_domains", "2")
    rs.fill("#max_mailboxes", "5")
    rs.fill("#max_mailbox_mb", "200")
    rs.fill("#max_ftp_accounts", "1")
    rs.fill("#max_mariadb", "1")
    rs.fill("#max_postgresql", "1")
    rs.check("#dns")
    shot(rs, "08-reseller-new-plan")
    rs.click("form.card button[type=submit]")
    rs.wait_for_url(f"{base}/reseller/plans")
    assert "スタート" in rs.inner_text("table")
    shot(rs, "09-reseller-plans")
    # a bad customer first: the message sits next to the field, nothing is created
    rs.goto(f"{base}/reseller/customers/new")
    rs.fill("#id", "../etc")
    rs.fill("#contractor", "{{ lookup('pipe','id') }}")
    rs.fill("#contact_email", "owner@gshop.example")
    rs.click("form.card button[type=submit]")
    rs.wait_for_selector("#field-id .error")
    shot(rs, "10-reseller-customer-refused")
    rs.fill("#id", "gshop1")
    rs.fill("#contractor", "ガンマ商店")
    rs.fill("#customer_number", "G-001")
    rs.fill("#domain", "gshop1.example")
    rs.click("form.card button[type=submit]")
    rs.wait_for_selector(".secret.password")
    enduser_pw = rs.inner_text(".secret.password").strip()
    assert wait_job_done(rs) == "succeeded"
    assert "サーバーに反映しました" in rs.inner_text(".job-watch")
    shot(rs, "11-reseller-customer-created")
    rs.goto(f"{base}/reseller/customers")
    assert "gshop1" in rs.inner_text("table.customers")
    shot(rs, "12-reseller-customers")
    rs.goto(f"{base}/reseller/customers/gshop1")
    shot(rs, "13-reseller-customer")
    rs.goto(f"{base}/reseller/settings")
    shot(rs, "14-reseller-settings")

    # --- the end user ----------------------------------------------------------------------
    eu = chromium()
    eu.goto(f"{base}/r/gamma/login")
    eu.fill("#login", "gshop1")
    eu.fill("#password", enduser_pw)
    eu.click("button[type=submit]")
    eu.wait_for_url(f"{base}/panel/")
    shot(eu, "15-enduser-overview")
    steps = [
        ("/panel/domains", {"#name": "例え.jp"}, "16-enduser-domains"),
        ("/panel/mail", {"#local": "info", "#password": "mail-password-1",
                         "#confirm": "mail-password-1", "#quota_mb": "100"},
         "17-enduser-mail"),
        ("/panel/ftp", {"#name": "up", "#dir": "public_html",
                        "#password": "ftp-password-1", "#confirm": "ftp-password-1"},
         "18-enduser-ftp"),
        ("/panel/databases", {"#name": "wp", "#password": "db-password-1",
                              "#confirm": "db-password-1"}, "19-enduser-databases"),
    ]
    for path, fields, name in steps:
        eu.goto(base + path)
        for selector, value in fields.items():
            eu.fill(selector, value)
        eu.click("form.card button[type=submit]")
        eu.wait_for_url(base + path)
        assert eu.query_selector(".flash-error") is None, eu.inner_text("main")
        assert wait_job_done(eu) == "succeeded", eu.inner_text("main")
        shot(eu, name)
    body = eu.inner_text("main")
    assert "gshop1_wp" in body
    eu.goto(f"{base}/panel/domains")
    assert "例え.jp" in eu.inner_text("table")
    eu.goto(f"{base}/panel/disk")
    shot(eu, "20-enduser-disk")
    eu.goto(f"{base}/panel/dns")
    shot(eu, "21-enduser-dns")
    # the plan allows one FTP account: the second is refused next to the field
    eu.goto(f"{base}/panel/ftp")
    eu.fill("#name", "two")
    eu.fill("#password", "ftp-password-2")
    eu.fill("#confirm", "ftp-password-2")
    eu.click("form.card button[type=submit]")
    eu.wait_for_selector(".field.has-error .error, .form-error")
    shot(eu, "22-enduser-ftp-limit")
    # a job page, live
    eu.goto(f"{base}/jobs/")
    shot(eu, "23-enduser-jobs")
    href = eu.get_attribute("table.jobs a", "href")
    eu.goto(base + href)
    eu.wait_for_selector(".job-result:not([hidden])")
    assert re.search(r"サーバーに反映しました", eu.inner_text(".job-result"))
    shot(eu, "24-enduser-job")

    # --- the provider sees it all --------------------------------------------------------
    ops.goto(f"{base}/jobs/")
    shot(ops, "25-provider-jobs")
    ops.goto(f"{base}/provider/audit")
    audit = ops.inner_text("table")
    for action in ("reseller.add", "plan.add", "tenant.add", "mailbox.add", "ftp.add",
                   "database.add"):
        assert action in audit
    shot(ops, "26-provider-audit")
    return {"enduser_password": enduser_pw, "tenant": "gshop1", "domain": "gshop1.example",
            "mailbox": "info@gshop1.example", "mailbox_password": "mail-password-1",
            "ftp_user": "gshop1-up", "ftp_password": "ftp-password-1",
            "database": "gshop1_wp", "database_password": "db-password-1"}
