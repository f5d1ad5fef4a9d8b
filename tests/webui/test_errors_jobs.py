"""Errors as people read them, and jobs as the panels show them."""

from __future__ import annotations


def test_internal_error_shows_a_message_not_a_trace(app, as_):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internal detail /etc/oemhost")

    b = as_("enduser_a")
    resp = b.client.get("/boom")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert "Traceback" not in page and "secret internal detail" not in page
    assert "内部エラー" in page or "internal error" in page
    resp = b.client.get("/boom", headers={"Accept": "application/json"})
    assert resp.status_code == 500 and "secret" not in resp.get_json()["error"]


def _submit(app, tenant, **kw):
    from oemhost import jobs
    from webui.context import db, settings

    with app.app_context():
        job = jobs.submit(db(), kind="provision", playbook="tenant.yml", nodes=["node1"],
                          tenant_scope=[tenant], requested_by="lab", reason="test",
                          settings=settings())
        db().commit()
        return job.id


def _fail(app, job_id, error):
    """Mark a job failed the way the worker records it (status, error, finished_at)."""
    from oemhost.db.models.jobs import Job, utcnow
    from webui.context import db

    with app.app_context():
        job = db().get(Job, job_id)
        job.status, job.error, job.finished_at = "failed", error, utcnow()
        db().commit()


def test_failed_job_is_a_sentence_for_customers_and_details_for_ops(app, as_):
    job_id = _submit(app, "shop1")
    trace = "Traceback (most recent call last):\n  File x\nKeyError: 'boom'"
    _fail(app, job_id, "task 'create vhost' failed on node1\n" + trace)
    enduser = as_("enduser_a")
    status = enduser.client.get(f"/jobs/{job_id}/status").get_json()
    assert status["status"] == "failed" and status["finished"] is True
    assert "Traceback" not in status["result_text"] and "create vhost" not in \
        status["result_text"]
    page = enduser.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Traceback" not in page
    ops = as_("provider")
    status = ops.client.get(f"/jobs/{job_id}/status").get_json()
    assert "create vhost" in status["result_text"] and "Traceback" not in status["result_text"]
    # the reseller may retry its customer's failed job
    reseller = as_("reseller_a")
    resp = reseller.post(f"/jobs/{job_id}/retry", page=f"/jobs/{job_id}")
    assert resp.status_code == 302
    from oemhost import jobs
    from webui.context import db

    with app.app_context():
        page = jobs.list_jobs(db(), {"tenant": "shop1"})
        assert page.total == 2 and page.items[0].retry_of == job_id


def _job_of_change(app, who, tenant, domain):
    """Make a change as ``who`` in its panel; the id of the job applying it."""
    from oemhost import jobs
    from webui.context import db

    assert who.post("/panel/domains", {"name": domain, "tls": "selfsigned"}).status_code == 302
    with app.app_context():
        return jobs.list_jobs(db(), {"tenant": tenant}).items[0].id


def test_job_lists_are_scoped(app, as_):
    mine = _job_of_change(app, as_("enduser_a"), "shop1", "more.example")
    other = _job_of_change(app, as_("enduser_b"), "beta1", "other.example")
    page = as_("enduser_a").get("/jobs/").get_data(as_text=True)
    assert f"/jobs/{mine}" in page and f"/jobs/{other}" not in page
    page = as_("reseller_b").get("/jobs/").get_data(as_text=True)
    assert f"/jobs/{other}" in page and f"/jobs/{mine}" not in page
    page = as_("provider").get("/jobs/").get_data(as_text=True)
    assert f"/jobs/{other}" in page and f"/jobs/{mine}" in page
    # cancelling is the provider's
    assert as_("reseller_a").post(f"/jobs/{mine}/cancel", page="/jobs/").status_code == 403
    assert as_("provider").post(f"/jobs/{mine}/cancel", page="/jobs/").status_code == 302
    from oemhost import jobs
    from webui.context import db

    with app.app_context():
        assert jobs.get_job(db(), mine).status == "cancelled"


def test_change_saved_when_no_job_can_be_queued(app, as_, settings):
    """The store's write stands; the page and the audit say it is not applied yet."""
    (settings.playbooks_dir / "tenant.yml").unlink()
    b = as_("enduser_a")
    resp = b.post("/panel/domains", {"name": "later.example", "tls": "selfsigned"})
    assert resp.status_code == 302
    page = b.get("/panel/domains").get_data(as_text=True)
    assert "later.example" in page and "tenant.yml" in page
    from oemhost import accounts
    from webui.context import db

    with app.app_context():
        rows, _ = accounts.list_audit(db(), tenant="shop1")
        entry = next(e for e in rows if e.action == "domain.add")
        assert entry.job_id is None and "not applied yet" in entry.message


def test_monitoring_pages_read_the_monitor_and_usage_says_when_there_is_no_data(as_):
    # the monitor is installed: its (empty) incident lists are shown, not the seam's notice
    page = as_("reseller_a").get("/reseller/incidents").get_data(as_text=True)
    assert "監視データはまだありません" not in page and "送信はありません" in page
    page = as_("provider").get("/provider/incidents?lang=en").get_data(as_text=True)
    assert "Monitoring data is not available yet" not in page
    page = as_("reseller_a").get("/reseller/").get_data(as_text=True)
    assert "使用量はまだ計測されていません" in page


def test_catalogs_compile(tmp_path):
    import shutil

    from webui.i18n import TRANSLATIONS, compile_catalogs

    shutil.copytree(TRANSLATIONS, tmp_path / "t")
    for mo in (tmp_path / "t").glob("*/LC_MESSAGES/*.mo"):
        mo.unlink()
    written = compile_catalogs(tmp_path / "t")
    assert {p.parent.parent.name for p in written} == {"ja", "en"}
    assert compile_catalogs(tmp_path / "t") == []  # up to date: nothing to do
