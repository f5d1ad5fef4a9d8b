"""Backups on a real lab node: back up, lose data, restore it; a broken target is an incident.

One node (services web + mariadb), a store-managed inventory with one tenant and one
MariaDB database, converged with the real roles (hosting_accounts, mariadb, backup). The
backup target is the node itself over SFTP (its own key authorised for root: the same
path as a remote backup host, no second node needed). Backups run through the job engine
(``backup_now.yml``, kind ``backup``), so the status reaches the database through the
results hand-off; the restore runs as ops run it (``ansible-playbook restore_tenant.yml``
with a point in time). Marker ``lab`` (root).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from oemhost.config import PROJECT_DIR, Settings

pytestmark = pytest.mark.lab
VENV_BIN = Path(sys.executable).parent
TENANT = "bkp1"
WEB = f"/srv/hosting/{TENANT}/web"
SFTP_TARGET = "sftp:root@127.0.0.1:/var/backups/sftp-restic"
# Every file of the web area with owner, group, mode, size and content hash.
LISTING = (f"cd {WEB} && find . -printf '%p %u %g %m %s %y\\n' | sort && "
           "find . -type f -print0 | sort -z | xargs -0 -r sha256sum")
ROWS = "mariadb --batch bkp1_data -e 'SELECT id, v, HEX(b) FROM t ORDER BY id'"


def quiet(_msg: str) -> None:
    pass


def playbook(inv: Path, name: str, *args: str, check: bool = True):
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"),
               PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inv),
                           str(PROJECT_DIR / "playbooks" / name), *args],
                          capture_output=True, text=True, env=env, timeout=600,
                          cwd=PROJECT_DIR)
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} failed ({proc.returncode}):\n{proc.stdout[-4000:]}")
    return proc


def set_target(inv: Path, target: str, **extra) -> None:
    lines = [f"backup__target: {target}"] + [f"{k}: {v}" for k, v in extra.items()]
    (inv / "host_vars").mkdir(exist_ok=True)
    (inv / "host_vars" / "node1.yml").write_text("---\n" + "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    missing = [p for p in ("roles/backup", "roles/mariadb", "roles/hosting_accounts")
               if not (PROJECT_DIR / p).exists()]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    from oemhost.jobs.config import JobsConfig
    from oemhost.jobs.worker import Worker, open_database
    from oemhost.lab import Lab
    from oemhost.store import Store

    root = tmp_path_factory.mktemp("backup")
    inv = root / "inventory"
    lab = Lab(PROJECT_DIR, "pytest-backup", inventory_dir=inv)
    # Down without the inventory: the store would refuse to drop a node with tenants.
    sweeper = Lab(PROJECT_DIR, "pytest-backup", inventory_dir=None)
    sweeper.down(progress=quiet)
    worker = wthread = None
    try:
        lab.up(1, progress=quiet)
        store = Store(inv)
        node = store.get_node("node1").to_dict()
        node["services"] = ["web", "mariadb"]
        store.put_node(node, actor="lab")
        store.add_reseller({"id": "acme", "company": "ACME", "contacts": ["noc@acme.example"],
                            "brand": {"display_name": "ACME"},
                            "limits": {"tenants": 10, "disk_mb": 100000, "oversell": False}},
                           actor="lab")
        store.add_plan("acme", {"id": "basic", "name": "Basic", "disk_mb": 2000,
                                "default_web_mb": 1500, "max_domains": 3, "max_mailboxes": 0,
                                "max_mailbox_mb": 0, "max_ftp_accounts": 0, "mail": False,
                                "max_databases": {"mariadb": 2, "postgresql": 0},
                                "dns": False, "ssh": False}, actor="lab")
        store.add_tenant({"id": TENANT, "reseller": "acme", "plan": "basic", "node": "node1",
                          "contractor": "Backup Test", "contact_email": "o@bkp1.example"},
                         password="Bkp1-system-secret", actor="lab")
        store.add_database(TENANT, "mariadb", "data", "Bkp1-data-secret", actor="lab")
        set_target(inv, SFTP_TARGET)
        playbook(inv, "site.yml", "--tags", "hosting_accounts,mariadb,backup")
        # The node's backup key (made by the role) may log in to the "backup host".
        lab.ssh("node1", "cat /etc/oemhost/backup/id_ed25519.pub >> /root/.ssh/authorized_keys",
                check=True)
        state = root / "state"
        settings = Settings(project_dir=PROJECT_DIR, inventory_dir=inv, state_dir=state,
                            database_url=f"sqlite:///{state / 'oemhost.db'}")
        factory = open_database(settings)
        worker = Worker(settings, JobsConfig.from_settings(settings), factory=factory,
                        scheduler=False)
        wthread = threading.Thread(target=worker.run, daemon=True)
        wthread.start()
        yield {"lab": lab, "inv": inv, "settings": settings, "factory": factory}
    finally:
        if worker is not None:
            worker.stop(drain=30)
            wthread.join(60)
            worker.factory.kw["bind"].dispose()
        from oemhost.monitor.db import dispose

        dispose()
        sweeper.down(progress=quiet)


def run_job(env, playbook_name: str):
    from oemhost import jobs

    with env["factory"]() as s:
        job = jobs.submit(s, kind="backup", playbook=playbook_name, nodes=["node1"],
                          requested_by="test", reason="backup test",
                          settings=env["settings"])
        s.commit()
        return jobs.wait(s, job.id, timeout=300)


def backup_state(env):
    from oemhost.db.models.backup import BackupNodeStatus, BackupRun
    from oemhost.db.models.monitor import MonitorIncident

    with env["factory"]() as s:
        row = s.get(BackupNodeStatus, "node1")
        runs = list(s.scalars(select(BackupRun).where(BackupRun.node == "node1")))
        incidents = list(s.scalars(select(MonitorIncident).where(
            MonitorIncident.node == "node1", MonitorIncident.service == "backup")))
        s.expunge_all()
    return row, runs, incidents


def test_second_converge_changes_nothing(env):
    out = playbook(env["inv"], "site.yml", "--tags", "backup").stdout
    assert re.search(r"node1\s+: ok=\d+\s+changed=0\s", out), out[-1500:]


def test_backup_then_restore_brings_files_and_rows_back(env):
    lab, inv = env["lab"], env["inv"]
    lab.ssh("node1", f"""set -e
cd {WEB}
mkdir -p public_html/sub/deeper
head -c 3000000 /dev/urandom > public_html/big.bin
printf 'hello\\n' > public_html/sub/a.txt
printf 'x' > public_html/sub/deeper/b.txt
ln -s ../big.bin public_html/sub/link
chown -R {TENANT}:www-data public_html
chmod 0640 public_html/sub/a.txt
chmod 0600 public_html/sub/deeper/b.txt
""", check=True)
    lab.ssh("node1", """mariadb bkp1_data -e "CREATE TABLE t (id INT PRIMARY KEY,
v VARCHAR(100), b VARBINARY(64));
INSERT INTO t VALUES (1, 'one', 0x00ff10), (2, 'zwei ü', NULL), (3, 'drei', 0x7f)"
""", check=True)
    files_before = lab.ssh("node1", LISTING, check=True).stdout
    rows_before = lab.ssh("node1", ROWS, check=True).stdout
    assert "big.bin" in files_before and "zwei" in rows_before

    job = run_job(env, "backup_now.yml")
    assert job.status == "succeeded", job.error
    row, runs, incidents = backup_state(env)
    assert row.state == "ok" and row.result == "ok" and row.configured
    assert row.snapshot_id and row.size_bytes >= 3_000_000 and row.databases == 1
    assert row.repository == SFTP_TARGET
    assert [r.result for r in runs] == ["ok"]
    assert not [i for i in incidents if i.status == "open"]
    point_in_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    # Lose everything, and change things that did not exist at backup time.
    lab.ssh("node1", f"""set -e
rm -rf {WEB}/public_html/sub {WEB}/public_html/big.bin
printf 'later\\n' > {WEB}/public_html/new.txt
""", check=True)
    lab.ssh("node1", """mariadb bkp1_data -e "DELETE FROM t WHERE id = 1;
UPDATE t SET v = 'changed' WHERE id = 2; DROP TABLE t"
""", check=True)
    assert lab.ssh("node1", LISTING, check=True).stdout != files_before

    # check mode: says which snapshot and what, changes nothing
    out = playbook(inv, "restore_tenant.yml", "--check", "-e", f"oemhost_tenant={TENANT}",
                   "-e", f"oemhost_restore_before={point_in_time}").stdout
    assert "dry_run: true" in out and row.snapshot_id in out
    assert "new.txt" in lab.ssh("node1", LISTING, check=True).stdout

    playbook(inv, "restore_tenant.yml", "-e", f"oemhost_tenant={TENANT}",
             "-e", f"oemhost_restore_before={point_in_time}")
    assert lab.ssh("node1", LISTING, check=True).stdout == files_before
    assert lab.ssh("node1", ROWS, check=True).stdout == rows_before


# (Each case is one ansible-playbook start, ~5 s: the full matrix of the checks is the
# assert in restore_tenant.yml; these prove that a refusal changes nothing.)
@pytest.mark.parametrize("extra", [
    ["-e", "oemhost_tenant=../etc"],
    ["-e", f"oemhost_tenant={TENANT}", "-e", "oemhost_area=etc"],
    ["-e", f"oemhost_tenant={TENANT}", "-e", "oemhost_snapshot=abcdef12",
     "-e", "oemhost_restore_before=2026-11-24T03:00:00Z"],
    ["-e", "oemhost_tenant=nosuch1"],
])
def test_restore_refuses_bad_requests_before_anything_changes(env, extra):
    lab, inv = env["lab"], env["inv"]
    lab.ssh("node1", f"printf 'mark\\n' > {WEB}/marker.txt", check=True)
    before = lab.ssh("node1", LISTING, check=True).stdout
    proc = playbook(inv, "restore_tenant.yml", *extra, check=False)
    assert proc.returncode != 0
    assert "restore:" in proc.stdout
    assert "Restore the tenant from the chosen snapshot" not in proc.stdout
    assert lab.ssh("node1", LISTING, check=True).stdout == before


def test_unreachable_target_fails_the_backup_and_opens_an_incident(env):
    lab, inv = env["lab"], env["inv"]
    address = lab.status()["nodes"][0]["address"]
    unused = address.rsplit(".", 1)[0] + ".250"
    set_target(inv, f"sftp:backup@{unused}:/srv/restic", backup__sftp_connect_timeout=3)
    playbook(inv, "site.yml", "--tags", "backup::validate,backup::config")

    job = run_job(env, "backup_now.yml")
    assert job.status == "failed"
    row, runs, incidents = backup_state(env)
    assert row.state == "failed" and row.result == "failed"
    assert "unreachable" in row.error and "ssh: connect to host" in row.error
    assert row.last_success_at is not None  # the earlier good backup is still known
    assert [r.result for r in sorted(runs, key=lambda r: r.finished_at)] == ["ok", "failed"]
    open_ = [i for i in incidents if i.status == "open"]
    assert len(open_) == 1 and open_[0].id == row.incident_id
    assert "backup failed" in open_[0].summary

    # The scheduled collection (read-only) sees the same: still one incident.
    job = run_job(env, "collect_backup_status.yml")
    assert job.status == "succeeded", job.error
    row2, _runs, incidents = backup_state(env)
    assert row2.state == "failed" and row2.collected_at > row.collected_at
    assert len([i for i in incidents if i.status == "open"]) == 1

