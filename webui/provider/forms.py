from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice as C
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class ResellerForm(FlaskForm):
    id = StringField(_l("Reseller ID"), validators=[DataRequired(), Length(max=64)])
    company = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)])
    contacts = StringField(_l("Failure-notice contacts (e-mail, comma separated)"),
                           validators=[Length(max=2000)])
    display_name = StringField(_l("Brand display name"), validators=[Length(max=200)])
    logo_url = StringField(_l("Logo URL"), validators=[Length(max=500)])
    primary_color = StringField(_l("Primary colour"), default="#0055aa",
                                validators=[DataRequired(), Length(max=7)])
    accent_color = StringField(_l("Accent colour"), default="#ff8800",
                               validators=[DataRequired(), Length(max=7)])
    panel_host = StringField(_l("Panel host name"), validators=[Length(max=253)])
    locale = SelectField(_l("Language of its panels"), choices=[C("ja", "日本語"),
                                                                 C("en", "English")])
    limit_tenants = IntegerField(_l("Max customers"), default=1000,
                                 validators=[InputRequired(), NumberRange(min=0)])
    limit_disk_mb = IntegerField(_l("Max total disk (MB)"), default=500000,
                                 validators=[InputRequired(), NumberRange(min=0)])
    oversell = BooleanField(_l("Overselling allowed"))


class NewResellerForm(ResellerForm):
    login = StringField(_l("First login ID"), default="admin",
                        validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password (empty: generate one)"),
                             validators=[Optional(), Length(max=128)])


class IssueLoginForm(FlaskForm):
    login = StringField(_l("Login ID"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Name"), validators=[Length(max=200)])
    password = PasswordField(_l("Password (empty: generate one)"),
                             validators=[Optional(), Length(max=128)])


class ProviderAdminForm(IssueLoginForm):
    pass
