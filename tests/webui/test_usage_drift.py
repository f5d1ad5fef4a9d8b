"""The panels on the real oemhost.usage and oemhost.drift (samples and reports stored in
the test database): figures, quota warnings at 80 % / 100 %, the provider's drift page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MB = 1024 * 1024


def _collect(app, *, web_mb, mail_mb, rx=0, at=None):
    from oemhost.usage.collect import record
    from webui.context import db

    payload = {"usage": {
        "node": {"boot_id": "b", "load": [0.1, 0.1, 0.1],
                 "filesystems": [{"mount": "/srv", "fstype": "btrfs", "device": "/dev/loop0",
                                  "used_bytes": 7000 * MB, "total_bytes": 9000 * MB}],
                 "memory": {"total_bytes": 4096 * MB, "used_bytes": 1024 * MB},
                 "network": {"host0": {"rx_bytes": rx, "tx_bytes": rx // 2}}},
        "tenants": {"shop1": {"web": {"used": web_mb * MB, "limit": 1500 * MB},
                              "mail": {"used": mail_mb * MB, "limit": 500 * MB}}}}}
    with app.app_context():
        sess = db()
        record(sess, "node1", payload, at=at)
        sess.commit()


def test_real_usage_figures_and_quota_warnings(app, as_):
    t0 = datetime.now(UTC) - timedelta(minutes=20)
    _collect(app, web_mb=100, mail_mb=10, at=t0)
    b = as_("reseller_a")
    page = b.get("/reseller/customers/shop1").get_data(as_text=True)
    assert "quota-warning" not in page and "quota-full" not in page
    assert "used 110" in page or "110" in page
    # web at 90 % of its 1500 MB, mail over its 500 MB
    _collect(app, web_mb=1350, mail_mb=520, rx=1_200_000, at=t0 + timedelta(minutes=10))
    page = b.get("/reseller/customers/shop1").get_data(as_text=True)
    assert page.count('class="flash flash-warning quota-warning"') == 2  # web 90 %, total 94 %
    assert page.count('class="flash flash-error quota-full"') == 1  # mail 104 %
    assert "1500 MB 中 1350 MB" in page and "500 MB 中 520 MB" in page  # ja panel
    listing = b.get("/reseller/customers").get_data(as_text=True)
    assert "quota-full" in listing
    index = b.get("/reseller/?period=day").get_data(as_text=True)
    assert "7000 / 9000 MB" in index and "1024 / 4096 MB" in index
    # 1.2 MB in 600 s = 16 kbit/s
    assert "↓ 16.0 kbit/s" in index
    assert index.count("<polyline") >= 2  # disk and memory have two points already
    # another reseller never sees the warnings of acme's customer
    assert b.get("/reseller/customers/beta1").status_code in (403, 404)


def test_provider_drift_page_shows_diffs_and_submits_jobs(app, as_):
    from sqlalchemy import select

    from oemhost.db.models.drift import DriftReport
    from oemhost.db.models.jobs import Job
    from webui.context import db

    with app.app_context():
        sess = db()
        sess.add(DriftReport(
            node="node1", checked_at=datetime.now(UTC), run_id=3, status="drift", changed=2,
            failed=0, tasks=[
                {"play": "Web server", "role": "web", "task": "Render the vhosts",
                 "action": "ansible.builtin.template", "hidden": False,
                 "diff": "--- before\n+++ after\n-  ServerName <evil>.example\n"},
                {"play": "Mail", "role": "mail", "task": "Mailbox passwords",
                 "action": "ansible.builtin.template", "hidden": True, "diff": None}]))
        sess.commit()
    b = as_("provider")
    node = b.get("/provider/nodes/node1").get_data(as_text=True)
    assert "/provider/nodes/node1/drift" in node and "badge warn" in node
    page = b.get("/provider/nodes/node1/drift").get_data(as_text=True)
    assert "Render the vhosts" in page and "ServerName &lt;evil&gt;.example" in page
    assert "<evil>" not in page and "Mailbox passwords" in page
    drift_page = "/provider/nodes/node1/drift"
    assert b.post(f"{drift_page}/check", page=drift_page).status_code == 302
    assert b.post("/provider/nodes/node1/converge", page=drift_page).status_code == 302
    with app.app_context():
        got = [(j.kind, j.playbook, j.nodes, j.priority) for j in
               db().scalars(select(Job).order_by(Job.id))]
    assert got == [("drift", "site.yml", ["node1"], 10),
                   ("provision", "site.yml", ["node1"], 50)]
    assert as_("reseller_a").get("/provider/nodes/node1/drift").status_code in (302, 403)
