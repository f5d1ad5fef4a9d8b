from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from oemhost import accounts
from oemhost.errors import OemhostError
from webui.context import client_ip, db, settings
from webui.jobs import bp
from webui.security import may_see_job, require

STATUS_TEXT = {
    "queued": lambda: _("waiting to start"),
    "running": lambda: _("running"),
    "succeeded": lambda: _("done"),
    "failed": lambda: _("failed"),
    "cancelled": lambda: _("cancelled"),
}


@bp.app_template_filter("job_status")
def job_status(status: str) -> str:
    return STATUS_TEXT[status]() if status in STATUS_TEXT else status


def _job_or_404(job_id: int):
    from oemhost import jobs

    try:
        job = jobs.get_job(db(), job_id)
    except OemhostError:
        abort(404)
    if not may_see_job(job):
        abort(404)
    return job


def result_text(job) -> str:
    """What happened, in words a customer understands (never a trace)."""
    if job.status == "succeeded":
        return _("Applied on the server.")
    if job.status == "cancelled":
        return _("Cancelled before it was applied.")
    if job.status == "failed":
        text = _("It could not be applied on the server. The change is saved and will be "
                 "applied again by the next run; the provider has the details.")
        if current_user.is_authenticated and current_user.kind == "provider" and job.error:
            text += " " + _("Error: %(error)s", error=job.error.splitlines()[0][:300])
        return text
    return ""


def event_summary(ev, *, detailed: bool) -> dict:
    host = ev.host or ""
    task = ev.task or ev.play or ev.event
    status = ev.status or ""
    if ev.event == "playbook_on_stats":
        summary = _("Finished.")
    elif ev.event == "playbook_on_play_start":
        summary = _("Starting: %(play)s", play=ev.play or "")
    else:
        summary = f"{host}: {task} — {status}" if host else f"{task} {status}".strip()
    if detailed and ev.status == "failed" and ev.stdout:
        summary += " | " + ev.stdout.strip().splitlines()[-1][:300]
    return {"seq": ev.seq, "status": status, "summary": summary}


def _reseller_jobs(reseller: str, page: int, per_page: int = 50):
    """The jobs of a reseller's changes (its staff, its API tokens, its end users): the
    audit log records the reseller and the job of every change, so one query finds them,
    however many customers it has."""
    from sqlalchemy import func, select

    from oemhost.db.models.accounts import AuditEntry
    from oemhost.jobs import Job, JobPage

    ids = select(AuditEntry.job_id).where(AuditEntry.reseller == reseller,
                                          AuditEntry.job_id.is_not(None))
    q = select(Job).where(Job.id.in_(ids))
    total = db().scalar(select(func.count()).select_from(q.subquery())) or 0
    items = db().scalars(q.order_by(Job.id.desc()).offset((page - 1) * per_page)
                         .limit(per_page)).all()
    return JobPage(items=list(items), total=total, page=page, per_page=per_page)


@bp.route("/")
@require("provider", "reseller", "enduser")
def index():
    from oemhost import jobs
    from oemhost.jobs import JobFilter

    page = max(request.args.get("page", 1, type=int) or 1, 1)
    if current_user.kind == "reseller":
        return render_template("jobs/index.html",
                               page=_reseller_jobs(current_user.reseller, page))
    if current_user.kind == "enduser":
        filters = JobFilter(tenant=[current_user.tenant])
    else:
        filters = JobFilter(node=request.args.get("node") or None,
                            status=request.args.get("status") or None)
    try:
        result = jobs.list_jobs(db(), filters, page=page, per_page=50)
    except OemhostError as exc:
        flash(str(exc), "error")
        result = jobs.list_jobs(db(), None, page=1, per_page=50)
    return render_template("jobs/index.html", page=result)


@bp.route("/<int:job_id>")
@require("provider", "reseller", "enduser")
def show(job_id):
    job = _job_or_404(job_id)
    return render_template("jobs/show.html", job=job, result_text=result_text(job))


@bp.route("/<int:job_id>/status")
@require("provider", "reseller", "enduser")
def status(job_id):
    from oemhost import jobs

    job = _job_or_404(job_id)
    after = max(request.args.get("after", 0, type=int) or 0, 0)
    detailed = current_user.kind == "provider"
    events = [event_summary(ev, detailed=detailed)
              for ev in jobs.events_since(db(), job.id, after_seq=after, limit=200)]
    return jsonify({"id": job.id, "status": job.status,
                    "status_text": STATUS_TEXT.get(job.status, lambda: job.status)(),
                    "finished": job.finished, "result_text": result_text(job),
                    "events": events})


@bp.route("/<int:job_id>/cancel", methods=["POST"])
@require("provider")
def cancel(job_id):
    from oemhost import jobs

    job = _job_or_404(job_id)
    try:
        jobs.cancel(db(), job.id, requested_by=current_user.actor)
        accounts.audit(db(), actor=current_user.actor, action="job.cancel",
                       target=str(job.id), ip=client_ip(), job_id=job.id)
        db().commit()
        flash(_("Cancel requested."), "success")
    except OemhostError as exc:
        flash(str(exc), "error")
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.route("/<int:job_id>/retry", methods=["POST"])
@require("provider", "reseller")
def retry(job_id):
    from oemhost import jobs

    job = _job_or_404(job_id)
    try:
        new = jobs.retry(db(), job.id, requested_by=current_user.actor, settings=settings())
        accounts.audit(db(), actor=current_user.actor, action="job.retry",
                       target=str(job.id), reseller=current_user.reseller, ip=client_ip(),
                       job_id=new.id)
        db().commit()
    except OemhostError as exc:
        flash(str(exc), "error")
        return redirect(url_for("jobs.show", job_id=job.id))
    flash(_("Queued again."), "success")
    flash(str(new.id), "job")
    return redirect(url_for("jobs.show", job_id=new.id))
