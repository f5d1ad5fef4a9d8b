from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from oemhost import accounts
from oemhost.backup.queries import node_statuses, recent_runs
from oemhost.errors import ConflictError, NotFoundError, OemhostError, ValidationError
from webui import changes
from webui.context import client_ip, db, settings, store
from webui.forms import announce, show_errors
from webui.provider import bp, monitoring
from webui.provider.forms import IssueLoginForm, NewResellerForm, ResellerForm
from webui.security import require

RESELLER_FIELDS = {"brand.display_name": "display_name", "brand.logo_url": "logo_url",
                   "brand.primary_color": "primary_color",
                   "brand.accent_color": "accent_color", "brand.panel_host": "panel_host",
                   "limits.tenants": "limit_tenants", "limits.disk_mb": "limit_disk_mb",
                   "limits.oversell": "oversell", "contacts": "contacts"}


@bp.before_request
@require("provider")
def _only_provider():
    return None


def _reseller_or_404(reseller_id):
    try:
        return store().get_reseller(reseller_id)
    except (NotFoundError, ValidationError):
        abort(404)


@bp.route("/")
def index():
    from oemhost import jobs

    st = store()
    failed = jobs.list_jobs(db(), {"status": "failed"}, page=1, per_page=10)
    recent = jobs.list_jobs(db(), None, page=1, per_page=10)
    mon = monitoring.view(db(), limit=20)
    return render_template("provider/index.html", resellers=st.list_resellers(),
                           nodes=st.list_nodes(), tenants=st.count_tenants(),
                           failed=failed, recent=recent, mon=mon)


# --- resellers ------------------------------------------------------------------------

def _reseller_record(form: ResellerForm) -> dict:
    contacts = [c.strip() for c in (form.contacts.data or "").split(",") if c.strip()]
    return {
        "id": (form.id.data or "").strip(), "company": (form.company.data or "").strip(),
        "contacts": contacts, "locale": form.locale.data,
        "brand": {"display_name": (form.display_name.data or "").strip(),
                  "logo_url": (form.logo_url.data or "").strip(),
                  "primary_color": (form.primary_color.data or "").strip(),
                  "accent_color": (form.accent_color.data or "").strip(),
                  "panel_host": (form.panel_host.data or "").strip().lower() or None},
        "limits": {"tenants": form.limit_tenants.data, "disk_mb": form.limit_disk_mb.data,
                   "oversell": bool(form.oversell.data)},
    }


@bp.route("/resellers")
def resellers():
    st = store()
    rows = [(r, st.count_tenants(reseller=r.id)) for r in st.list_resellers()]
    return render_template("provider/resellers.html", rows=rows)


@bp.route("/resellers/new", methods=["GET", "POST"])
def reseller_new():
    form = NewResellerForm()
    if form.validate_on_submit():
        record = _reseller_record(form)
        password = form.password.data or accounts.generate_password()
        try:
            accounts.check_password_policy(password)
            if not accounts.LOGIN_RE.match(form.login.data or ""):
                raise ValidationError({"login": _("2 to 32 characters: lowercase letters, "
                                                  "digits, '.', '_', '-'; a letter first")})
            outcome = changes.apply(
                actor=current_user.actor, action="reseller.add", target=record["id"],
                reseller=record["id"],
                write=lambda: store().add_reseller(record, actor=current_user.actor,
                                                   reason="new reseller"))
        except OemhostError as exc:
            show_errors(form, exc, RESELLER_FIELDS)
        else:
            sess = db()
            accounts.create_user(sess, kind="reseller", login=form.login.data,
                                 password=password, reseller=record["id"],
                                 display_name=record["company"],
                                 created_by=current_user.actor)
            accounts.audit(sess, actor=current_user.actor, action="login.issue",
                           target=f"{record['id']}/{form.login.data}", reseller=record["id"],
                           ip=client_ip())
            sess.commit()
            announce(outcome, _("Reseller %(id)s created.", id=record["id"]))
            return render_template("provider/credentials.html", reseller=record["id"],
                                   login=form.login.data, password=password,
                                   login_url=url_for("auth.reseller_login",
                                                     reseller_id=record["id"],
                                                     _external=True))
    return render_template("provider/reseller_form.html", form=form, new=True)


@bp.route("/resellers/<reseller_id>")
def reseller(reseller_id):
    r = _reseller_or_404(reseller_id)
    users = accounts.list_users(db(), kind="reseller", reseller=r.id)
    return render_template("provider/reseller.html", r=r, users=users,
                           tenants=store().count_tenants(reseller=r.id),
                           plans=store().list_plans(reseller=r.id),
                           form=IssueLoginForm())


@bp.route("/resellers/<reseller_id>/edit", methods=["GET", "POST"])
def reseller_edit(reseller_id):
    r = _reseller_or_404(reseller_id)
    form = ResellerForm()
    if request.method == "GET":
        form.id.data, form.company.data = r.id, r.company
        form.contacts.data = ", ".join(r.contacts)
        form.display_name.data, form.logo_url.data = r.brand.display_name, r.brand.logo_url
        form.primary_color.data = r.brand.primary_color
        form.accent_color.data = r.brand.accent_color
        form.panel_host.data = r.brand.panel_host or ""
        form.locale.data = r.locale
        form.limit_tenants.data, form.limit_disk_mb.data = r.limits.tenants, r.limits.disk_mb
        form.oversell.data = r.limits.oversell
    form.id.data = r.id
    if form.validate_on_submit():
        record = _reseller_record(form)
        record.pop("id")
        try:
            outcome = changes.apply(
                actor=current_user.actor, action="reseller.change", target=r.id, reseller=r.id,
                write=lambda: store().change_reseller(r.id, record, actor=current_user.actor,
                                                      reason="changed by the provider",
                                                      expected_version=r.version))
        except OemhostError as exc:
            show_errors(form, exc, RESELLER_FIELDS)
        else:
            announce(outcome, _("Reseller %(id)s changed.", id=r.id))
            return redirect(url_for("provider.reseller", reseller_id=r.id))
    return render_template("provider/reseller_form.html", form=form, new=False, r=r)


@bp.route("/resellers/<reseller_id>/status", methods=["POST"])
def reseller_status(reseller_id):
    r = _reseller_or_404(reseller_id)
    status = request.form.get("status")
    if status not in ("active", "suspended"):
        abort(400)
    tenants = store().list_tenants(reseller=r.id)
    try:
        outcome = changes.apply(
            actor=current_user.actor, action=f"reseller.{status}", target=r.id, reseller=r.id,
            write=lambda: store().change_reseller(r.id, {"status": status},
                                                  actor=current_user.actor,
                                                  reason=f"reseller {status} by the provider",
                                                  expected_version=r.version),
            job=lambda: changes.tenants_job(tenants))
    except OemhostError as exc:
        flash(str(exc), "error")
    else:
        for user in accounts.list_users(db(), kind="reseller", reseller=r.id):
            accounts.set_active(db(), user, status == "active")
        db().commit()
        announce(outcome, _("Reseller %(id)s is now %(status)s.", id=r.id,
                            status=_("active") if status == "active" else _("suspended")))
    return redirect(url_for("provider.reseller", reseller_id=r.id))


@bp.route("/resellers/<reseller_id>/logins", methods=["POST"])
def reseller_login_issue(reseller_id):
    r = _reseller_or_404(reseller_id)
    form = IssueLoginForm()
    if form.validate_on_submit():
        password = form.password.data or accounts.generate_password()
        sess = db()
        try:
            accounts.create_user(sess, kind="reseller", login=form.login.data,
                                 password=password, reseller=r.id,
                                 display_name=form.display_name.data or "",
                                 created_by=current_user.actor)
        except OemhostError as exc:
            sess.rollback()
            show_errors(form, exc)
        else:
            accounts.audit(sess, actor=current_user.actor, action="login.issue",
                           target=f"{r.id}/{form.login.data}", reseller=r.id, ip=client_ip())
            sess.commit()
            return render_template("provider/credentials.html", reseller=r.id,
                                   login=form.login.data, password=password,
                                   login_url=url_for("auth.reseller_login", reseller_id=r.id,
                                                     _external=True))
    users = accounts.list_users(db(), kind="reseller", reseller=r.id)
    return render_template("provider/reseller.html", r=r, users=users, form=form,
                           tenants=store().count_tenants(reseller=r.id),
                           plans=store().list_plans(reseller=r.id)), 400


@bp.route("/resellers/<reseller_id>/logins/<int:user_id>/reset", methods=["POST"])
def reseller_login_reset(reseller_id, user_id):
    r = _reseller_or_404(reseller_id)
    sess = db()
    user = sess.get(accounts.PanelUser, user_id)
    if user is None or user.kind != "reseller" or user.reseller != r.id:
        abort(404)
    password = accounts.generate_password()
    accounts.set_password(sess, user, password)
    accounts.audit(sess, actor=current_user.actor, action="login.reset",
                   target=f"{r.id}/{user.login}", reseller=r.id, ip=client_ip())
    sess.commit()
    return render_template("provider/credentials.html", reseller=r.id, login=user.login,
                           password=password, reset=True,
                           login_url=url_for("auth.reseller_login", reseller_id=r.id,
                                             _external=True))


@bp.route("/resellers/<reseller_id>/remove", methods=["POST"])
def reseller_remove(reseller_id):
    r = _reseller_or_404(reseller_id)
    try:
        changes.apply(actor=current_user.actor, action="reseller.remove", target=r.id,
                      reseller=r.id,
                      write=lambda: store().remove_reseller(r.id, actor=current_user.actor,
                                                            reason="removed by the provider",
                                                            expected_version=r.version))
    except (ConflictError, OemhostError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("provider.reseller", reseller_id=r.id))
    for user in accounts.list_users(db(), reseller=r.id):
        accounts.set_active(db(), user, False)
    db().commit()
    flash(_("Reseller %(id)s removed.", id=r.id), "success")
    return redirect(url_for("provider.resellers"))


# --- nodes ----------------------------------------------------------------------------

@bp.route("/nodes")
def nodes():
    st = store()
    mon = monitoring.view(db(), limit=1)
    rows = [(n, st.count_tenants(node=n.name)) for n in st.list_nodes()]
    return render_template("provider/nodes.html", rows=rows, mon=mon,
                           backups=node_statuses(db()))


@bp.route("/nodes/<name>")
def node(name):
    from oemhost import jobs

    try:
        n = store().get_node(name)
    except (NotFoundError, ValidationError):
        abort(404)
    st = store()
    page = jobs.list_jobs(db(), {"node": n.name}, page=1, per_page=20)
    mon = monitoring.view(db(), node=n.name, limit=20)
    from oemhost import drift

    last = drift.node_reports(db(), n.name, limit=1)
    return render_template("provider/node.html", n=n, tenants=st.count_tenants(node=n.name),
                           jobs_page=page, mon=mon, drift=last[0] if last else None,
                           backup=node_statuses(db(), [n.name]).get(n.name),
                           backup_runs=recent_runs(db(), n.name, limit=7))


def _queue_node_job(name: str, *, kind: str, playbook: str, action: str, reason: str,
                    done: str, back: str = "provider.node"):
    """Submit a job for one node from a node page, audit it, and go back to that page."""
    from oemhost import jobs

    try:
        n = store().get_node(name)
    except (NotFoundError, ValidationError):
        abort(404)
    sess = db()
    try:
        job = jobs.submit(sess, kind=kind, playbook=playbook, nodes=[n.name],
                          requested_by=current_user.actor, reason=reason % {"node": n.name},
                          settings=settings())
    except OemhostError as exc:
        sess.rollback()
        flash(str(exc), "error")
        return redirect(url_for(back, name=n.name))
    accounts.audit(sess, actor=current_user.actor, action=action, target=n.name,
                   ip=client_ip(), job_id=job.id)
    sess.commit()
    flash(done, "success")
    flash(str(job.id), "job")
    return redirect(url_for(back, name=n.name))


@bp.route("/nodes/<name>/backup", methods=["POST"])
def node_backup(name):
    return _queue_node_job(name, kind="backup", playbook="backup_now.yml",
                           action="node.backup", reason="back up node %(node)s now",
                           done=_("Backup of %(node)s queued.", node=name))


@bp.route("/nodes/<name>/converge", methods=["POST"])
def node_converge(name):
    return _queue_node_job(name, kind="provision", playbook="site.yml",
                           action="node.converge", reason="converge node %(node)s",
                           done=_("Converge of %(node)s queued.", node=name))


@bp.route("/nodes/<name>/drift")
def node_drift(name):
    from oemhost import drift, jobs

    try:
        n = store().get_node(name)
    except (NotFoundError, ValidationError):
        abort(404)
    reports = drift.node_reports(db(), n.name, limit=10)
    checks = jobs.list_jobs(db(), {"node": n.name, "kind": "drift"}, page=1, per_page=5)
    return render_template("provider/drift.html", n=n, reports=reports, checks=checks)


@bp.route("/nodes/<name>/drift/check", methods=["POST"])
def node_drift_check(name):
    from oemhost.drift.report import PLAYBOOK

    return _queue_node_job(name, kind="drift", playbook=PLAYBOOK, action="node.drift_check",
                           reason="drift check of %(node)s", back="provider.node_drift",
                           done=_("Drift check of %(node)s queued.", node=name))


# --- incidents and audit --------------------------------------------------------------

@bp.route("/incidents")
def incidents():
    from oemhost import jobs

    mon = monitoring.view(db(), limit=100)
    failed = jobs.list_jobs(db(), {"status": "failed"}, page=1, per_page=50)
    return render_template("provider/incidents.html", mon=mon, failed=failed)


@bp.route("/audit")
def audit():
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    q = (request.args.get("q") or "")[:100]
    reseller = (request.args.get("reseller") or "")[:40] or None
    rows, total = accounts.list_audit(db(), q=q or None, reseller=reseller, page=page,
                                      per_page=50)
    return render_template("provider/audit.html", rows=rows, total=total, page=page,
                           pages=max(1, -(-total // 50)), q=q)
