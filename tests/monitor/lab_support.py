"""A converged lab node for the monitor's fault-injection tests and its benchmark.

:func:`converged_site` boots ONE lab node recorded in a store inventory, adds one tenant
(a domain, three mailboxes, a database in each engine; a plan sending at most 5
recipients an hour), converges ``playbooks/site.yml`` onto it, and runs the job engine's
worker in a thread, so that the monitor's level-1 restarts and mail locks run as real
jobs of real playbooks. Mail goes through the node's own Postfix; mailboxes are read over
IMAPS from the host.
"""

from __future__ import annotations

import email
import imaplib
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

from sqlalchemy import select

from oemhost.config import PROJECT_DIR, Settings
from oemhost.db import session_scope
from oemhost.db.models.monitor import MonitorIncident

VENV_BIN = Path(sys.executable).parent
NODE = "node1"
PASSWORD = "mailbox-pass-1"
DOMAIN = "shop1.example"
OPS = f"noc@{DOMAIN}"          # provider ops' contact (a real mailbox on the node)
RESELLER_CONTACT = f"info@{DOMAIN}"
BULK = f"bulk@{DOMAIN}"
#: the managed units, and how to kill each one's daemon. `systemctl kill` is what an
#: operator would type, but systemd inside the lab's containers cannot always enumerate a
#: unit's cgroup (EIO) and loses the main PID of units that were reloaded, so the signal
#: goes to the daemon's main process from its own PID file: SIGTERM, as `systemctl kill`
#: sends (a clean exit: systemd's Restart= policies do not bring it back by themselves).
KILL_UNITS = {
    "apache2": "/run/apache2/apache2.pid",
    "postfix": "/var/spool/postfix/pid/master.pid",
    "dovecot": "/run/dovecot/master.pid",
    "pure-ftpd": "/run/pure-ftpd.pid",
    "mariadb": "/run/mysqld/mysqld.pid",
    "postgresql": "/run/postgresql/15-main.pid",
}


def kill_command(*units: str) -> str:
    """Shell for the node: SIGTERM to the main process of each unit (its pid file, or
    the unit's MainPID). Fails (non-zero) when a daemon was not running."""
    parts = []
    for unit in units:
        pidfile = KILL_UNITS[unit]
        parts.append(f"pid=$(head -n1 {pidfile} 2>/dev/null); "
                     f'[ -n "$pid" ] || pid=$(systemctl show -p MainPID --value {unit}); '
                     f'kill -TERM $pid')
    return "; ".join(parts)


FAST = {"interval": 5, "timeout": 5, "retry_interval": 2, "max_attempts": 2,
        "followup_interval": 2, "restart_backoff": 5, "max_restarts": 2,
        "restarts_per_hour": 20, "notice_after": 3600, "job_timeout": 180,
        "reboot_grace": 15, "ssh_timeout": 5, "mail_rate_interval": 0,
        "ops_contacts": [OPS], "ops_language": "en",
        "protocols": {"ping": {"packets": 1, "wait": 1}}}


def populate(inventory: Path) -> None:
    from oemhost.store import Store

    s = Store(inventory)
    s.add_reseller({"id": "acme", "company": "ACME Hosting", "contacts": [RESELLER_CONTACT],
                    "locale": "en", "brand": {"display_name": "ACME Web",
                                              "panel_host": "panel.acme.example"},
                    "limits": {"tenants": 10, "disk_mb": 100000, "oversell": False}},
                   actor="ops:test")
    s.add_plan("acme", {"id": "basic", "name": "Basic", "disk_mb": 2000,
                        "default_web_mb": 1000, "max_domains": 3, "max_mailboxes": 5,
                        "max_mailbox_mb": 200, "max_ftp_accounts": 2,
                        "max_databases": {"mariadb": 1, "postgresql": 1}, "dns": True,
                        "ssh": False, "mail": True,
                        "mail_limits": {"per_hour": 5, "per_day": 50}}, actor="ops:test")
    s.add_tenant({"id": "shop1", "reseller": "acme", "plan": "basic", "node": NODE,
                  "contractor": "Shop One", "contact_email": f"owner@{DOMAIN}",
                  "contract_date": "2026-11-01", "start_date": "2026-11-01",
                  "domains": [DOMAIN]}, password="tenant-password-1", actor="ops:test")
    for box in (OPS, RESELLER_CONTACT, BULK):
        s.add_mailbox("shop1", box, PASSWORD, 50, actor="ops:test")
    s.add_database("shop1", "mariadb", "shop1_db", "database-pass-1", actor="ops:test")
    s.add_database("shop1", "postgresql", "shop1_pg", "database-pass-1", actor="ops:test")


def converge(inventory: Path, playbook: str = "site.yml") -> None:
    env = {**os.environ, "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"),
           "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1"}
    out = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory),
                          str(PROJECT_DIR / "playbooks" / playbook)], env=env,
                         capture_output=True, text=True, timeout=1200, check=False)
    if out.returncode != 0:
        raise AssertionError(f"{playbook} failed:\n{out.stdout[-4000:]}\n{out.stderr[-2000:]}")


@dataclass
class Site:
    lab: Any
    inventory: Path
    settings: Settings
    address: str
    factory: Any = None
    worker: Any = None
    thread: threading.Thread | None = None
    started: float = field(default_factory=time.monotonic)

    def monitor(self, **overrides):
        from oemhost.monitor.config import load_monitor_config
        from oemhost.monitor.engine import Monitor

        cfg = {**FAST, **overrides}
        settings = Settings(self.settings.project_dir, self.settings.inventory_dir,
                            self.settings.state_dir, self.settings.database_url,
                            raw={**self.settings.raw, "monitor": cfg})
        return Monitor(settings, cfg=load_monitor_config(cfg))

    def ssh(self, command: str, check: bool = True) -> str:
        return self.lab.ssh(NODE, command, check=check, timeout=120).stdout

    def incidents(self, mon, after: int) -> list[MonitorIncident]:
        with session_scope(mon.sessions) as s:
            rows = list(s.scalars(select(MonitorIncident).where(MonitorIncident.id > after)
                                  .order_by(MonitorIncident.id)))
            for r in rows:
                _ = r.events, r.notifications
            s.expunge_all()
            return rows

    def last_incident_id(self, mon) -> int:
        with session_scope(mon.sessions) as s:
            return s.scalar(select(MonitorIncident.id).order_by(
                MonitorIncident.id.desc()).limit(1)) or 0

    def drive(self, mon, done: Callable[[], bool], timeout: float, every: float = 1.0,
              what: str = "") -> None:
        """Run the monitor's sweep and follow-up (as the scheduler would) until done()."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mon.sweep()
            mon.followup()
            if done():
                return
            time.sleep(every)
        raise AssertionError(f"gave up after {timeout} s waiting for {what}")


@contextmanager
def converged_site(root: Path, lab_name: str) -> Iterator[Site]:
    from oemhost.jobs.config import JobsConfig
    from oemhost.jobs.worker import Worker, open_database
    from oemhost.lab import Lab
    from oemhost.store import Store

    # OEMHOST_TEST_KEEP_LAB=DIR (development only): keep the converged lab and its
    # inventory in DIR between runs instead of building them for every run
    keep = os.environ.get("OEMHOST_TEST_KEEP_LAB")
    root = Path(keep) if keep else root
    inv = root / "inventory"
    state = root / "state"
    lab = Lab(PROJECT_DIR, lab_name, inventory_dir=inv)
    reuse = bool(keep) and lab.status()["up"] and (root / "converged").exists()
    if not reuse:
        lab.down(progress=lambda _m: None)
        shutil.rmtree(root / "inventory", ignore_errors=True)
        shutil.rmtree(root / "state", ignore_errors=True)
    try:
        if not reuse:
            lab.up(1, progress=lambda _m: None)
            populate(inv)
            converge(inv)
            if keep:
                (root / "converged").touch()
        address = Store(inv).get_node(NODE).address
        settings = Settings(project_dir=PROJECT_DIR, inventory_dir=inv, state_dir=state,
                            database_url=f"sqlite:///{state / 'oemhost.db'}",
                            raw={"smtp": {"host": address, "port": 25, "security": "none",
                                          "from_addr": "monitor@provider.example",
                                          "from_name": "Provider NOC", "timeout": 20}})
        state.mkdir(parents=True, exist_ok=True)
        factory = open_database(settings)
        worker = Worker(settings, JobsConfig.from_settings(settings), factory=factory,
                        scheduler=False)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        site = Site(lab, inv, settings, address, factory, worker, thread)
        try:
            yield site
        finally:
            worker.stop(drain=30)
            thread.join(60)
            factory.kw["bind"].dispose()
            from oemhost.monitor import db as monitor_db
            monitor_db.dispose(settings.database_url)
    finally:
        if not keep:
            # the inventory is thrown away with the tenant in it: stop the node without
            # asking the store to forget it (it refuses while the node has tenants)
            Lab(PROJECT_DIR, lab_name, inventory_dir=None).down(progress=lambda _m: None)


# -- mail, read as the user would ------------------------------------------------------------
def tls_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE     # the lab's certificates are self-signed
    return ctx


def subjects(address: str, mailbox: str, password: str = PASSWORD) -> list[str]:
    """Subjects of every message in ``mailbox``'s INBOX (IMAPS on the node)."""
    with imaplib.IMAP4_SSL(address, 993, ssl_context=tls_context(), timeout=20) as m:
        m.login(mailbox, password)
        m.select("INBOX", readonly=True)
        _typ, data = m.search(None, "ALL")
        out = []
        for num in data[0].split():
            _typ, msg = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            header = email.message_from_bytes(msg[0][1])
            out.append(str(make_header(decode_header(header.get("Subject", "")))))
        return out
