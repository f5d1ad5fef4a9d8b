import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from oemhost import accounts
from oemhost.errors import OemhostError, ValidationError
from webui import changes, charts
from webui.context import client_ip, count_customers, db, store
from webui.forms import announce, show_errors
from webui.provider import monitoring
from webui.reseller import bp, usage_source
from webui.reseller.forms import BrandForm, CustomerForm, NewCustomerForm, PlanForm, TokenForm
from webui.security import my_reseller, own_plan, own_tenant, require

PLAN_FIELDS = {"max_databases.mariadb": "max_mariadb",
               "max_databases.postgresql": "max_postgresql",
               "mail_limits.per_hour": "mail_per_hour", "mail_limits.per_day": "mail_per_day"}
CUSTOMER_FIELDS = {"domains[0].name": "domain", "domains": "domain", "node": "plan",
                   "disk": "plan", "reseller": "plan"}
SORTS = ("id", "contractor", "customer_number", "contract_date", "start_date", "plan",
         "status")
PER_PAGE = 50


@bp.before_request
@require("reseller")
def _only_reseller():
    return None


def _actor() -> str:
    return current_user.actor


# --- server usage -----------------------------------------------------------------------

@bp.route("/")
def index():
    rid = my_reseller()
    st = store()
    # counts from the store's list index; never all 10,000 rows at once
    per_node = {n.name: st.count_tenants(reseller=rid, node=n.name)
                - st.count_tenants(reseller=rid, node=n.name, status="removed")
                for n in st.list_nodes()}
    nodes = [n for n in st.list_nodes() if n.owner == rid or per_node.get(n.name)]
    period = request.args.get("period", "day")
    if period not in usage_source.PERIODS:
        period = "day"
    sess = db()
    node_rows = []
    for n in nodes:
        now = usage_source.node_now(sess, n.name)
        graphs = []
        if usage_source.available():
            for metric, title, unit in (("disk_used_mb", _("Disk used"), "MB"),
                                        ("mem_used_mb", _("Memory used"), "MB"),
                                        ("net_rx_bps", _("Network in"), "bit/s"),
                                        ("net_tx_bps", _("Network out"), "bit/s")):
                graphs.append(charts.line_chart(
                    usage_source.node_series(sess, n.name, metric, period), title=title,
                    unit=unit))
        node_rows.append({"node": n, "now": now, "graphs": graphs,
                          "tenants": per_node.get(n.name, 0)})
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    live = sum(per_node.values())
    total = st.count_tenants(reseller=rid)  # deleted ones too, marked as such
    shown = st.list_tenants(reseller=rid, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    disk = usage_source.tenant_disk(sess, [t.id for t in shown])
    plans = {p.id: p for p in st.list_plans(reseller=rid)}
    allocated = sum(p.disk_mb * (st.count_tenants(reseller=rid, plan=p.id)
                                 - st.count_tenants(reseller=rid, plan=p.id, status="removed"))
                    for p in plans.values())
    return render_template("reseller/index.html", node_rows=node_rows, period=period,
                           shown=shown, disk=disk, plans=plans, page=page,
                           pages=max(1, -(-total // PER_PAGE)),
                           measured=any(r["now"] for r in node_rows), allocated=allocated,
                           reseller=st.get_reseller(rid), count=live)


# --- plans --------------------------------------------------------------------------------

def _plan_record(form: PlanForm) -> dict:
    return {
        "id": (form.id.data or "").strip(), "name": (form.name.data or "").strip(),
        "disk_mb": form.disk_mb.data, "default_web_mb": form.default_web_mb.data,
        "max_domains": form.max_domains.data, "max_mailboxes": form.max_mailboxes.data,
        "max_mailbox_mb": form.max_mailbox_mb.data,
        "max_ftp_accounts": form.max_ftp_accounts.data,
        "max_databases": {"mariadb": form.max_mariadb.data,
                          "postgresql": form.max_postgresql.data},
        "dns": bool(form.dns.data), "ssh": bool(form.ssh.data), "mail": bool(form.mail.data),
        "ftps_required": bool(form.ftps_required.data),
        "mail_limits": {"per_hour": form.mail_per_hour.data,
                        "per_day": form.mail_per_day.data},
    }


@bp.route("/plans")
def plans():
    rid = my_reseller()
    st = store()
    rows = [(p, st.count_tenants(reseller=rid, plan=p.id)) for p in st.list_plans(reseller=rid)]
    return render_template("reseller/plans.html", rows=rows)


@bp.route("/plans/new", methods=["GET", "POST"])
def plan_new():
    rid = my_reseller()
    form = PlanForm()
    if form.validate_on_submit():
        record = _plan_record(form)
        try:
            outcome = changes.apply(
                actor=_actor(), action="plan.add", target=f"{rid}/{record['id']}", reseller=rid,
                write=lambda: store().add_plan(rid, record, actor=_actor(), reason="new plan"))
        except OemhostError as exc:
            show_errors(form, exc, PLAN_FIELDS)
        else:
            announce(outcome, _("Plan %(name)s created.", name=record["name"]))
            return redirect(url_for("reseller.plans"))
    return render_template("reseller/plan_form.html", form=form, new=True)


@bp.route("/plans/<plan_id>/edit", methods=["GET", "POST"])
def plan_edit(plan_id):
    rid = my_reseller()
    plan = own_plan(plan_id)
    form = PlanForm()
    if request.method == "GET":
        for name in ("id", "name", "disk_mb", "default_web_mb", "max_domains", "max_mailboxes",
                     "max_mailbox_mb", "max_ftp_accounts", "dns", "ssh", "mail",
                     "ftps_required"):
            getattr(form, name).data = getattr(plan, name)
        form.max_mariadb.data = plan.max_databases.mariadb
        form.max_postgresql.data = plan.max_databases.postgresql
        form.mail_per_hour.data = plan.mail_limits.per_hour
        form.mail_per_day.data = plan.mail_limits.per_day
    form.id.data = plan.id
    if form.validate_on_submit():
        record = _plan_record(form)
        record.pop("id")
        users = store().list_tenants(reseller=rid, plan=plan.id)
        try:
            outcome = changes.apply(
                actor=_actor(), action="plan.change", target=f"{rid}/{plan.id}", reseller=rid,
                write=lambda: store().change_plan(rid, plan.id, record, actor=_actor(),
                                                  reason="plan changed",
                                                  expected_version=plan.version),
                job=lambda: changes.tenants_job(users))
        except OemhostError as exc:
            show_errors(form, exc, PLAN_FIELDS)
        else:
            announce(outcome, _("Plan %(name)s changed.", name=record["name"]))
            return redirect(url_for("reseller.plans"))
    return render_template("reseller/plan_form.html", form=form, new=False, plan=plan)


@bp.route("/plans/<plan_id>/delete", methods=["POST"])
def plan_delete(plan_id):
    rid = my_reseller()
    plan = own_plan(plan_id)
    try:
        changes.apply(actor=_actor(), action="plan.remove", target=f"{rid}/{plan.id}",
                      reseller=rid,
                      write=lambda: store().remove_plan(rid, plan.id, actor=_actor(),
                                                        reason="plan deleted",
                                                        expected_version=plan.version))
    except OemhostError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Plan %(name)s deleted.", name=plan.name), "success")
    return redirect(url_for("reseller.plans"))


# --- customers -------------------------------------------------------------------------------

@bp.route("/customers")
def customers():
    rid = my_reseller()
    q = (request.args.get("q") or "").strip()[:100] or None
    sort = request.args.get("sort", "id")
    if sort.lstrip("-") not in SORTS:
        sort = "id"
    status = request.args.get("status") or None
    if status not in (None, "active", "suspended", "removed"):
        status = None
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    st = store()
    total = count_customers(rid, q, status)
    pages = max(1, -(-total // PER_PAGE))
    page = min(page, pages)
    rows = st.list_tenants(reseller=rid, q=q, status=status, sort=sort,
                           offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    disk = usage_source.tenant_disk(db(), [t.id for t in rows])
    # the worst quota level of each customer (80 % warning, 100 % full)
    levels = {}
    for t in rows:
        found = usage_source.quota_warnings(disk.get(t.id), web_mb=t.disk.web_mb,
                                            mail_mb=t.disk.mail_mb,
                                            total_mb=t.disk.web_mb + t.disk.mail_mb)
        if found:
            levels[t.id] = "full" if any(w["level"] == "full" for w in found) else "warning"
    return render_template("reseller/customers.html", rows=rows, total=total, page=page,
                           pages=pages, q=q or "", sort=sort, status=status or "", disk=disk,
                           sorts=SORTS, quota_levels=levels)


def _plan_choices(form, rid):
    form.plan.choices = [SelectChoice(p.id, p.name) for p in store().list_plans(reseller=rid)]


def _customer_changes(form) -> dict:
    return {
        "contractor": (form.contractor.data or "").strip(),
        "customer_number": (form.customer_number.data or "").strip() or None,
        "contact_email": (form.contact_email.data or "").strip(),
        "plan": form.plan.data,
        **({"contract_date": form.contract_date.data.isoformat()}
           if form.contract_date.data else {}),
        **({"start_date": form.start_date.data.isoformat()} if form.start_date.data else {}),
    }


@bp.route("/customers/new", methods=["GET", "POST"])
def customer_new():
    rid = my_reseller()
    form = NewCustomerForm()
    _plan_choices(form, rid)
    if request.method == "GET":
        form.contract_date.data = dt.date.today()
        form.start_date.data = dt.date.today()
    if not form.plan.choices:
        flash(_("Create a plan first."), "warning")
        return redirect(url_for("reseller.plan_new"))
    if form.validate_on_submit():
        record = {"id": (form.id.data or "").strip(), "reseller": rid,
                  **_customer_changes(form)}
        if (form.domain.data or "").strip():
            record["domains"] = [(form.domain.data or "").strip()]
        password = form.password.data or accounts.generate_password()
        sess = db()
        try:
            accounts.check_password_policy(password)
            if accounts.find_user(sess, f"r:{rid}", record["id"]) is not None:
                raise ValidationError({"id": _("this login ID is taken")})
            outcome = changes.apply(
                actor=_actor(), action="tenant.add", target=record["id"], reseller=rid,
                tenant=record["id"],
                write=lambda: store().add_tenant(record, password=password, actor=_actor(),
                                                 reason="new customer"),
                job=lambda: changes.tenant_job(store().get_tenant(record["id"])))
        except OemhostError as exc:
            show_errors(form, exc, CUSTOMER_FIELDS)
        else:
            accounts.create_user(sess, kind="enduser", login=record["id"], password=password,
                                 reseller=rid, tenant=record["id"],
                                 display_name=record["contractor"], created_by=_actor())
            accounts.audit(sess, actor=_actor(), action="login.issue", target=record["id"],
                           reseller=rid, tenant=record["id"], ip=client_ip())
            sess.commit()
            announce(outcome, _("Customer %(id)s created.", id=record["id"]))
            return render_template("reseller/credentials.html", tenant=record["id"],
                                   password=password,
                                   login_url=url_for("auth.reseller_login", reseller_id=rid,
                                                     _external=True))
    return render_template("reseller/customer_form.html", form=form, new=True)


@bp.route("/customers/<tenant_id>")
def customer(tenant_id):
    t = own_tenant(tenant_id)
    plan = store().get_plan(t.reseller, t.plan)
    login = accounts.find_user(db(), f"r:{t.reseller}", t.id)
    disk = usage_source.tenant_disk(db(), [t.id]).get(t.id)
    warnings = usage_source.quota_warnings(disk, web_mb=t.disk.web_mb, mail_mb=t.disk.mail_mb,
                                           total_mb=plan.disk_mb)
    return render_template("reseller/customer.html", t=t, plan=plan, login=login, disk=disk,
                           quota_warnings=warnings,
                           history=store().history(tenant=t.id, limit=10))


@bp.route("/customers/<tenant_id>/edit", methods=["GET", "POST"])
def customer_edit(tenant_id):
    t = own_tenant(tenant_id)
    rid = my_reseller()
    form = CustomerForm()
    _plan_choices(form, rid)
    if request.method == "GET":
        form.contractor.data, form.customer_number.data = t.contractor, t.customer_number
        form.contact_email.data, form.plan.data = t.contact_email, t.plan
        form.contract_date.data = dt.date.fromisoformat(t.contract_date)
        form.start_date.data = dt.date.fromisoformat(t.start_date)
    if form.validate_on_submit():
        ch = _customer_changes(form)
        try:
            outcome = changes.apply(
                actor=_actor(), action="tenant.change", target=t.id, reseller=rid, tenant=t.id,
                write=lambda: store().change_tenant(t.id, ch, actor=_actor(),
                                                    reason="customer changed",
                                                    expected_version=t.version),
                job=changes.tenant_job(t))
        except OemhostError as exc:
            show_errors(form, exc, CUSTOMER_FIELDS)
        else:
            announce(outcome, _("Customer %(id)s changed.", id=t.id))
            return redirect(url_for("reseller.customer", tenant_id=t.id))
    return render_template("reseller/customer_form.html", form=form, new=False, t=t)


@bp.route("/customers/<tenant_id>/status", methods=["POST"])
def customer_status(tenant_id):
    t = own_tenant(tenant_id)
    status = request.form.get("status")
    if status not in ("active", "suspended"):
        abort(400)
    reason = (request.form.get("reason") or "").strip()[:500] or f"{status} by the reseller"
    try:
        outcome = changes.apply(
            actor=_actor(), action=f"tenant.{status}", target=t.id, reseller=t.reseller,
            tenant=t.id,
            write=lambda: store().set_tenant_status(t.id, status, actor=_actor(), reason=reason,
                                                    expected_version=t.version),
            job=changes.tenant_job(t))
    except OemhostError as exc:
        flash(str(exc), "error")
    else:
        announce(outcome, _("Customer %(id)s suspended.", id=t.id) if status == "suspended"
                 else _("Customer %(id)s is active again.", id=t.id))
    return redirect(url_for("reseller.customer", tenant_id=t.id))


@bp.route("/customers/<tenant_id>/delete", methods=["POST"])
def customer_delete(tenant_id):
    t = own_tenant(tenant_id)
    try:
        outcome = changes.apply(
            actor=_actor(), action="tenant.remove", target=t.id, reseller=t.reseller,
            tenant=t.id,
            write=lambda: store().remove_tenant(t.id, actor=_actor(), reason="customer deleted",
                                                expected_version=t.version),
            job=changes.tenant_job(t, removal=True))
    except OemhostError as exc:
        flash(str(exc), "error")
        return redirect(url_for("reseller.customer", tenant_id=t.id))
    login = accounts.find_user(db(), f"r:{t.reseller}", t.id)
    if login is not None:
        accounts.set_active(db(), login, False)
        db().commit()
    announce(outcome, _("Customer %(id)s deleted.", id=t.id))
    return redirect(url_for("reseller.customers"))


@bp.route("/customers/<tenant_id>/login", methods=["POST"])
def customer_login(tenant_id):
    """Issue the end user's panel login, or give it a new password."""
    t = own_tenant(tenant_id)
    sess = db()
    password = accounts.generate_password()
    user = accounts.find_user(sess, f"r:{t.reseller}", t.id)
    if user is None:
        accounts.create_user(sess, kind="enduser", login=t.id, password=password,
                             reseller=t.reseller, tenant=t.id, display_name=t.contractor,
                             created_by=_actor())
        action = "login.issue"
    else:
        accounts.set_password(sess, user, password)
        accounts.set_active(sess, user, t.status != "removed")
        action = "login.reset"
    accounts.audit(sess, actor=_actor(), action=action, target=t.id, reseller=t.reseller,
                   tenant=t.id, ip=client_ip())
    sess.commit()
    return render_template("reseller/credentials.html", tenant=t.id, password=password,
                           reset=action == "login.reset",
                           login_url=url_for("auth.reseller_login", reseller_id=t.reseller,
                                             _external=True))


# --- incidents, settings, API tokens ------------------------------------------------------

@bp.route("/incidents")
def incidents():
    rid = my_reseller()
    mon = monitoring.view(db(), reseller=rid, limit=100)
    return render_template("reseller/incidents.html", mon=mon)


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    rid = my_reseller()
    r = store().get_reseller(rid)
    form = BrandForm()
    if request.method == "GET":
        form.company.data, form.contacts.data = r.company, ", ".join(r.contacts)
        form.display_name.data, form.logo_url.data = r.brand.display_name, r.brand.logo_url
        form.primary_color.data = r.brand.primary_color
        form.accent_color.data = r.brand.accent_color
        form.locale.data = r.locale
    if form.validate_on_submit():
        ch = {"company": (form.company.data or "").strip(),
              "contacts": [c.strip() for c in (form.contacts.data or "").split(",")
                           if c.strip()],
              "locale": form.locale.data,
              "brand": {"display_name": (form.display_name.data or "").strip(),
                        "logo_url": (form.logo_url.data or "").strip(),
                        "primary_color": (form.primary_color.data or "").strip(),
                        "accent_color": (form.accent_color.data or "").strip()}}
        try:
            outcome = changes.apply(
                actor=_actor(), action="reseller.change", target=rid, reseller=rid,
                write=lambda: store().change_reseller(rid, ch, actor=_actor(),
                                                      reason="brand changed by the reseller",
                                                      expected_version=r.version))
        except OemhostError as exc:
            show_errors(form, exc, {"brand.display_name": "display_name",
                                    "brand.logo_url": "logo_url",
                                    "brand.primary_color": "primary_color",
                                    "brand.accent_color": "accent_color"})
        else:
            announce(outcome, _("Settings saved."))
            return redirect(url_for("reseller.settings"))
    tokens = accounts.list_tokens(db(), rid)
    return render_template("reseller/settings.html", form=form, r=r, tokens=tokens,
                           token_form=TokenForm())


@bp.route("/tokens", methods=["POST"])
def token_new():
    rid = my_reseller()
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("Give the token a name."), "error")
        return redirect(url_for("reseller.settings"))
    sess = db()
    try:
        token, secret = accounts.issue_token(sess, reseller=rid, name=form.name.data,
                                             created_by=_actor())
    except OemhostError as exc:
        flash(str(exc), "error")
        return redirect(url_for("reseller.settings"))
    accounts.audit(sess, actor=_actor(), action="token.issue", target=f"{token.id}",
                   reseller=rid, ip=client_ip())
    sess.commit()
    return render_template("reseller/token.html", token=token, secret=secret)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def token_revoke(token_id):
    rid = my_reseller()
    sess = db()
    try:
        accounts.revoke_token(sess, rid, token_id)
    except OemhostError:
        abort(404)
    accounts.audit(sess, actor=_actor(), action="token.revoke", target=str(token_id),
                   reseller=rid, ip=client_ip())
    sess.commit()
    flash(_("Token revoked."), "success")
    return redirect(url_for("reseller.settings"))


@bp.route("/audit")
def audit():
    rid = my_reseller()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = accounts.list_audit(db(), reseller=rid, page=page, per_page=50)
    return render_template("reseller/audit.html", rows=rows, page=page,
                           pages=max(1, -(-total // 50)))
