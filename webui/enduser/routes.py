from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from oemhost.errors import OemhostError, ValidationError
from webui import changes
from webui.context import db, store
from webui.enduser import bp
from webui.enduser.forms import (
    DatabaseForm,
    DiskForm,
    DnsForm,
    DomainForm,
    DomainTlsForm,
    FtpEditForm,
    FtpForm,
    MailboxEditForm,
    MailboxForm,
    SshForm,
    SystemPasswordForm,
)
from webui.forms import announce, show_errors
from webui.reseller import usage_source
from webui.security import own_tenant, require


@bp.before_request
@require("enduser")
def _only_enduser():
    return None


def _tenant():
    """The logged-in end user's own tenant and its plan (once per request)."""
    if "tenant" not in g:
        g.tenant = own_tenant(current_user.tenant)
        g.plan = store().get_plan(g.tenant.reseller, g.tenant.plan)
    return g.tenant, g.plan


def _change(action: str, target: str, write, form=None, fields=None, done: str = ""):
    """Apply one change of the user's own tenant; True when it was saved."""
    t, _plan = _tenant()
    if t.status != "active":
        msg = _("Your account is suspended; changes are not possible.")
        if form is not None:
            form.form_errors = [msg]
        else:
            flash(msg, "error")
        return False
    try:
        outcome = changes.apply(actor=current_user.actor, action=action, target=target,
                                reseller=t.reseller, tenant=t.id, write=write,
                                job=changes.tenant_job(t))
    except OemhostError as exc:
        if form is not None:
            show_errors(form, exc, fields)
        else:
            flash(str(exc), "error")
        return False
    announce(outcome, done)
    return True


def _ver():
    return _tenant()[0].version


@bp.route("/")
def index():
    t, plan = _tenant()
    disk = usage_source.tenant_disk(db(), [t.id]).get(t.id)
    return render_template("enduser/index.html", t=t, plan=plan, disk=disk,
                           ssh_form=SshForm(ssh=t.ssh))


# --- domains ------------------------------------------------------------------------------

@bp.route("/domains", methods=["GET", "POST"])
def domains():
    t, plan = _tenant()
    form = DomainForm()
    if form.validate_on_submit():
        name = (form.name.data or "").strip()
        if _change("domain.add", name,
                   lambda: store().add_domain(t.id, name, tls={"mode": form.tls.data},
                                              https_redirect=bool(form.https_redirect.data),
                                              actor=current_user.actor, reason="domain added",
                                              expected_version=_ver()),
                   form, {"domain": "name", "domains": "name"},
                   _("Domain %(name)s added.", name=name)):
            return redirect(url_for("enduser.domains"))
    return render_template("enduser/domains.html", t=t, plan=plan, form=form)


@bp.route("/domains/<name>/tls", methods=["POST"])
def domain_tls(name):
    t, _plan = _tenant()
    if name not in {d.name for d in t.domains}:
        abort(404)
    form = DomainTlsForm()
    if not form.validate_on_submit():
        abort(400)
    _change("domain.change", name,
            lambda: store().change_domain(t.id, name, {"tls": {"mode": form.tls.data},
                                                       "https_redirect":
                                                       bool(form.https_redirect.data)},
                                          actor=current_user.actor, reason="TLS mode",
                                          expected_version=_ver()),
            done=_("HTTPS settings of %(name)s changed.", name=name))
    return redirect(url_for("enduser.domains"))


@bp.route("/domains/<name>/remove", methods=["POST"])
def domain_remove(name):
    t, _plan = _tenant()
    if name not in {d.name for d in t.domains}:
        abort(404)
    _change("domain.remove", name,
            lambda: store().remove_domain(t.id, name, actor=current_user.actor,
                                          reason="domain removed", expected_version=_ver()),
            done=_("Domain %(name)s removed.", name=name))
    return redirect(url_for("enduser.domains"))


# --- mailboxes ----------------------------------------------------------------------------

def _forwards(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


@bp.route("/mail", methods=["GET", "POST"])
def mailboxes():
    t, plan = _tenant()
    form = MailboxForm()
    form.domain.choices = [SelectChoice(d.name, d.display_name) for d in t.domains]
    if request.method == "GET":
        form.quota_mb.data = min(plan.max_mailbox_mb, 1000) or None
    if form.validate_on_submit():
        address = f"{(form.local.data or '').strip()}@{form.domain.data}"
        if _change("mailbox.add", address,
                   lambda: store().add_mailbox(t.id, address, form.password.data,
                                               form.quota_mb.data,
                                               forwards=_forwards(form.forwards.data),
                                               actor=current_user.actor, reason="mailbox added",
                                               expected_version=_ver()),
                   form, {"address": "local", "mailboxes": "local"},
                   _("Mailbox %(address)s added.", address=address)):
            return redirect(url_for("enduser.mailboxes"))
    return render_template("enduser/mailboxes.html", t=t, plan=plan, form=form)


def _mailbox_or_404(address):
    t, _plan = _tenant()
    for box in t.mailboxes:
        if box.address == address:
            return box
    abort(404)


@bp.route("/mail/<address>", methods=["GET", "POST"])
def mailbox(address):
    t, plan = _tenant()
    box = _mailbox_or_404(address)
    form = MailboxEditForm(prefix="edit")
    pw_form = SystemPasswordForm(prefix="pw")
    if request.method == "GET":
        form.quota_mb.data = box.quota_mb
        form.forwards.data = "\n".join(box.forwards)
    which = request.form.get("which") if request.method == "POST" else None
    if which == "edit":
        if form.validate():
            if _change("mailbox.change", address,
                       lambda: store().change_mailbox(
                           t.id, address, {"quota_mb": form.quota_mb.data,
                                           "forwards": _forwards(form.forwards.data)},
                           actor=current_user.actor, reason="mailbox changed",
                           expected_version=_ver()),
                       form, {"quota_mb": "quota_mb", "forwards": "forwards"},
                       _("Mailbox %(address)s changed.", address=address)):
                return redirect(url_for("enduser.mailbox", address=address))
    elif which == "password":
        if pw_form.validate():
            if _change("mailbox.password", address,
                       lambda: store().set_mailbox_password(
                           t.id, address, pw_form.password.data, actor=current_user.actor,
                           reason="mailbox password", expected_version=_ver()),
                       pw_form, None, _("Password of %(address)s changed.", address=address)):
                return redirect(url_for("enduser.mailboxes"))
    return render_template("enduser/mailbox.html", t=t, plan=plan, box=box, form=form,
                           pw_form=pw_form)


@bp.route("/mail/<address>/remove", methods=["POST"])
def mailbox_remove(address):
    t, _plan = _tenant()
    _mailbox_or_404(address)
    _change("mailbox.remove", address,
            lambda: store().remove_mailbox(t.id, address, actor=current_user.actor,
                                           reason="mailbox removed", expected_version=_ver()),
            done=_("Mailbox %(address)s removed.", address=address))
    return redirect(url_for("enduser.mailboxes"))


# --- FTP ----------------------------------------------------------------------------------

@bp.route("/ftp", methods=["GET", "POST"])
def ftp():
    t, plan = _tenant()
    form = FtpForm()
    if form.validate_on_submit():
        name = (form.name.data or "").strip()
        if _change("ftp.add", f"{t.id}-{name}",
                   lambda: store().add_ftp_account(t.id, name, form.password.data,
                                                   dir=(form.dir.data or "").strip(),
                                                   actor=current_user.actor,
                                                   reason="FTP account added",
                                                   expected_version=_ver()),
                   form, {"ftp_accounts": "name"},
                   _("FTP account %(name)s added.", name=f"{t.id}-{name}")):
            return redirect(url_for("enduser.ftp"))
    return render_template("enduser/ftp.html", t=t, plan=plan, form=form)


@bp.route("/ftp/<name>", methods=["GET", "POST"])
def ftp_account(name):
    t, plan = _tenant()
    acct = next((a for a in t.ftp_accounts if a.name == name), None)
    if acct is None:
        abort(404)
    form = FtpEditForm()
    if request.method == "GET":
        form.dir.data = acct.dir
    if form.validate_on_submit():
        password = form.password.data or None
        if _change("ftp.change", name,
                   lambda: store().change_ftp_account(t.id, name,
                                                      dir=(form.dir.data or "").strip(),
                                                      password=password,
                                                      actor=current_user.actor,
                                                      reason="FTP account changed",
                                                      expected_version=_ver()),
                   form, {"ftp_accounts": "dir"},
                   _("FTP account %(name)s changed.", name=name)):
            return redirect(url_for("enduser.ftp"))
    return render_template("enduser/ftp_account.html", t=t, acct=acct, form=form)


@bp.route("/ftp/<name>/remove", methods=["POST"])
def ftp_remove(name):
    t, _plan = _tenant()
    if name not in {a.name for a in t.ftp_accounts}:
        abort(404)
    _change("ftp.remove", name,
            lambda: store().remove_ftp_account(t.id, name, actor=current_user.actor,
                                               reason="FTP account removed",
                                               expected_version=_ver()),
            done=_("FTP account %(name)s removed.", name=name))
    return redirect(url_for("enduser.ftp"))


# --- databases ----------------------------------------------------------------------------

@bp.route("/databases", methods=["GET", "POST"])
def databases():
    t, plan = _tenant()
    form = DatabaseForm()
    if form.validate_on_submit():
        name = (form.name.data or "").strip()
        if _change("database.add", f"{form.engine.data}:{t.id}_{name}",
                   lambda: store().add_database(t.id, form.engine.data, name,
                                                form.password.data, actor=current_user.actor,
                                                reason="database added",
                                                expected_version=_ver()),
                   form, {"databases": "name"},
                   _("Database %(name)s added.", name=f"{t.id}_{name}")):
            return redirect(url_for("enduser.databases"))
    return render_template("enduser/databases.html", t=t, plan=plan, form=form,
                           pw_form=SystemPasswordForm(prefix="pw"))


def _db_or_404(engine, name):
    t, _plan = _tenant()
    if not any(d.engine == engine and d.name == name for d in t.databases):
        abort(404)
    return t


@bp.route("/databases/<engine>/<name>/password", methods=["POST"])
def database_password(engine, name):
    t = _db_or_404(engine, name)
    form = SystemPasswordForm(prefix="pw")
    if not form.validate_on_submit():
        flash(_("The two passwords must be given and equal."), "error")
    else:
        _change("database.password", f"{engine}:{name}",
                lambda: store().set_database_password(t.id, engine, name, form.password.data,
                                                      actor=current_user.actor,
                                                      reason="database password",
                                                      expected_version=_ver()),
                done=_("Password of database %(name)s changed.", name=name))
    return redirect(url_for("enduser.databases"))


@bp.route("/databases/<engine>/<name>/remove", methods=["POST"])
def database_remove(engine, name):
    t = _db_or_404(engine, name)
    _change("database.remove", f"{engine}:{name}",
            lambda: store().remove_database(t.id, engine, name, actor=current_user.actor,
                                            reason="database removed", expected_version=_ver()),
            done=_("Database %(name)s removed.", name=name))
    return redirect(url_for("enduser.databases"))


# --- disk, SSH, DNS, system password ----------------------------------------------------------

@bp.route("/disk", methods=["GET", "POST"])
def disk():
    t, plan = _tenant()
    form = DiskForm()
    if request.method == "GET":
        form.web_mb.data = t.disk.web_mb
    if form.validate_on_submit():
        web = form.web_mb.data
        if web > plan.disk_mb:
            form.web_mb.errors = [_("at most %(max)s MB (the plan's total)", max=plan.disk_mb)]
        elif _change("disk.split", t.id,
                     lambda: store().set_disk_split(t.id, web, actor=current_user.actor,
                                                    reason="disk split",
                                                    expected_version=_ver()),
                     form, {"disk.web_mb": "web_mb", "disk.mail_mb": "web_mb",
                            "disk": "web_mb"},
                     _("Disk split changed.")):
            return redirect(url_for("enduser.disk"))
    usage = usage_source.tenant_disk(db(), [t.id]).get(t.id)
    return render_template("enduser/disk.html", t=t, plan=plan, form=form, usage=usage)


@bp.route("/ssh", methods=["POST"])
def ssh():
    t, plan = _tenant()
    form = SshForm()
    if not form.validate_on_submit():
        abort(400)
    if not plan.ssh:
        flash(_("Your plan does not include SSH."), "error")
    else:
        want = bool(form.ssh.data)
        _change("ssh.on" if want else "ssh.off", t.id,
                lambda: store().change_tenant(t.id, {"ssh": want}, actor=current_user.actor,
                                              reason="SSH", expected_version=_ver()),
                done=_("SSH is now on.") if want else _("SSH is now off."))
    return redirect(url_for("enduser.index"))


def _parse_records(text: str) -> list[dict]:
    """``name type value [ttl]`` lines -> records; ValidationError names the line."""
    records, errors = [], {}
    for i, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            errors["records"] = _("line %(n)s: needs name, type and value", n=i)
            break
        name, rtype, rest = parts
        ttl = 3600
        head, _sep, tail = rest.rpartition(" ")
        if head and tail.isdigit() and rtype.upper() != "TXT":
            rest, ttl = head, int(tail)
        value = rest.strip()
        if rtype.upper() == "TXT" and len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        records.append({"name": name, "type": rtype.upper(), "value": value, "ttl": ttl})
    if errors:
        raise ValidationError(errors)
    return records


@bp.route("/dns", methods=["GET", "POST"])
def dns():
    t, plan = _tenant()
    zone = request.args.get("zone") or (t.domains[0].name if t.domains else None)
    if zone is not None and zone not in {d.name for d in t.domains}:
        abort(404)
    form = DnsForm()
    if request.method == "GET" and zone:
        form.records.data = "\n".join(
            f"{r.name} {r.type} {r.value} {r.ttl}" for r in t.dns_records if r.zone == zone)
    if plan.dns and zone and form.validate_on_submit():
        try:
            records = _parse_records(form.records.data)
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            # the store names a bad record records[i].field: point at the line it came from
            def write():
                try:
                    return store().set_dns_records(t.id, zone, records,
                                                   actor=current_user.actor,
                                                   reason="DNS records",
                                                   expected_version=_ver())
                except ValidationError as exc:
                    raise ValidationError({"records": "; ".join(
                        f"{_line_of(k)}{v}" for k, v in exc.errors.items())}) from None

            if _change("dns.set", zone, write, form, None,
                       _("DNS records of %(zone)s saved.", zone=zone)):
                return redirect(url_for("enduser.dns", zone=zone))
    return render_template("enduser/dns.html", t=t, plan=plan, form=form, zone=zone)


def _line_of(path: str) -> str:
    import re

    m = re.search(r"records\[(\d+)\]\.?(\w*)", path)
    if not m:
        return f"{path}: " if path else ""
    return _("record %(n)s (%(field)s): ", n=int(m.group(1)) + 1, field=m.group(2) or "-")


@bp.route("/system-password", methods=["GET", "POST"])
def system_password():
    """The password of the server account (main FTP login, SSH/SFTP)."""
    t, _plan = _tenant()
    form = SystemPasswordForm()
    if form.validate_on_submit():
        if _change("tenant.password", t.id,
                   lambda: store().set_tenant_password(t.id, form.password.data,
                                                       actor=current_user.actor,
                                                       reason="server password",
                                                       expected_version=_ver()),
                   form, None, _("Server password changed.")):
            return redirect(url_for("enduser.index"))
    return render_template("enduser/system_password.html", t=t, form=form)
