"""Usage collection and drift detection on a real lab node with the real roles.

One node running only ``web`` (a short converge), converged once (``site.yml`` through the
job engine's worker) with one tenant and its domain. Then, each as a real job through the
worker:

- usage: a collection; 50 MB written into the tenant's web area and a file downloaded
  from the node over HTTP; the next collection shows the 50 MB in the tenant's usage and
  in the node's /srv file system, and the network rates moved;
- drift: a hand edit of the tenant's vhost file is reported with its diff; a converge
  submitted from the report clears it (the next check is clean).

Mailbox and database sizes (``mail``/``mariadb`` nodes) are covered by the module's and the
handler's unit tests; with those services this test takes twice as long.
"""

from __future__ import annotations

import os
import threading
import urllib.request

import pytest

from oemhost.config import PROJECT_DIR, Settings

pytestmark = pytest.mark.lab

TENANT = "usage1"
DOMAIN = "usage1.example"
PASSWORD = "a-good-password-1"  # noqa: S105 - a test tenant's
MB = 1024 * 1024


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root (the lab boots nodes)")
    from oemhost import jobs
    from oemhost.jobs.config import JobsConfig
    from oemhost.jobs.worker import Worker, open_database
    from oemhost.lab import Lab
    from oemhost.store import Store

    tmp = tmp_path_factory.mktemp("usage-lab")
    inv = tmp / "inventory"
    lab = Lab(PROJECT_DIR, "usage10-test", inventory_dir=inv)
    lab.up(1)
    worker = thread = factory = None
    try:
        st = Store(inv)
        node = st.list_nodes()[0]
        rec = node.to_dict() if hasattr(node, "to_dict") else None
        if rec is not None:  # one service: a short converge
            rec["services"] = ["web"]
            st.put_node(rec, actor="ops:test", reason="usage test: web only")
        st.add_reseller({"id": "usage", "company": "Usage K.K.", "contacts": ["noc@u.example"],
                         "brand": {"display_name": "Usage", "logo_url": "",
                                   "primary_color": "#0055aa", "accent_color": "#ff8800",
                                   "panel_host": "panel.usage.example"},
                         "limits": {"tenants": 10, "disk_mb": 100000, "oversell": True}},
                        actor="ops:test")
        st.add_plan("usage", {"id": "basic", "name": "Basic", "disk_mb": 400,
                              "default_web_mb": 300, "max_domains": 1, "max_mailboxes": 1,
                              "max_mailbox_mb": 50, "max_ftp_accounts": 0,
                              "max_databases": {"mariadb": 1, "postgresql": 0}, "dns": False,
                              "ssh": False, "mail": True}, actor="ops:test")
        st.add_tenant({"id": TENANT, "reseller": "usage", "plan": "basic",
                       "node": node.name, "contractor": "Usage test",
                       "contact_email": "owner@usage.example", "domains": [DOMAIN]},
                      password=PASSWORD, actor="ops:test")
        state = tmp / "state"
        settings = Settings(project_dir=PROJECT_DIR, inventory_dir=inv, state_dir=state,
                            database_url=f"sqlite:///{state / 'oemhost.db'}")
        factory = open_database(settings)
        worker = Worker(settings, JobsConfig.from_settings(settings), factory=factory,
                        scheduler=False)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        with factory() as s:
            job = jobs.submit(s, kind="provision", playbook="site.yml", nodes=[node.name],
                              requested_by="test", reason="usage lab: converge",
                              settings=settings)
            s.commit()
            done = jobs.wait(s, job.id, timeout=900)
            assert done.status == "succeeded", done.error
        yield lab, node, settings, factory
    finally:
        if worker is not None:
            worker.stop(drain=30)
            thread.join(60)
        if factory is not None:
            factory.kw["bind"].dispose()
        # the throw-away inventory still places the tenant on the node: take the lab down
        # without touching it
        Lab(PROJECT_DIR, lab.name).down()


def _run_periodic(settings, factory, kind: str, playbook: str) -> None:
    """Submit as the scheduler does, and wait for the job."""
    from oemhost import jobs
    from oemhost.usage.schedule import submit_periodic

    with factory() as s:
        ids = submit_periodic(s, settings, kind=kind, playbook=playbook,
                              requested_by=f"scheduler:{kind}", reason="lab test")
        s.commit()
        assert len(ids) == 1
        done = jobs.wait(s, ids[0], timeout=600)
        assert done.status == "succeeded", done.error


def _srv_used(now: dict) -> float:
    return next(f["used_mb"] for f in now["filesystems"] if f["mount"] == "/srv")


def test_usage_collection_sees_50_mb_and_traffic(env):
    from oemhost import usage

    lab, node, settings, factory = env
    _run_periodic(settings, factory, "usage", "collect_usage.yml")
    with factory() as s:
        before_node = usage.node_now(s, node.name)
        before = usage.tenant_disk(s, [TENANT])[TENANT]
    assert before["web_limit_mb"] == 300 and before["total_limit_mb"] == 400
    assert before["mailboxes"] == {} and before["databases"] == []
    web = f"/srv/hosting/{TENANT}/web"
    lab.ssh(node.name, f"dd if=/dev/urandom of={web}/big.bin bs=1M count=50 status=none && "
                       f"chown {TENANT}: {web}/big.bin && btrfs filesystem sync /srv",
            check=True)
    # a 20 MB download over HTTP from the tenant's site (its document root keeps its
    # group, so Apache may read the file)
    docroot = lab.ssh(node.name, f"awk '/DocumentRoot/ {{print $2; exit}}' "
                                 f"/etc/apache2/oemhost/tenants/{TENANT}.conf",
                      check=True).stdout.strip().strip('"')
    assert docroot.startswith(web), docroot
    lab.ssh(node.name, f"head -c 20971520 /dev/zero > {docroot}/dl.bin && "
                       f"chown {TENANT} {docroot}/dl.bin && chmod 0644 {docroot}/dl.bin",
            check=True)
    req = urllib.request.Request(f"http://{node.address}/dl.bin", headers={"Host": DOMAIN})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - the lab's node
        assert len(resp.read()) == 20 * MB
    lab.ssh(node.name, "btrfs filesystem sync /srv", check=True)
    _run_periodic(settings, factory, "usage", "collect_usage.yml")
    with factory() as s:
        after_node = usage.node_now(s, node.name)
        after = usage.tenant_disk(s, [TENANT])[TENANT]
        series = usage.node_series(s, node.name, "net_tx_bps", "day")
    assert after["web_mb"] - before["web_mb"] >= 69  # 50 MB + the 20 MB download file
    assert _srv_used(after_node) - _srv_used(before_node) >= 65
    seconds = (after_node["at"] - before_node["at"]).total_seconds()
    # at least the 20 MB the node sent, averaged over the time between the collections
    assert after_node["net_tx_bps"] >= 20 * MB * 8 / seconds
    assert series and series[-1][1] > 0


def _check_web(settings, factory, node: str) -> None:
    """A drift job as the scheduler submits it, limited to the web role's tasks (the tag
    keeps the test short: a full check-mode run of site.yml takes minutes here)."""
    from oemhost import jobs

    with factory() as s:
        job = jobs.submit(s, kind="drift", playbook="site.yml", nodes=[node], tags=["web"],
                          requested_by="scheduler:drift", reason="lab test", settings=settings)
        s.commit()
        done = jobs.wait(s, job.id, timeout=600)
        assert done.status == "succeeded", done.error


def test_drift_of_a_hand_edited_vhost_is_reported_and_cleared(env):
    from oemhost import drift, jobs

    lab, node, settings, factory = env
    vhost = f"/etc/apache2/oemhost/tenants/{TENANT}.conf"
    lab.ssh(node.name, f"sed -i 's/ServerName {DOMAIN}/ServerName hacked.example/' {vhost}",
            check=True)
    _check_web(settings, factory, node.name)
    assert "hacked.example" in lab.ssh(node.name, f"cat {vhost}", check=True).stdout
    with factory() as s:
        report = drift.latest_reports(s)[node.name]
        assert report.status == "drift", report.error
        diffs = "\n".join(t["diff"] or "" for t in report.tasks)
        assert "-    ServerName hacked.example" in diffs or "-ServerName hacked" in \
            diffs.replace(" ", ""), diffs[:2000]
        assert f"ServerName {DOMAIN}" in diffs
        job = drift.converge(s, node.name, requested_by="ops:test", tags=["web"],
                             settings=settings)
        s.commit()
        done = jobs.wait(s, job.id, timeout=600)
        assert done.status == "succeeded", done.error
    assert "hacked.example" not in lab.ssh(node.name, f"cat {vhost}", check=True).stdout
    _check_web(settings, factory, node.name)
    with factory() as s:
        assert drift.latest_reports(s)[node.name].status == "clean"
