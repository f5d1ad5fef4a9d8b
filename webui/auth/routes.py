from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from oemhost import accounts
from oemhost.errors import NotFoundError, ValidationError
from webui.auth import bp
from webui.auth.forms import LoginForm, PasswordChangeForm
from webui.context import brand_for, client_ip, db, reseller_for_host, settings, store
from webui.forms import show_errors
from webui.security import WebUser, home_for, is_safe_next


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    rid = reseller_for_host()
    return redirect(url_for("auth.reseller_login", reseller_id=rid) if rid
                    else url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The provider's login, or the reseller's when the host name is its panel host."""
    rid = reseller_for_host()
    if rid:
        return _login(f"r:{rid}", rid)
    return _login("provider", None)


@bp.route("/r/<reseller_id>/login", methods=["GET", "POST"])
def reseller_login(reseller_id):
    try:
        reseller = store().get_reseller(reseller_id)
    except (NotFoundError, ValidationError):
        abort(404)
    return _login(f"r:{reseller.id}", reseller.id)


def _login(realm: str, reseller_id: str | None):
    brand = brand_for(reseller_id)
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        policy = accounts.Policy.from_section(settings().section("web"))
        sess = db()
        try:
            row = accounts.authenticate(sess, realm=realm, login=form.login.data,
                                        password=form.password.data, ip=client_ip(),
                                        policy=policy)
        except accounts.LoginRefused as exc:
            accounts.audit(sess, actor=f"anonymous@{client_ip()}", action="login",
                           target=f"{realm}/{(form.login.data or '')[:64]}", result="refused",
                           reseller=reseller_id, message=exc.reason, ip=client_ip())
            sess.commit()
            messages = {"bad credentials": _("Wrong login ID or password."),
                        "locked": _("This login is locked after repeated failures; "
                                    "try again later."),
                        "throttled": _("Too many failed logins from your address; "
                                       "try again later."),
                        "inactive": _("This login is disabled.")}
            form.password.errors = [messages.get(exc.reason, str(exc))]
            status = 429 if exc.reason == "throttled" else 200
            return render_template("auth/login.html", form=form, brand=brand), status
        if row.kind == "reseller" and _reseller_suspended(row.reseller):
            accounts.audit(sess, actor=row.actor, action="login", target=realm,
                           result="refused", reseller=row.reseller,
                           message="reseller suspended", ip=client_ip())
            sess.commit()
            form.password.errors = [_("This reseller account is suspended.")]
            return render_template("auth/login.html", form=form, brand=brand)
        accounts.audit(sess, actor=row.actor, action="login", target=realm,
                       reseller=row.reseller, tenant=row.tenant, ip=client_ip())
        sess.commit()
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        session.permanent = True
        login_user(WebUser(row))
        target = form.next.data
        return redirect(target if is_safe_next(target) else home_for(row))
    return render_template("auth/login.html", form=form, brand=brand)


def _reseller_suspended(rid: str | None) -> bool:
    try:
        return store().get_reseller(rid).status != "active"
    except NotFoundError:
        return True


@bp.route("/logout", methods=["POST"])
def logout():
    login_path = url_for("auth.login")
    if current_user.is_authenticated:
        if current_user.reseller:
            login_path = url_for("auth.reseller_login", reseller_id=current_user.reseller)
        logout_user()
    session.clear()
    return redirect(login_path)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """One's own panel password (every kind of user)."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        sess = db()
        row = accounts.get_user(sess, current_user.row_id)
        if not accounts.verify_password(row.password_hash, form.current.data):
            form.current.errors = [_("This is not your current password.")]
        else:
            try:
                accounts.set_password(sess, row, form.password.data)
            except ValidationError as exc:
                show_errors(form, exc)
            else:
                accounts.audit(sess, actor=row.actor, action="password.change",
                               target=row.login, reseller=row.reseller, tenant=row.tenant,
                               ip=client_ip())
                sess.commit()
                login_user(WebUser(row))  # the new epoch: this session stays valid
                flash(_("Your password was changed."), "success")
                return redirect(home_for(row))
    return render_template("auth/password.html", form=form)


@bp.route("/brand/<reseller_id>.css")
def brand_css(reseller_id):
    """The reseller's colours as CSS variables (a file, so the CSP needs no inline style)."""
    import re

    brand = brand_for(reseller_id)
    if brand.reseller is None:
        abort(404)
    colour = re.compile(r"^#[0-9a-fA-F]{6}$")  # the store checks it too; never trust twice
    primary = brand.primary_color if colour.match(brand.primary_color) else "#23395d"
    accent = brand.accent_color if colour.match(brand.accent_color) else "#d9822b"
    css = f":root {{ --brand-primary: {primary}; --brand-accent: {accent}; }}\n"
    return css, 200, {"Content-Type": "text/css; charset=utf-8",
                      "Cache-Control": "private, max-age=60"}
