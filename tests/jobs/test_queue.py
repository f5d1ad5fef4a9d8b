"""The queue API without a worker: validation, listing, cancel and retry rules."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from oemhost.db.models.jobs import Job, JobSubject
from oemhost.errors import ConflictError, NotFoundError, ValidationError
from oemhost.jobs import queue

BACKENDS = ["sqlite", "postgresql"]  # see conftest.jobenv
pytestmark = pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)


def _count(env) -> int:
    with env.factory() as s:
        return s.scalar(select(func.count()).select_from(Job))


def test_submit_stores_a_queued_job_with_its_subjects(jobenv):
    job_id = jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n2", "n1", "n1"],
                           tenant_scope=["shop2", "shop1"], reason="two new tenants",
                           inventory_commit="0a1b2c3d")
    with jobenv.factory() as s:
        job = queue.get_job(s, job_id)
        assert job.status == "queued"
        assert job.nodes == ["n1", "n2"]
        assert job.tenant_scope == ["shop1", "shop2"]
        assert job.priority == 50 and job.origin == "submit"
        subjects = s.execute(select(JobSubject.type, JobSubject.name)
                             .where(JobSubject.job_id == job_id)).all()
        assert sorted(subjects) == [("node", "n1"), ("node", "n2"), ("tenant", "shop1"),
                                    ("tenant", "shop2")]


def test_priority_defaults_follow_the_kind(jobenv):
    ids = {k: jobenv.submit(kind=k, playbook="converge.yml", nodes=["n1"])
           for k in ("remediation", "mail_lock", "provision", "usage")}
    with jobenv.factory() as s:
        prio = {k: queue.get_job(s, i).priority for k, i in ids.items()}
    assert prio["remediation"] > prio["mail_lock"] > prio["provision"] > prio["usage"]


@pytest.mark.parametrize("kw, field, text", [
    ({"nodes": ["nosuchnode"]}, "nodes", "unknown node nosuchnode"),
    ({"nodes": ["N1;rm"]}, "nodes", "invalid node name"),
    ({"nodes": []}, "nodes", "non-empty"),
    ({"nodes": "n1"}, "nodes", "non-empty list"),
    ({"playbook": "nosuch.yml"}, "playbook", "unknown playbook nosuch.yml"),
    ({"playbook": "../etc/passwd"}, "playbook", "invalid playbook name"),
    ({"kind": "format_disk"}, "kind", "unknown kind"),
    ({"tenant_scope": ["Shop 1"]}, "tenant_scope", "invalid tenant id"),
    ({"tenant_scope": []}, "tenant_scope", "empty"),
    ({"tags": ["web; id"]}, "tags", "invalid tag"),
    ({"extravars": {"who": "{{ lookup('pipe', 'id') }}"}}, "extravars.who", "only ids"),
    ({"extravars": {"who": "a b"}}, "extravars.who", "only ids"),
    ({"extravars": {"who": {"nested": "x"}}}, "extravars.who", "only ids"),
    ({"extravars": {"ansible_ssh_common_args": "x"}}, "extravars.ansible_ssh_common_args",
     "reserved"),
    ({"extravars": {"oemhost_tenant_scope": ["shop1"]}}, "extravars.oemhost_tenant_scope",
     "reserved"),
    ({"extravars": {"Bad-Key": "x"}}, "extravars", "invalid extra var name"),
    ({"requested_by": " "}, "requested_by", "required"),
    ({"inventory_commit": "not-a-sha"}, "inventory_commit", "git commit"),
    ({"priority": 5000}, "priority", "0 to 1000"),
])
def test_bad_input_is_refused_and_changes_nothing(jobenv, kw, field, text):
    args = dict(kind="provision", playbook="converge.yml", nodes=["n1"], requested_by="test")
    args.update(kw)
    with pytest.raises(ValidationError) as err:
        with jobenv.factory() as s, s.begin():
            queue.submit(s, settings=jobenv.settings, **args)
    assert field in err.value.errors
    assert text in err.value.errors[field]
    assert "job refused" in str(err.value)
    assert _count(jobenv) == 0


def test_extravars_with_ids_are_accepted(jobenv):
    job_id = jobenv.submit(kind="mail_lock", playbook="converge.yml", nodes=["n1"],
                           extravars={"mailbox": "info@xn--wgv71a.example", "lock": True,
                                      "services": ["postfix", "dovecot"], "count": 3})
    with jobenv.factory() as s:
        assert queue.get_job(s, job_id).extravars["mailbox"] == "info@xn--wgv71a.example"


def test_list_filters_and_pages(jobenv):
    a = jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n1"],
                      tenant_scope=["shop1"])
    b = jobenv.submit(kind="usage", playbook="converge.yml", nodes=["n2"])
    c = jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n1", "n2"],
                      tenant_scope=["shop2", "shop3"], requested_by="reseller:acme")
    with jobenv.factory() as s:
        ids = lambda **f: [j.id for j in queue.list_jobs(s, f).items]  # noqa: E731
        assert ids() == [c, b, a]
        assert ids(node="n1") == [c, a]
        assert ids(node="n2", kind="usage") == [b]
        assert ids(tenant="shop3") == [c]
        assert ids(tenant=["shop1", "shop2"]) == [c, a]
        assert ids(requested_by="reseller:acme") == [c]
        assert ids(status="running") == []
        page = queue.list_jobs(s, None, page=2, per_page=2)
        assert [j.id for j in page.items] == [a] and page.total == 3 and page.pages == 2
        with pytest.raises(ValidationError):
            queue.list_jobs(s, {"status": "weird"})
        with pytest.raises(ValidationError):
            queue.list_jobs(s, {"colour": "red"})


def test_cancel_a_queued_job_and_the_rules_of_retry(jobenv):
    job_id = jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n1"])
    with jobenv.factory() as s, s.begin():
        with pytest.raises(ConflictError, match="only failed or cancelled"):
            queue.retry(s, job_id, requested_by="ops", settings=jobenv.settings)
    with jobenv.factory() as s, s.begin():
        job = queue.cancel(s, job_id, requested_by="ops:bob")
        assert job.status == "cancelled"
        assert "cancelled by ops:bob before it started" in job.error
    with jobenv.factory() as s, s.begin():
        with pytest.raises(ConflictError, match="already cancelled"):
            queue.cancel(s, job_id, requested_by="ops:bob")
        new = queue.retry(s, job_id, requested_by="ops:bob", settings=jobenv.settings)
        assert new.status == "queued" and new.origin == "retry" and new.retry_of == job_id
        assert new.nodes == ["n1"] and new.reason == f"retry of job {job_id}"


def test_retry_checks_the_request_again(jobenv):
    job_id = jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n3"])
    with jobenv.factory() as s, s.begin():
        queue.cancel(s, job_id, requested_by="ops")
    (jobenv.inventory / "state" / "nodes" / "n3.yml").unlink()  # node removed since
    with jobenv.factory() as s, s.begin():
        with pytest.raises(ValidationError, match="unknown node n3"):
            queue.retry(s, job_id, requested_by="ops", settings=jobenv.settings)


def test_unknown_job(jobenv):
    with jobenv.factory() as s:
        with pytest.raises(NotFoundError):
            queue.get_job(s, 999)
        with pytest.raises(NotFoundError):
            queue.events_since(s, 999)
        with pytest.raises(NotFoundError):
            queue.cancel(s, 999, requested_by="ops")


def test_wait_times_out_with_a_clear_error(jobenv):
    job_id = jobenv.submit(kind="provision", playbook="converge.yml", nodes=["n1"])
    with jobenv.factory() as s:
        with pytest.raises(Exception, match=f"job {job_id} still queued after 0.3 s"):
            queue.wait(s, job_id, timeout=0.3)
