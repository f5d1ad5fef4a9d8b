"""Mail through a real SMTP server (aiosmtpd): STARTTLS + AUTH, SMTPS, and the templates."""

from datetime import UTC, datetime, timedelta

import pytest

from oemhost.errors import ValidationError
from oemhost.notify import Mailer, MailError, SmtpConfig, render


def cfg(smtpd, **over):
    base = {"host": smtpd.host, "port": smtpd.port, "security": "starttls",
            "username": smtpd.user, "from_addr": "monitor@provider.example",
            "from_name": "プロバイダ NOC", "ca_file": str(smtpd.ca_file), "verify": False}
    base.update(over)
    return SmtpConfig.from_settings(base, env={"OEMHOST_SMTP_PASSWORD": smtpd.password})


def test_starttls_with_login_delivers_utf8(smtpd):
    smtpd.box.clear()
    m = Mailer(cfg(smtpd))
    sent = m.send(m.compose(["noc@acme.example"], "【障害通知】node1 テスト", "本文です。\n"))
    assert sent.message_id.startswith("<") and not sent.refused
    (got,) = smtpd.box.messages
    assert got["tls"] is True
    assert got["to"] == ["noc@acme.example"]
    assert str(got["msg"]["Subject"]) == "【障害通知】node1 テスト"
    assert got["msg"].get_content().replace("\r\n", "\n") == "本文です。\n"
    assert got["msg"]["Auto-Submitted"] == "auto-generated"
    assert "プロバイダ NOC" in str(got["msg"]["From"])
    assert smtpd.box.logins[-1][1] is True


def test_smtps_and_verified_certificate(smtpd):
    smtpd.box.clear()
    m = Mailer(cfg(smtpd, security="ssl", port=smtpd.smtps_port, verify=True,
                   host="127.0.0.1"))
    with pytest.raises(MailError):   # the relay's name is not 127.0.0.1
        m.send(m.compose(["a@b.example"], "x", "y"))
    m = Mailer(cfg(smtpd, security="ssl", port=smtpd.smtps_port))
    m.send(m.compose(["a@b.example"], "x", "y"))
    assert len(smtpd.box.messages) == 1 and smtpd.box.messages[0]["tls"]


def test_wrong_password_is_a_clear_error(smtpd):
    conf = SmtpConfig.from_settings(
        {"host": smtpd.host, "port": smtpd.port, "username": smtpd.user, "verify": False},
        env={"OEMHOST_SMTP_PASSWORD": "wrong"})
    m = Mailer(conf)
    with pytest.raises(MailError) as exc:
        m.send(m.compose(["a@b.example"], "x", "y"))
    assert "refused the login" in str(exc.value)
    assert "wrong" not in str(exc.value)


def test_relay_without_starttls_is_refused_not_downgraded(smtpd):
    m = Mailer(SmtpConfig.from_settings({"host": smtpd.host, "port": smtpd.plain_port,
                                         "security": "starttls"}))
    with pytest.raises(MailError) as exc:
        m.send(m.compose(["a@b.example"], "x", "y"))
    assert "STARTTLS" in str(exc.value)


def test_unreachable_relay(smtpd):
    import socket
    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = Mailer(SmtpConfig.from_settings({"host": "127.0.0.1", "port": port,
                                         "security": "none", "timeout": 3}))
    with pytest.raises(MailError):
        m.send(m.compose(["a@b.example"], "x", "y"))


def test_subject_from_data_stays_one_line(smtpd):
    smtpd.box.clear()
    m = Mailer(cfg(smtpd))
    m.send(m.compose(["a@b.example"], "evil\r\nBcc: victim@example.com", "y"))
    (got,) = smtpd.box.messages
    assert got["to"] == ["a@b.example"]
    assert got["msg"]["Bcc"] is None


@pytest.mark.parametrize(("section", "key"), [
    ({"security": "tls"}, "security"),
    ({"port": 0}, "port"),
    ({"username": "u", "security": "none"}, "username"),
    ({"username": "u"}, "password_file"),
    ({"username": "u", "password_file": "/nonexistent/pw"}, "password_file"),
    ({"from_addr": "not an address"}, "from_addr"),
    ({"from_name": "x\nBcc: y"}, "from_name"),
    ({"relay": "x"}, "relay"),
])
def test_bad_smtp_settings(section, key):
    with pytest.raises(ValidationError) as exc:
        SmtpConfig.from_settings(section, env={})
    assert key in exc.value.errors


def test_password_never_in_repr():
    c = SmtpConfig(password="hunter2")
    assert "hunter2" not in repr(c)


def _incident(**over):
    t = datetime(2026, 7, 17, 9, 0, tzinfo=UTC)  # 18:00 JST Friday
    inc = {"id": 7, "node": "node1", "service": "web", "failing": ["https"],
           "affected": ["http", "https"], "started_at": t, "detected_at": t,
           "recovered_at": t + timedelta(hours=1), "summary": "https: connection refused",
           "level": 1, "escalated": False}
    inc.update(over)
    return inc


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_templates_render_in_both_languages(lang):
    timeline = [{"at": datetime(2026, 7, 17, 9, 0, tzinfo=UTC), "kind": "detected",
                 "message": "x", "data": {"protocols": ["https"]}},
                {"at": datetime(2026, 7, 17, 9, 1, tzinfo=UTC), "kind": "restart_requested",
                 "message": "x", "data": {"unit": "apache2", "job": "4"}}]
    ctx = {"incident": _incident(), "timeline": timeline,
           "audience": {"name": "ACME", "tenants": 3}, "provider": "Provider NOC",
           "notice_after": 600, "elapsed": 900, "outage": 3600,
           "report_due": datetime(2026, 7, 21, 8, 0, tzinfo=UTC)}
    subject, body = render("incident_notice", lang, **ctx)
    assert "node1" in subject and "#7" in subject and "\n" not in subject
    assert "2026-07-17 18:00 JST" in body            # shown in Japanese time
    assert "apache2" in body and "3" in body
    assert ("10分" in body) if lang == "ja" else ("10 min" in body)
    subject, body = render("incident_report", lang, **ctx)
    assert ("障害報告" in subject) if lang == "ja" else ("Failure report" in subject)
    assert "2026-07-21" in body
    assert ("1時間" in body) if lang == "ja" else ("1 h" in body)


def test_template_values_are_not_templates():
    ctx = {"incident": _incident(summary="{{ 7 * 7 }} {% raw %}"), "timeline": [],
           "audience": {"name": "{{ provider }}", "tenants": None}, "provider": "P",
           "notice_after": 600, "elapsed": 60, "outage": 60,
           "report_due": datetime(2026, 7, 21, 8, 0, tzinfo=UTC)}
    _s, body = render("incident_notice", "en", **ctx)
    assert "{{ 7 * 7 }} {% raw %}" in body and "49" not in body
    assert "Dear {{ provider }}" in body
