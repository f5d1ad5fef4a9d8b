"""Who may see what: the logged-in user, access decorators, per-object checks.

* :func:`require` guards a view by kind of user: anonymous visitors of an HTML page are
  sent to the login page (with a checked ``next``), API and JSON callers get a JSON 401;
  a logged-in user of another kind gets 403 (JSON for JSON callers).
* :func:`own_tenant`, :func:`own_plan` load an object through the store and answer 404
  when it does not belong to the current reseller / end user: other resellers' objects
  are not merely forbidden, they do not exist for you.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urljoin, urlsplit

from flask import abort, g, jsonify, redirect, request, url_for
from flask_login import UserMixin, current_user

from oemhost.errors import NotFoundError, OemhostError
from webui.context import db
from webui.extensions import login_manager


class WebUser(UserMixin):
    """The logged-in panel user (a detached copy of the database row's fields)."""

    def __init__(self, row) -> None:
        self.row_id = row.id
        self.kind = row.kind
        self.login = row.login
        self.realm = row.realm
        self.reseller = row.reseller
        self.tenant = row.tenant
        self.display_name = row.display_name or row.login
        self.locale = row.locale
        self.epoch = row.session_epoch
        self.actor = row.actor

    def get_id(self) -> str:
        # the epoch changes with the password: older sessions stop matching
        return f"{self.row_id}:{self.epoch}"


@login_manager.user_loader
def _load_user(user_id: str):
    from oemhost.db.models.accounts import PanelUser

    try:
        row_id, epoch = (int(x) for x in user_id.split(":", 1))
    except ValueError:
        return None
    row = db().get(PanelUser, row_id)
    if row is None or not row.active or row.session_epoch != epoch:
        return None
    return WebUser(row)


def wants_json() -> bool:
    if request.blueprint == "api" or request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > \
        request.accept_mimetypes["text/html"]


def json_error(status: int, message: str, **extra):
    resp = jsonify({"error": message, **extra})
    resp.status_code = status
    return resp


def login_url_for_request() -> str:
    from webui.context import current_brand

    return current_brand().login_path


@login_manager.unauthorized_handler
def _unauthorized():
    if wants_json():
        return json_error(401, "login required")
    return redirect(login_url_for_request() + "?next=" + _quote(request.full_path.rstrip("?")))


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/")


def require(*kinds: str):
    """Only logged-in users of these kinds (``provider``, ``reseller``, ``enduser``)."""
    def deco(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.kind not in kinds:
                if wants_json():
                    return json_error(403, "forbidden")
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return deco


def is_safe_next(target: str | None) -> bool:
    """A ``next`` that stays on this site: a path, never another host or scheme."""
    if not target or not isinstance(target, str) or len(target) > 2000:
        return False
    if any(ord(c) < 32 for c in target) or "\\" in target:
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return False
    joined = urlsplit(urljoin(request.host_url, target))
    return joined.netloc == urlsplit(request.host_url).netloc


def home_for(user) -> str:
    return url_for({"provider": "provider.index", "reseller": "reseller.index",
                    "enduser": "enduser.index"}[user.kind])


# --- per-object checks ----------------------------------------------------------------

def my_reseller() -> str:
    """The reseller of the logged-in reseller user, or of the API token."""
    token = g.get("api_token")
    if token is not None:
        return token.reseller
    if current_user.is_authenticated and current_user.kind == "reseller":
        return current_user.reseller
    abort(403)


def own_tenant(tenant_id: str):
    """The tenant, if the current reseller / end user / provider may see it; else 404."""
    from webui.context import store

    if not isinstance(tenant_id, str) or len(tenant_id) > 40:
        abort(404)
    try:
        tenant = store().get_tenant(tenant_id)
    except NotFoundError:
        abort(404)
    except Exception:  # noqa: BLE001 - a malformed id is a missing object
        abort(404)
    token = g.get("api_token")
    if token is not None:
        if tenant.reseller != token.reseller:
            abort(404)
        return tenant
    if current_user.kind == "provider":
        return tenant
    if current_user.kind == "reseller" and tenant.reseller == current_user.reseller:
        return tenant
    if current_user.kind == "enduser" and tenant.id == current_user.tenant:
        return tenant
    abort(404)


def own_plan(plan_id: str):
    from webui.context import store

    reseller = my_reseller()
    try:
        return store().get_plan(reseller, plan_id)
    except Exception:  # noqa: BLE001 - NotFoundError or a malformed id
        abort(404)


def may_see_job(job) -> bool:
    """Provider: every job. Reseller: jobs it asked for or touching its tenants. End user:
    jobs touching its own tenant."""
    from webui.context import store

    token = g.get("api_token")
    if token is not None:
        kind, reseller, tenant = "reseller", token.reseller, None
    elif not current_user.is_authenticated:
        return False
    else:
        kind, reseller, tenant = current_user.kind, current_user.reseller, current_user.tenant
    if kind == "provider":
        return True
    scope = job.tenant_scope or []
    if kind == "enduser":
        return tenant in scope
    if job.requested_by.startswith(f"reseller:{reseller}/"):
        return True
    from sqlalchemy import select

    from oemhost.db.models.accounts import AuditEntry

    if db().scalar(select(AuditEntry.id).where(AuditEntry.job_id == job.id,
                                               AuditEntry.reseller == reseller).limit(1)):
        return True  # a change of one of its end users
    # jobs of panel changes are scoped to one reseller's tenants: a few suffice to tell
    for tid in scope[:5]:
        try:
            if store().get_tenant(tid).reseller == reseller:
                return True
        except (NotFoundError, OemhostError):
            continue
    return False
