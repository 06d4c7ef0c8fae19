"""f000–f010: parsing, normalising (amount, MSISDN) and the per-service field rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core import amounts
from core.errors import InvalidField
from core.names import NAME_MAX_LENGTH, is_name

FIELD_NAMES = tuple(f"f{i:03d}" for i in range(11))
ALWAYS_REQUIRED = ("f000", "f002", "f003", "f010")
SECRET_FIELDS = ("f007", "f008")
F010_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_FIELD_LENGTH = 1024


@dataclass(frozen=True)
class PaymentFields:
    """Validated request fields; `values` still holds f007/f008 (never persist it as is)."""

    values: dict[str, str]
    service: str
    route: str
    amount: Decimal | None
    msisdn: str | None

    @property
    def secrets(self) -> list[str]:
        return [self.values[f] for f in SECRET_FIELDS if self.values.get(f)]

    def masked(self) -> dict[str, str]:
        return {k: ("****" if k in SECRET_FIELDS and v else v) for k, v in self.values.items()}


def parse_body(body: Any) -> dict[str, str]:
    """Check the JSON body is an object of string f-fields. Raises InvalidField naming the problem."""
    if not isinstance(body, dict):
        raise InvalidField('the body must be a JSON object of string fields f000–f010, e.g. {"f000": "mpesa"}')
    unknown = sorted(k for k in body if k not in FIELD_NAMES)
    if unknown:
        raise InvalidField(f"unknown field(s) {', '.join(unknown)[:200]}: only f000–f010 are accepted")
    for key, value in body.items():
        if not isinstance(value, str):
            raise InvalidField(f'{key} must be a string (got {type(value).__name__}); send numbers as "100.00"')
        if len(value) > MAX_FIELD_LENGTH:
            raise InvalidField(f"{key} is longer than {MAX_FIELD_LENGTH} characters")
    return {k: v.strip() if k not in SECRET_FIELDS else v for k, v in body.items()}


def route_names(values: dict[str, str]) -> tuple[str, str]:
    """(service, route) from f000/f002, lower-cased; malformed names are a 400, never a lookup."""
    for key, label in (("f000", "service name"), ("f002", "route")):
        if not values.get(key):
            raise InvalidField(f"{key} ({label}) is required")
        if not is_name(values[key].lower()):
            raise InvalidField(
                f"{key} ({label}) must be letters and digits, starting with a letter, "
                f"at most {NAME_MAX_LENGTH} characters"
            )
    return values["f000"].lower(), values["f002"].lower()


def normalise_msisdn(raw: str) -> str:
    """2547XXXXXXXX / 2541XXXXXXXX from 07…, 01…, 7…, 1…, +254…, 254… (spaces and dashes ignored).
    Other international numbers of 10–15 digits pass unchanged."""
    digits = re.sub(r"[\s-]", "", raw)
    digits = digits[1:] if digits.startswith("+") else digits
    if re.fullmatch(r"0[17]\d{8}", digits):
        return "254" + digits[1:]
    if re.fullmatch(r"[17]\d{8}", digits):
        return "254" + digits
    if re.fullmatch(r"254[17]\d{8}", digits):
        return digits
    if re.fullmatch(r"[1-9]\d{9,14}", digits) and not digits.startswith("254"):
        return digits
    raise InvalidField("f005 must be a mobile number such as 0712345678 or 254712345678")


def parse_amount(raw: str) -> Decimal:
    return amounts.parse_amount(raw, "f004")


def validate(values: dict[str, str], rules: list[dict], app_id: str) -> PaymentFields:
    """Apply the always-required fields, the service's rules and the normalisations."""
    service, route = route_names(values)
    for key in ALWAYS_REQUIRED:
        if not values.get(key):
            raise InvalidField(f"{key} is required")
    if values["f003"] != app_id:
        raise InvalidField(f"f003 must equal your App ID ({app_id}); it is {values['f003'][:40]!r}")
    if not F010_RE.match(values["f010"]):
        raise InvalidField("f010 must be 1–64 characters of letters, digits, '.', '_', ':' or '-'")
    for rule in rules:
        key, value = rule["field"], values.get(rule["field"], "")
        if rule.get("required") and not value:
            raise InvalidField(f"{key} is required for this service")
        if value and rule.get("max_length") and len(value) > rule["max_length"]:
            raise InvalidField(f"{key} must be at most {rule['max_length']} characters")
        if value and rule.get("pattern") and not re.fullmatch(rule["pattern"], value):
            shown = "****" if key in SECRET_FIELDS else value[:40]
            raise InvalidField(f"{key} {shown!r} does not match the required pattern {rule['pattern']}")
    normalised = dict(values)
    normalised["f000"], normalised["f002"] = service, route
    amount = parse_amount(values["f004"]) if values.get("f004") else None
    msisdn = normalise_msisdn(values["f005"]) if values.get("f005") else None
    if msisdn:
        normalised["f005"] = msisdn
    return PaymentFields(values=normalised, service=service, route=route, amount=amount, msisdn=msisdn)


def check_pattern(pattern: str) -> None:
    """Raise InvalidField when an admin-supplied field pattern is not a valid regular expression."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidField(f"pattern {pattern!r} is not a valid regular expression: {exc}") from exc
