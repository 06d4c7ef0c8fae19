"""The public captive page's rules: which plans an ISP offers, who the subscriber is (a new hotspot customer by
phone, or a sign-in with username and password), the f-fields of their payment, how it is going, and the
MikroTik hotspot parameters it may hand back to the router.

The page pays through the ordinary pipeline as its ISP (routes/hotspot.py calls payment_processor), so the same
SQL decides what the money buys. Passwords are compared and generated here, never logged, never put in a URL.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from billing.catalogue import create_subscriber, phone_field
from core import amounts, db
from core.crypto import SecretBox
from core.errors import Conflict, InvalidField, NotAssigned, NotFound
from gateway import registry
from gateway.registry import Resolution
from models import Client, Subscriber

PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud from a phone screen
MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
ACTOR = {"id": None, "username": "captive-page"}


@dataclass(frozen=True)
class HotspotLogin:
    """What a MikroTik hotspot sends its external login page (none of it secret)."""

    mac: str | None
    ip: str | None
    link_login_only: str | None
    dst: str | None


def offer(conn: Connection, app_id: str, service_type: str | None = "hotspot") -> dict:
    """The ISP's name and active plans of that service type. :raise NotFound: unknown or inactive ISP."""
    found = db.call_json(conn, "SELECT billing.captive_offer(:a, :t)", {"a": app_id, "t": service_type})
    if found is None or not found["pay_service"]:
        raise NotFound("no such ISP: check the address of this page")
    return found


def sign_in(conn: Connection, box: SecretBox, app_id: str, username: str, password: str) -> dict | None:
    """The subscriber when the password matches (never a removed one), else None."""
    query = (
        select(Subscriber.username, Subscriber.password_enc, Subscriber.status)
        .join(Client, Client.id == Subscriber.client_id)
        .where(Client.app_id == app_id, Subscriber.username == username[:64])
    )
    row = conn.execute(query).mappings().first()
    stored = box.decrypt(row["password_enc"]) if row else secrets.token_hex(8)
    if row is None or row["status"] == "removed" or not hmac.compare_digest(stored.encode(), password.encode()):
        return None
    return {"username": row["username"]}


def stored_password(conn: Connection, box: SecretBox, app_id: str, username: str) -> str | None:
    """A hotspot subscriber's password in clear, for the device sign-in form posted to the router only (None for
    a PPPoE account: the hotspot would refuse it)."""
    enc = conn.execute(
        select(Subscriber.password_enc)
        .join(Client, Client.id == Subscriber.client_id)
        .where(Client.app_id == app_id, Subscriber.username == username, Subscriber.service_type == "hotspot")
    ).scalar()
    return box.decrypt(enc) if enc else None


def new_customer(conn: Connection, app_id: str, client_id: int, phone_text: str) -> tuple[str, str]:
    """Create a hotspot account for a new phone: (username, password); the password is shown once.

    :raise InvalidField: not a mobile number. :raise Conflict: the number already has an account (sign in instead).
    """
    phone = phone_field({"phone": phone_text})
    if phone is None:
        raise InvalidField("enter your M-Pesa phone number, e.g. 0712345678")
    if db.call_json(conn, "SELECT billing.subscriber_by_phone(:c, :p)", {"c": client_id, "p": phone}):
        raise Conflict("this number already has an account: sign in with its username and password to renew")
    password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(8))
    create_subscriber(conn, app_id, {"username": phone, "password": password, "phone": phone,
                                     "service_type": "hotspot"}, ACTOR)  # fmt: skip
    return phone, password


def pay_route(conn: Connection, app_id: str, pay_service: str) -> Resolution:
    """The ISP's pay route as the pipeline needs it. :raise NotAssigned: the ISP cannot take payments now."""
    res = registry.resolve(conn, app_id, None, pay_service, "pay")
    if res is None or res.status != "active" or not res.assignment_active or not res.registry_id:
        raise NotAssigned("this ISP cannot take payments right now; try again later")
    return res


def payment_fields(app_id: str, pay_service: str, plan: dict, username: str, phone: str, f010: str) -> dict:
    """The f-fields of one plan payment (amount = the plan's price, in whole shillings as M-Pesa takes)."""
    try:
        amounts.parse_amount(plan["price"], "price", max_digits=10)
    except InvalidField as exc:
        raise InvalidField("this plan has no valid price") from exc
    return {"f000": pay_service, "f001": plan["code"], "f002": "pay", "f003": app_id, "f004": plan["price"],
            "f005": phone, "f006": username, "f010": f010}  # fmt: skip


def renewal_effect(conn: Connection, client_id: int, username: str, plan_code: str) -> str:
    """What paying for this plan would do now, in words (extends / replaces at once / starts)."""
    return conn.execute(
        text(
            "SELECT billing.renewal_effect(:c, s.id, :p)->>'message' FROM billing.subscribers s "
            "WHERE s.client_id = :c AND s.username = :u"
        ),
        {"c": client_id, "p": plan_code, "u": username},
    ).scalar()


def progress(conn: Connection, client_id: int, f010: str) -> dict | None:
    """{stage: paying|switching_on|connected|router_failed|failed, message, username, ends_at}, or None."""
    return db.call_json(conn, "SELECT billing.captive_progress(:c, :f)", {"c": client_id, "f": f010})


def hotspot_login(values: dict, allowed_hosts: tuple[str, ...]) -> HotspotLogin:
    """The hotspot's parameters, each kept only when well-formed. link-login-only must point at a router: a
    private or loopback address, or a host the operator allowed (HOTSPOT_LOGIN_HOSTS), so a crafted link can
    never make the page post a subscriber's password to someone else's server."""
    mac = values.get("mac") if MAC_RE.match(values.get("mac") or "") else None
    ip = values.get("ip") if _is_ip(values.get("ip")) else None
    link = values.get("link-login-only") or values.get("link-login") or None
    dst = values.get("dst") or None
    return HotspotLogin(mac, ip, link if link and _router_url(link, allowed_hosts) else None,
                        dst if dst and _http_url(dst) else None)  # fmt: skip


def _is_ip(value: str | None) -> bool:
    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return False
    return True


def _http_url(value: str) -> bool:
    parts = urlsplit(value)
    return len(value) <= 2000 and parts.scheme in ("http", "https") and bool(parts.hostname)


def _router_url(value: str, allowed_hosts: tuple[str, ...]) -> bool:
    if not _http_url(value):
        return False
    host = urlsplit(value).hostname or ""
    if host in allowed_hosts:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address in ipaddress.ip_network("100.64.0.0/10")
