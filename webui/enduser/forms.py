from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice as C
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange

TLS_CHOICES = [C("selfsigned", _l("Self-signed certificate")),
               C("acme", _l("Let's Encrypt (ACME)")), C("own", _l("Own certificate"))]


class DomainForm(FlaskForm):
    name = StringField(_l("Domain name"), validators=[DataRequired(), Length(max=300)])
    tls = SelectField(_l("HTTPS certificate"), choices=TLS_CHOICES)
    https_redirect = BooleanField(_l("Redirect HTTP to HTTPS"))


class DomainTlsForm(FlaskForm):
    tls = SelectField(_l("HTTPS certificate"), choices=TLS_CHOICES)
    https_redirect = BooleanField(_l("Redirect HTTP to HTTPS"))


class PasswordPair(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    confirm = PasswordField(_l("Password again"), validators=[DataRequired(),
                                                              EqualTo("password")])


class MailboxForm(PasswordPair):
    local = StringField(_l("Address (before the @)"), validators=[DataRequired(),
                                                                 Length(max=64)])
    domain = SelectField(_l("Domain"), choices=[])
    quota_mb = IntegerField(_l("Quota (MB)"), validators=[InputRequired(),
                                                          NumberRange(min=1)])
    forwards = TextAreaField(_l("Forward to (one address a line)"),
                             validators=[Length(max=5000)])


class MailboxEditForm(FlaskForm):
    quota_mb = IntegerField(_l("Quota (MB)"), validators=[InputRequired(),
                                                          NumberRange(min=1)])
    forwards = TextAreaField(_l("Forward to (one address a line)"),
                             validators=[Length(max=5000)])


class FtpForm(PasswordPair):
    name = StringField(_l("Account name (after the prefix)"),
                       validators=[DataRequired(), Length(max=32)])
    dir = StringField(_l("Directory in the web area"), default="public_html",
                      validators=[Length(max=255)])


class FtpEditForm(FlaskForm):
    dir = StringField(_l("Directory in the web area"), validators=[Length(max=255)])
    password = PasswordField(_l("New password (empty: keep)"), validators=[Length(max=128)])


class DatabaseForm(PasswordPair):
    engine = SelectField(_l("Database type"), choices=[C("mariadb", "MariaDB"),
                                                       C("postgresql", "PostgreSQL")])
    name = StringField(_l("Database name (after the prefix)"),
                       validators=[DataRequired(), Length(max=32)])


class DiskForm(FlaskForm):
    web_mb = IntegerField(_l("Web area (MB)"), validators=[InputRequired(),
                                                           NumberRange(min=0)])


class SshForm(FlaskForm):
    ssh = BooleanField(_l("SSH/SFTP access"))


class DnsForm(FlaskForm):
    records = TextAreaField(_l("Records (one a line: name type value [ttl])"),
                            validators=[Length(max=20000)])


class SystemPasswordForm(PasswordPair):
    pass
