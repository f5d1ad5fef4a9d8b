from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice as C
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

NUM = [InputRequired(), NumberRange(min=0, max=100_000_000)]


class PlanForm(FlaskForm):
    id = StringField(_l("Plan ID"), validators=[DataRequired(), Length(max=64)])
    name = StringField(_l("Plan name"), validators=[DataRequired(), Length(max=200)])
    disk_mb = IntegerField(_l("Disk total (MB)"), default=2000, validators=NUM)
    default_web_mb = IntegerField(_l("Default web area (MB)"), default=1500, validators=NUM)
    max_domains = IntegerField(_l("Max domains"), default=1, validators=NUM)
    max_mailboxes = IntegerField(_l("Max mail addresses"), default=10, validators=NUM)
    max_mailbox_mb = IntegerField(_l("Max mailbox size (MB)"), default=500, validators=NUM)
    max_ftp_accounts = IntegerField(_l("Max additional FTP accounts"), default=1,
                                    validators=NUM)
    max_mariadb = IntegerField(_l("Max MariaDB databases"), default=1, validators=NUM)
    max_postgresql = IntegerField(_l("Max PostgreSQL databases"), default=0, validators=NUM)
    dns = BooleanField(_l("DNS zone management"))
    ssh = BooleanField(_l("SSH access"))
    mail = BooleanField(_l("Mail service"), default=True)
    ftps_required = BooleanField(_l("FTP only over TLS (FTPS)"), default=True)
    mail_per_hour = IntegerField(_l("Outgoing mail per hour"), default=200, validators=NUM)
    mail_per_day = IntegerField(_l("Outgoing mail per day"), default=2000, validators=NUM)


class CustomerForm(FlaskForm):
    contractor = StringField(_l("Contractor name"), validators=[DataRequired(),
                                                                Length(max=200)])
    customer_number = StringField(_l("Customer number (optional)"),
                                  validators=[Length(max=64)])
    contact_email = StringField(_l("Contact e-mail"), validators=[DataRequired(),
                                                                  Length(max=254)])
    plan = SelectField(_l("Plan"), choices=[])
    contract_date = DateField(_l("Contract date"), validators=[Optional()])
    start_date = DateField(_l("Usage start date"), validators=[Optional()])


class NewCustomerForm(CustomerForm):
    id = StringField(_l("Login ID"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password (empty: generate one)"),
                             validators=[Optional(), Length(max=128)])
    domain = StringField(_l("First domain (optional)"), validators=[Length(max=300)])


class BrandForm(FlaskForm):
    company = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)])
    contacts = StringField(_l("Failure-notice contacts (e-mail, comma separated)"),
                           validators=[Length(max=2000)])
    display_name = StringField(_l("Brand display name"), validators=[Length(max=200)])
    logo_url = StringField(_l("Logo URL"), validators=[Length(max=500)])
    primary_color = StringField(_l("Primary colour"), validators=[DataRequired(),
                                                                  Length(max=7)])
    accent_color = StringField(_l("Accent colour"), validators=[DataRequired(),
                                                                Length(max=7)])
    locale = SelectField(_l("Language of your customers' panel"),
                         choices=[C("ja", "日本語"), C("en", "English")])


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)])
