from typing import Any

from flask import abort, g, jsonify, request, url_for

from oemhost import accounts
from oemhost.errors import ConflictError, NotFoundError, OemhostError, ValidationError
from webui import changes
from webui.api import bp
from webui.api.openapi import spec
from webui.context import client_ip, count_customers, db, store
from webui.security import json_error, my_reseller, own_plan, own_tenant

CUSTOMER_WRITABLE = {"contractor", "customer_number", "contact_email", "plan",
                     "contract_date", "start_date"}
PLAN_FIELDS = ("id", "name", "disk_mb", "default_web_mb", "max_domains", "max_mailboxes",
               "max_mailbox_mb", "max_ftp_accounts", "max_databases", "dns", "ssh", "mail",
               "ftps_required", "mail_limits")


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return json_error(exc.status, exc.message, **({"fields": exc.fields} if exc.fields else {}))


@bp.errorhandler(OemhostError)
def _oemhost_error(exc: OemhostError):
    if isinstance(exc, ValidationError):
        return json_error(400, str(exc), fields=exc.errors)
    if isinstance(exc, NotFoundError):
        return json_error(404, str(exc))
    if isinstance(exc, ConflictError):
        return json_error(409, str(exc))
    if type(exc).__name__ == "PermissionDenied":
        return json_error(403, str(exc))
    return json_error(409, str(exc))


@bp.before_request
def _authenticate():
    if request.endpoint in ("api.openapi",):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        return json_error(401, "send your API token as 'Authorization: Bearer <token>'")
    token = accounts.verify_token(db(), secret.strip())
    if token is None:
        db().commit()
        return json_error(401, "unknown or revoked token")
    try:
        reseller = store().get_reseller(token.reseller)
    except NotFoundError:
        return json_error(401, "unknown or revoked token")
    if reseller.status != "active":
        return json_error(403, "reseller suspended")
    db().commit()  # last_used_at
    g.api_token = token
    g.api_actor = token.actor
    return None


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "send a JSON object (Content-Type: application/json)")
    return data


def _outcome(outcome: changes.Outcome) -> dict[str, Any]:
    out: dict[str, Any] = {"commit": outcome.commit, "job": None}
    if outcome.job_id is not None:
        out["job"] = {"id": outcome.job_id,
                      "url": url_for("api.job", job_id=outcome.job_id, _external=True)}
    if outcome.job_error:
        out["job_error"] = outcome.job_error
    return out


def plan_json(p) -> dict[str, Any]:
    data = p.to_dict()
    data["version"] = p.version
    return data


def customer_json(t) -> dict[str, Any]:
    """A tenant as the API shows it: no password hashes, domains by name."""
    return {"id": t.id, "plan": t.plan, "node": t.node, "status": t.status,
            "status_reason": t.status_reason, "contractor": t.contractor,
            "customer_number": t.customer_number, "contact_email": t.contact_email,
            "contract_date": t.contract_date, "start_date": t.start_date,
            "disk": t.disk.to_dict(), "ssh": t.ssh,
            "domains": [d.name for d in t.domains], "mailboxes": len(t.mailboxes),
            "ftp_accounts": len(t.ftp_accounts), "databases": len(t.databases),
            "version": t.version}


def summary_json(s) -> dict[str, Any]:
    return {"id": s.id, "plan": s.plan, "node": s.node, "status": s.status,
            "contractor": s.contractor, "customer_number": s.customer_number,
            "contact_email": s.contact_email, "contract_date": s.contract_date,
            "start_date": s.start_date, "disk": s.disk.to_dict(), "domains": s.domains,
            "mailboxes": s.mailboxes, "ftp_accounts": s.ftp_accounts,
            "databases": s.databases, "version": s.version}


@bp.route("/openapi.json")
def openapi():
    return jsonify(spec(url_for("api.openapi", _external=True).rsplit("/", 1)[0]))


# --- plans ----------------------------------------------------------------------------------

@bp.route("/plans", methods=["GET"])
def plans():
    return jsonify({"items": [plan_json(p) for p in store().list_plans(reseller=my_reseller())]})


@bp.route("/plans", methods=["POST"])
def plan_create():
    rid = my_reseller()
    record = _body()
    unknown = set(record) - set(PLAN_FIELDS)
    if unknown:
        raise ApiError(400, "unknown fields", {k: "unknown field" for k in sorted(unknown)})
    outcome = changes.apply(actor=g.api_actor, action="plan.add",
                            target=f"{rid}/{record.get('id')}", reseller=rid,
                            write=lambda: store().add_plan(rid, record, actor=g.api_actor,
                                                           reason="API"))
    plan = store().get_plan(rid, record["id"])
    return jsonify({"plan": plan_json(plan), **_outcome(outcome)}), 201


@bp.route("/plans/<plan_id>", methods=["GET"])
def plan(plan_id):
    return jsonify({"plan": plan_json(own_plan(plan_id))})


@bp.route("/plans/<plan_id>", methods=["PATCH"])
def plan_change(plan_id):
    rid = my_reseller()
    p = own_plan(plan_id)
    data = _body()
    version = data.pop("version", None)
    unknown = set(data) - set(PLAN_FIELDS)
    if unknown:
        raise ApiError(400, "unknown fields", {k: "unknown field" for k in sorted(unknown)})
    users = store().list_tenants(reseller=rid, plan=p.id)
    outcome = changes.apply(actor=g.api_actor, action="plan.change", target=f"{rid}/{p.id}",
                            reseller=rid,
                            write=lambda: store().change_plan(rid, p.id, data,
                                                              actor=g.api_actor, reason="API",
                                                              expected_version=version),
                            job=lambda: changes.tenants_job(users))
    return jsonify({"plan": plan_json(store().get_plan(rid, p.id)), **_outcome(outcome)})


@bp.route("/plans/<plan_id>", methods=["DELETE"])
def plan_delete(plan_id):
    rid = my_reseller()
    p = own_plan(plan_id)
    outcome = changes.apply(actor=g.api_actor, action="plan.remove", target=f"{rid}/{p.id}",
                            reseller=rid,
                            write=lambda: store().remove_plan(rid, p.id, actor=g.api_actor,
                                                              reason="API"))
    return jsonify(_outcome(outcome))


# --- customers --------------------------------------------------------------------------------

@bp.route("/customers", methods=["GET"])
def customers():
    rid = my_reseller()
    q = (request.args.get("q") or "")[:100] or None
    status = request.args.get("status") or None
    sort = request.args.get("sort", "id")
    offset = request.args.get("offset", 0, type=int) or 0
    limit = request.args.get("limit", 100, type=int) or 100
    if offset < 0 or not 1 <= limit <= 1000:
        raise ApiError(400, "offset >= 0 and 1 <= limit <= 1000")
    if status not in (None, "active", "suspended", "removed"):
        raise ApiError(400, "bad status", {"status": "active, suspended or removed"})
    st = store()
    rows = st.list_tenants(reseller=rid, q=q, status=status, sort=sort, offset=offset,
                           limit=limit)
    return jsonify({"total": count_customers(rid, q, status),
                    "offset": offset, "limit": limit,
                    "items": [summary_json(s) for s in rows]})


@bp.route("/customers", methods=["POST"])
def customer_create():
    rid = my_reseller()
    data = _body()
    password = data.pop("password", None)
    panel_login = data.pop("panel_login", True)
    unknown = set(data) - CUSTOMER_WRITABLE - {"id", "domains"}
    if unknown:
        raise ApiError(400, "unknown fields", {k: "unknown field" for k in sorted(unknown)})
    if not isinstance(panel_login, bool):
        raise ApiError(400, "bad input", {"panel_login": "true or false"})
    generated = password is None
    if generated:
        password = accounts.generate_password()
    accounts.check_password_policy(password)
    record = {**data, "reseller": rid}
    sess = db()
    tid = record.get("id")
    if isinstance(tid, str) and accounts.find_user(sess, f"r:{rid}", tid) is not None:
        raise ApiError(409, f"login {tid} exists already")
    outcome = changes.apply(actor=g.api_actor, action="tenant.add", target=str(tid),
                            reseller=rid, tenant=tid if isinstance(tid, str) else None,
                            write=lambda: store().add_tenant(record, password=password,
                                                             actor=g.api_actor, reason="API"),
                            job=lambda: changes.tenant_job(store().get_tenant(tid)))
    if panel_login:
        accounts.create_user(sess, kind="enduser", login=tid, password=password, reseller=rid,
                             tenant=tid, display_name=record.get("contractor", ""),
                             created_by=g.api_actor)
        accounts.audit(sess, actor=g.api_actor, action="login.issue", target=tid,
                       reseller=rid, tenant=tid, ip=client_ip())
        sess.commit()
    out = {"customer": customer_json(store().get_tenant(tid)), **_outcome(outcome),
           "login_url": url_for("auth.reseller_login", reseller_id=rid, _external=True)}
    if generated:
        out["password"] = password  # shown once, never stored in readable form
    return jsonify(out), 201


@bp.route("/customers/<tenant_id>", methods=["GET"])
def customer(tenant_id):
    return jsonify({"customer": customer_json(own_tenant(tenant_id))})


@bp.route("/customers/<tenant_id>", methods=["PATCH"])
def customer_change(tenant_id):
    t = own_tenant(tenant_id)
    data = _body()
    version = data.pop("version", None)
    unknown = set(data) - CUSTOMER_WRITABLE
    if unknown:
        raise ApiError(400, "unknown fields", {k: "cannot be changed here"
                                               for k in sorted(unknown)})
    outcome = changes.apply(actor=g.api_actor, action="tenant.change", target=t.id,
                            reseller=t.reseller, tenant=t.id,
                            write=lambda: store().change_tenant(t.id, data, actor=g.api_actor,
                                                                reason="API",
                                                                expected_version=version),
                            job=changes.tenant_job(t))
    return jsonify({"customer": customer_json(store().get_tenant(t.id)), **_outcome(outcome)})


def _set_status(tenant_id: str, status: str):
    t = own_tenant(tenant_id)
    data = request.get_json(silent=True) or {}
    reason = data.get("reason") if isinstance(data, dict) else None
    reason = reason if isinstance(reason, str) else f"{status} through the API"
    outcome = changes.apply(actor=g.api_actor, action=f"tenant.{status}", target=t.id,
                            reseller=t.reseller, tenant=t.id,
                            write=lambda: store().set_tenant_status(t.id, status,
                                                                    actor=g.api_actor,
                                                                    reason=reason),
                            job=changes.tenant_job(t))
    return jsonify({"customer": customer_json(store().get_tenant(t.id)), **_outcome(outcome)})


@bp.route("/customers/<tenant_id>/suspend", methods=["POST"])
def customer_suspend(tenant_id):
    return _set_status(tenant_id, "suspended")


@bp.route("/customers/<tenant_id>/unsuspend", methods=["POST"])
def customer_unsuspend(tenant_id):
    return _set_status(tenant_id, "active")


@bp.route("/customers/<tenant_id>", methods=["DELETE"])
def customer_delete(tenant_id):
    t = own_tenant(tenant_id)
    outcome = changes.apply(actor=g.api_actor, action="tenant.remove", target=t.id,
                            reseller=t.reseller, tenant=t.id,
                            write=lambda: store().remove_tenant(t.id, actor=g.api_actor,
                                                                reason="API"),
                            job=changes.tenant_job(t, removal=True))
    login = accounts.find_user(db(), f"r:{t.reseller}", t.id)
    if login is not None:
        accounts.set_active(db(), login, False)
        db().commit()
    return jsonify(_outcome(outcome))


@bp.route("/customers/<tenant_id>/panel-password", methods=["POST"])
def customer_panel_password(tenant_id):
    """A new panel password for the end user (its login is issued if it had none)."""
    t = own_tenant(tenant_id)
    if t.status == "removed":
        raise ApiError(409, f"customer {t.id} is deleted")
    sess = db()
    password = accounts.generate_password()
    user = accounts.find_user(sess, f"r:{t.reseller}", t.id)
    if user is None:
        accounts.create_user(sess, kind="enduser", login=t.id, password=password,
                             reseller=t.reseller, tenant=t.id, display_name=t.contractor,
                             created_by=g.api_actor)
    else:
        accounts.set_password(sess, user, password)
    accounts.audit(sess, actor=g.api_actor, action="login.reset", target=t.id,
                   reseller=t.reseller, tenant=t.id, ip=client_ip())
    sess.commit()
    return jsonify({"login": t.id, "password": password,
                    "login_url": url_for("auth.reseller_login", reseller_id=t.reseller,
                                         _external=True)})


@bp.route("/jobs/<int:job_id>", methods=["GET"])
def job(job_id):
    from oemhost import jobs
    from webui.security import may_see_job

    try:
        j = jobs.get_job(db(), job_id)
    except OemhostError:
        abort(404)
    if not may_see_job(j):
        abort(404)
    return jsonify({"id": j.id, "status": j.status, "kind": j.kind, "nodes": j.nodes,
                    "customers": j.tenant_scope or [], "requested_by": j.requested_by,
                    "created_at": j.created_at.isoformat(),
                    "finished_at": j.finished_at.isoformat() if j.finished_at else None,
                    "result": {"succeeded": "applied", "failed": "failed",
                               "cancelled": "cancelled"}.get(j.status)})
