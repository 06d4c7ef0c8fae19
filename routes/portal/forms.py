"""Flask-WTF forms of the portal and their conversion to the service layer's dicts. The forms check
shape (required, length, pattern) for a quick answer; the service layer checks again and its messages
are attached to the field they name."""

from __future__ import annotations

import json
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, Regexp

from admin import clients, services, users
from core.errors import InvalidField
from core.filters import date_range
from core.names import NAME_HELP, NAME_PATTERN
from gateway.fields import FIELD_NAMES

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
FIELD_LABELS = {
    "f000": "service name",
    "f001": "category label",
    "f002": "route",
    "f003": "App ID",
    "f004": "amount",
    "f005": "mobile number",
    "f006": "username",
    "f007": "encrypted password",
    "f008": "password",
    "f009": "device id",
    "f010": "unique id",
}


URL_PATTERN = r"^https?://[^\s/?#]+(/\S*)?$"  # the service layer's rule (validation.URL_RE)
URL_HELP = "enter an http(s) URL such as https://example.com/hook"


def _optional_url() -> list:
    return [Optional(), Regexp(URL_PATTERN, message=URL_HELP)]


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class CodeForm(FlaskForm):
    code = StringField(
        "6-digit code",
        validators=[
            DataRequired(),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="type the 6 digits your authenticator app shows"),
        ],
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired(),
            Length(min=10, max=256, message="use at least 10 characters"),
        ],
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired(),
            EqualTo("new_password", message="the two new passwords differ"),
        ],
    )


class ClientEditForm(FlaskForm):
    company_name = StringField("Company name", validators=[DataRequired(), Length(max=200)])
    email = StringField(
        "Email",
        validators=[
            DataRequired(),
            Regexp(EMAIL_PATTERN, message="enter an email address such as ops@example.com"),
        ],
    )
    phone = StringField("Phone", validators=[Optional(), Length(max=32)])
    contact_person = StringField("Contact person", validators=[Optional(), Length(max=200)])
    callback_url = StringField(
        "Webhook URL",
        validators=_optional_url(),
        description="Where final transaction states are POSTed (signed with the webhook "
        "secret). Leave empty for no webhooks.",
    )
    rate_limit = StringField(
        "Rate limit",
        validators=[Optional(), Length(max=40)],
        description="Requests per second, minute, hour or day, e.g. 1200/minute. Empty: the gateway default.",
    )
    monthly_quota = StringField(
        "Monthly transaction quota",
        validators=[Optional(), Regexp(r"^\d{1,10}$", message="a whole number of transactions, e.g. 100000")],
        description="New payments per calendar month (UTC). Empty: no quota.",
    )


class ClientForm(ClientEditForm):
    app_id = StringField(
        "App ID",
        validators=[DataRequired(), Regexp(NAME_PATTERN, message=NAME_HELP)],
        description=f"The merchant's App-ID header: {NAME_HELP}.",
    )


class MpesaForm(FlaskForm):
    """Daraja credentials. Secret fields are write-only: never filled back in, stored encrypted."""

    environment = SelectField(
        "Environment", choices=[("sandbox", "Sandbox"), ("production", "Production"), ("custom", "Custom base URL")]
    )
    base_url = StringField(
        "Custom base URL",
        validators=_optional_url(),
        description="Only for the custom environment, e.g. a Daraja simulator.",
    )
    consumer_key = PasswordField("Consumer key", validators=[DataRequired()])
    consumer_secret = PasswordField("Consumer secret", validators=[DataRequired()])
    shortcode = StringField(
        "Shortcode",
        validators=[
            DataRequired(),
            Regexp(r"^\d{5,7}$", message="5–7 digits: the paybill, or the store number of a till"),
        ],
    )
    passkey = PasswordField("Passkey", validators=[DataRequired()])
    transaction_type = SelectField("Transaction type", choices=[(t, t) for t in clients.MPESA_TYPES])
    party_b = StringField("PartyB (till number)", validators=[Optional(), Regexp(r"^\d{5,7}$", message="5–7 digits")])


class RouterForm(FlaskForm):
    """The client's MikroTik API login. The password is write-only."""

    host = StringField("Host", validators=[DataRequired(), Length(max=253)])
    port = IntegerField("Port", default=8728, validators=[DataRequired(), NumberRange(1, 65535)])
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])
    tls = BooleanField("Use TLS (api-ssl, usually port 8729)")


class AssignServiceForm(FlaskForm):
    service = SelectField("Service", choices=[], validators=[DataRequired(message="choose a service")])


class AssignClientForm(FlaskForm):
    app_id = StringField("Client App ID", validators=[DataRequired(), Regexp(NAME_PATTERN, message=NAME_HELP)])


class FieldRuleForm(Form):
    """One f-field's rule inside ServiceForm (a plain Form: the outer form carries the CSRF token)."""

    field = HiddenField()
    used = BooleanField("used")
    required = BooleanField("required")
    pattern = StringField("pattern", validators=[Optional(), Length(max=200)])
    max_length = IntegerField("max length", validators=[Optional(), NumberRange(min=1, max=1024)])


class ServiceForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(), Regexp(NAME_PATTERN, message=NAME_HELP)],
        description="The f000 value merchants send.",
    )
    display_name = StringField("Display name", validators=[DataRequired(), Length(max=200)])
    kind = SelectField(
        "Kind",
        choices=[(k, k) for k in services.KINDS],
        description="The template the client functions are generated from.",
    )
    base_url = StringField(
        "Base URL",
        validators=[DataRequired(), Regexp(URL_PATTERN, message=URL_HELP)],
        description="The microservice the functions call, e.g. http://127.0.0.1:5101.",
    )
    routes = StringField(
        "Routes",
        validators=[DataRequired()],
        description="f002 values, separated by commas, e.g. pay, status. Routes are never removed once created.",
    )
    timeout_s = StringField("Timeout (seconds)", default="10", validators=[DataRequired()])
    settings = TextAreaField("Settings (JSON object)", default="{}", validators=[Optional()])
    active = BooleanField("Active", default=True)
    fields = FieldList(FormField(FieldRuleForm), min_entries=len(FIELD_NAMES), max_entries=len(FIELD_NAMES))

    def fill_rules(self, rules: list[dict]) -> None:
        """Show one row per f-field, ticking the ones the service defines."""
        by_field = {r["field"]: r for r in rules}
        while len(self.fields.entries):
            self.fields.pop_entry()
        for name in FIELD_NAMES:
            rule = by_field.get(name)
            self.fields.append_entry(
                {
                    "field": name,
                    "used": rule is not None,
                    "required": bool(rule and rule["required"]),
                    "pattern": (rule or {}).get("pattern") or "",
                    "max_length": (rule or {}).get("max_length"),
                }
            )


class UserCreateForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[
            DataRequired(),
            Regexp(r"^[A-Za-z0-9_.@-]{3,64}$", message="3–64 letters, digits, or _ . @ -"),
        ],
    )
    role = SelectField("Role", choices=[(r, r) for r in users.ROLES], default="viewer")
    password = PasswordField(
        "Password",
        validators=[Optional(), Length(min=10, max=256, message="use at least 10 characters")],
        description="Leave empty to generate one; the user must change it at first sign-in.",
    )
    totp_required = BooleanField("Require two-factor sign-in")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[(r, r) for r in users.ROLES])


class ClientUserForm(FlaskForm):
    """A client's new user: the password is always generated (shown once, changed at first sign-in)."""

    username = StringField(
        "Username",
        validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_.@-]{3,64}$", message="3–64 letters, digits, or _ . @ -")],
    )
    role = SelectField(
        "Role",
        choices=[
            ("user", "user — read only"),
            ("manager", "manager — transactions, webhooks, ISP billing"),
            ("org_admin", "org admin — also credentials and users"),
        ],
        default="user",
    )
    email = StringField("Email", validators=[Optional(), Length(max=254)], description="Optional, for your records.")


def client_data(form: ClientEditForm) -> dict:
    data = {
        k: (getattr(form, k).data or "").strip()
        for k in ("company_name", "email", "phone", "contact_person", "callback_url")
    }
    if isinstance(form, ClientForm):
        data["app_id"] = (form.app_id.data or "").strip()
    else:  # limits are set on an existing client (empty clears them)
        data["rate_limit"] = (form.rate_limit.data or "").strip() or None
        data["monthly_quota"] = (form.monthly_quota.data or "").strip() or None
    # Empty optional fields are cleared (None), not stored as "".
    return {k: (v or None) if k in ("phone", "contact_person", "callback_url") else v for k, v in data.items()}


def mpesa_data(form: MpesaForm) -> dict:
    data = {
        k: (getattr(form, k).data or "").strip()
        for k in (
            "environment",
            "consumer_key",
            "consumer_secret",
            "shortcode",
            "passkey",
            "transaction_type",
            "party_b",
            "base_url",
        )
    }
    return {k: v for k, v in data.items() if v}


def router_data(form: RouterForm) -> dict:
    return {
        "host": (form.host.data or "").strip(),
        "port": form.port.data,
        "username": form.username.data,
        "password": form.password.data,
        "tls": bool(form.tls.data),
    }


def service_data(form: ServiceForm, *, include_name: bool = True) -> dict:
    """The service layer's dict; raises InvalidField for a timeout or settings that do not parse."""
    try:
        timeout = float((form.timeout_s.data or "").strip())
    except ValueError as exc:
        raise InvalidField("timeout_s must be a number of seconds, e.g. 10 or 2.5") from exc
    raw_settings = (form.settings.data or "").strip() or "{}"
    try:
        settings = json.loads(raw_settings)
    except ValueError as exc:
        raise InvalidField(f"settings must be a JSON object: {exc}") from exc
    rules = []
    for entry in form.fields.entries:
        rule = entry.form
        if rule.field.data not in FIELD_NAMES or not (rule.used.data or rule.required.data or rule.pattern.data):
            continue
        rules.append(
            {
                "field": rule.field.data,
                "required": bool(rule.required.data),
                "pattern": (rule.pattern.data or "").strip() or None,
                "max_length": rule.max_length.data,
            }
        )
    data: dict[str, Any] = {
        "display_name": (form.display_name.data or "").strip(),
        "base_url": (form.base_url.data or "").strip(),
        "routes": [r.strip().lower() for r in (form.routes.data or "").split(",") if r.strip()],
        "timeout_s": timeout,
        "settings": settings,
        "fields": rules,
    }
    if include_name:
        data["name"] = (form.name.data or "").strip()
        data["kind"] = form.kind.data
    else:
        data["active"] = bool(form.active.data)
    return data


def service_form_data(service: dict) -> dict:
    """Form values of an existing service (for the edit page)."""
    return {
        "name": service["name"],
        "display_name": service["display_name"],
        "kind": service["kind"],
        "base_url": service["base_url"],
        "routes": ", ".join(service["routes"]),
        "timeout_s": f"{service['timeout_s']:g}",
        "settings": json.dumps(service["settings"] or {}, indent=2),
        "active": service["active"],
    }


def attach_error(form: FlaskForm, message: str) -> None:
    """Put a service-layer message under the field it names (it starts with the field's name), else on top."""
    first = message.split(" ", 1)[0].split(".", 1)[0].strip(":,")
    field = form._fields.get(first) if first else None
    if field is not None and not isinstance(field, FieldList) and isinstance(field.errors, list):
        field.errors.append(message)
    else:
        form.form_errors.append(message)


def check_dates(filters: dict) -> None:
    """date_from / date_to filters must be ISO dates in order; say so instead of letting the database complain."""
    date_range(filters)
