"""librouteros client for subscriber accounts: ensure, suspend, kick and list, with router failures as RouterError.

Rules from docs/protocols/routeros.md §3-§4: one connection per request; after any error the connection is closed
and, when the work goes on, reopened (a timeout or a half-read reply leaves stale bytes on the socket); disabling an
account does not end its running session, so suspension also removes the active sessions.
"""

from __future__ import annotations

import functools
import logging
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import librouteros
from librouteros.api import Api, Path
from librouteros.exceptions import ConnectionClosed, FatalError, LibRouterosError, MultiTrapError, TrapError
from librouteros.query import Key

from microservices.http_face import ServiceError

log = logging.getLogger(__name__)

DUPLICATE_MESSAGES = ("secret with the same name already exists", "already have user with this name")
UNKNOWN_PROFILE = "input does not match any value of profile"
AMBIGUOUS_PROFILE = "ambiguous value of profile"
NO_SUCH_ITEM = "no such item"
ACCOUNT_FIELDS = (".id", "name", "profile", "disabled", "password", "service", "comment")
LISTING_FIELDS = (".id", "name", "profile", "disabled")


class RouterError(ServiceError):
    """A failure answered to the gateway: HTTP status and a message saying what to fix."""


@dataclass(frozen=True)
class Menus:
    """Where one service type keeps its accounts, sessions and profiles."""

    accounts: tuple[str, ...]
    sessions: tuple[str, ...]
    session_user: str  # the field of an active session that names the account
    profiles: tuple[str, ...]
    fixed: dict[str, str] = field(default_factory=dict)  # set on every account we create


MENUS = {
    "pppoe": Menus(("ppp", "secret"), ("ppp", "active"), "name", ("ppp", "profile"), {"service": "pppoe"}),
    "hotspot": Menus(
        ("ip", "hotspot", "user"), ("ip", "hotspot", "active"), "user", ("ip", "hotspot", "user", "profile")
    ),
}
SERVICE_TYPES = tuple(MENUS)
PPPOE_SERVICES = ("pppoe", "any")  # secrets that can dial PPPoE


@dataclass(frozen=True)
class RouterCredentials:
    """How to reach one router; the password never appears in repr or logs."""

    host: str
    username: str
    password: str = field(repr=False)
    port: int | None = None
    tls: bool = False
    tls_verify: bool = True
    tls_ca: str | None = field(default=None, repr=False)  # PEM, for a router with a self-signed certificate

    @property
    def address(self) -> str:
        return f"{self.host}:{self.effective_port}"

    @property
    def effective_port(self) -> int:
        return self.port or (8729 if self.tls else 8728)

    def masked(self) -> str:
        """``user:***@host:port`` for log lines."""
        return f"{self.username}:***@{self.address}{' tls' if self.tls else ''}"


class _PasswordMask(logging.Filter):
    """librouteros logs every API word at DEBUG, passwords included; mask them before any handler sees them."""

    PATTERN = re.compile(r"=(password|response)=.*", re.DOTALL)  # librouteros logs one word per record

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "=password=" in message or "=response=" in message:
            record.msg, record.args = self.PATTERN.sub(r"=\1=***", message), None
        return True


def install_log_masking() -> None:
    """Attach the password mask to librouteros' logger once."""
    logger = logging.getLogger("librouteros")
    if not any(isinstance(f, _PasswordMask) for f in logger.filters):
        logger.addFilter(_PasswordMask())


def _ssl_wrapper(creds: RouterCredentials) -> functools.partial | None:
    if not creds.tls:
        return None
    context = ssl.create_default_context(cadata=creds.tls_ca) if creds.tls_ca else ssl.create_default_context()
    if not creds.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return functools.partial(context.wrap_socket, server_hostname=creds.host)


def _translate(exc: Exception, creds: RouterCredentials, timeout: float, during_login: bool) -> RouterError:
    """The one map from a socket or librouteros failure to the answer for the gateway."""
    where = f"router {creds.address}"
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        return RouterError(504, f"{where} did not answer within {timeout:g}s: check that the API service is enabled "
                                "and not firewalled, or raise ROUTER_TIMEOUT_S")  # fmt: skip
    if isinstance(exc, ssl.SSLError):
        return RouterError(502, f"TLS with {where} failed: {exc}; check the router certificate or the tls settings")
    if isinstance(exc, TrapError) and during_login:
        return RouterError(502, f"{where} refused the login for user {creds.username!r} ({exc}): check the router "
                                "credentials stored for this router in the gateway")  # fmt: skip
    if isinstance(exc, TrapError | MultiTrapError):
        return RouterError(502, f"{where} refused the command: {exc}")
    if isinstance(exc, FatalError | ConnectionClosed):
        return RouterError(502, f"{where} closed the API connection ({exc}); retry, and check the router's log")
    if isinstance(exc, LibRouterosError):
        return RouterError(502, f"{where} sent a reply this adapter cannot read ({exc})")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return RouterError(502, f"{where} unreachable: {reason}; check the host, the port and that /ip service api is on")


class Connection:
    """One logged-in API connection, reopened after an error; always closed by ``open_connection``."""

    def __init__(self, creds: RouterCredentials, timeout: float) -> None:
        self.creds, self.timeout = creds, timeout
        self._api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            try:
                self._api = librouteros.connect(
                    self.creds.host,
                    self.creds.username,
                    self.creds.password,
                    port=self.creds.effective_port,
                    timeout=self.timeout,
                    ssl_wrapper=_ssl_wrapper(self.creds),
                )
            except (OSError, LibRouterosError) as exc:
                raise _translate(exc, self.creds, self.timeout, during_login=True) from exc
        return self._api

    def path(self, *parts: str) -> Path:
        return self.api.path(*parts)

    def close(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            try:
                api.close()
            except OSError:
                log.debug("closing the connection to %s failed", self.creds.address)


@contextmanager
def open_connection(creds: RouterCredentials, timeout: float) -> Iterator[Connection]:
    """Yield a lazily opened connection; close it on the way out; turn router failures into RouterError."""
    conn = Connection(creds, timeout)
    try:
        yield conn
    except (OSError, LibRouterosError) as exc:
        raise _translate(exc, creds, timeout, during_login=False) from exc
    finally:
        conn.close()


def _text(value: object) -> str:
    """librouteros casts "123" to 123 and "yes" to True; names and passwords are text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    profile: str
    disabled: bool
    password: str | None = field(default=None, repr=False)
    service: str | None = None
    comment: str | None = None

    @classmethod
    def from_row(cls, row: dict) -> Account:
        def opt(key: str) -> str | None:
            return _text(row[key]) if key in row else None

        return cls(_text(row[".id"]), _text(row.get("name", "")), _text(row.get("profile", "default")),
                   row.get("disabled") is True, opt("password"), opt("service"), opt("comment"))  # fmt: skip

    def to_dict(self) -> dict:
        return {"name": self.name, "profile": self.profile, "disabled": self.disabled, "id": self.id}


@dataclass(frozen=True)
class Outcome:
    result: str  # created | updated | unchanged | suspended | removed | absent
    id: str | None = None
    sessions_removed: int = 0


class SubscriberAccounts:
    """Account operations of one service type over one connection."""

    def __init__(self, conn: Connection, service_type: str) -> None:
        self.conn = conn
        self.menus = MENUS[service_type]
        self.service_type = service_type

    def find(self, username: str) -> list[Account]:
        query = self.conn.path(*self.menus.accounts).select(*map(Key, ACCOUNT_FIELDS))
        return [Account.from_row(row) for row in tuple(query.where(Key("name") == username))]

    def list_all(self) -> list[Account]:
        """Every account of this service type (for PPP: secrets that can dial PPPoE)."""
        query = self.conn.path(*self.menus.accounts).select(*map(Key, LISTING_FIELDS))
        if self.service_type == "pppoe":
            query = query.where(Key("service").In(*PPPOE_SERVICES))
        return [Account.from_row(row) for row in tuple(query)]

    def _no_profile(self, profile: str) -> RouterError:
        menu = "/" + "/".join(self.menus.profiles)
        return RouterError(400, f"profile {profile!r} does not exist on the router {self.conn.creds.address} "
                                f"({menu}): create it there or pick an existing one")  # fmt: skip

    def ensure(self, username: str, password: str | None, profile: str, comment: str | None) -> Outcome:
        """Create the account, or bring an existing one to this profile/password and enable it.

        :raise RouterError 400: the profile does not exist, or a new account has no password.
        """
        # An exact-name check first: the router itself would accept an unambiguous prefix ("10" for "10M").
        if not tuple(self.conn.path(*self.menus.profiles).select(Key("name")).where(Key("name") == profile)):
            raise self._no_profile(profile)
        try:
            return self._ensure(username, password, profile, comment)
        except TrapError as exc:
            if UNKNOWN_PROFILE in str(exc) or AMBIGUOUS_PROFILE in str(exc):  # removed since our check
                raise self._no_profile(profile) from exc
            raise

    def _ensure(self, username: str, password: str | None, profile: str, comment: str | None) -> Outcome:
        existing = self.find(username)
        if not existing:
            if password is None:
                raise RouterError(400, f"{username!r} does not exist on the router yet: send 'password' to create it")
            values = {"name": username, "password": password, "profile": profile, "disabled": False, **self.menus.fixed}
            if comment is not None:
                values["comment"] = comment
            try:
                return Outcome("created", self.conn.path(*self.menus.accounts).add(**values))
            except TrapError as exc:
                if not any(m in str(exc) for m in DUPLICATE_MESSAGES):
                    raise
                # Someone added it between our print and add: reconnect (stale-bytes rule) and update instead.
                self.conn.close()
                existing = self.find(username)
                if not existing:
                    raise
        return self._update(existing[0], password, profile, comment)

    def _update(self, account: Account, password: str | None, profile: str, comment: str | None) -> Outcome:
        changes: dict[str, str | bool] = {}
        if account.profile != profile:
            changes["profile"] = profile
        if password is not None and account.password != password:
            changes["password"] = password
        if comment is not None and account.comment != comment:
            changes["comment"] = comment
        if account.disabled:
            changes["disabled"] = False
        if self.menus.fixed.get("service") and account.service not in PPPOE_SERVICES:
            changes["service"] = self.menus.fixed["service"]
        if not changes:
            return Outcome("unchanged", account.id)
        self.conn.path(*self.menus.accounts).update(**{".id": account.id, **changes})
        # A running session keeps the speed it dialled with: drop it so the new profile applies on reconnect.
        removed = self.kick(account.name) if "profile" in changes else 0
        return Outcome("updated", account.id, removed)

    def remove(self, username: str) -> Outcome:
        """End the user's sessions and delete every account of that name."""
        removed = self.kick(username)
        accounts = self.find(username)
        if accounts:
            self.conn.path(*self.menus.accounts).remove(*[a.id for a in accounts])
        return Outcome("removed" if accounts else "absent", accounts[0].id if accounts else None, removed)

    def suspend(self, username: str) -> Outcome:
        """Disable every account of that name, then end its sessions (disabling alone leaves them running)."""
        accounts = self.find(username)
        enabled = [a.id for a in accounts if not a.disabled]
        if enabled:
            tuple(self.conn.path(*self.menus.accounts)("disable", **{".id": ",".join(enabled)}))
        removed = self.kick(username)
        result = "absent" if not accounts else "suspended" if enabled else "unchanged"
        return Outcome(result, accounts[0].id if accounts else None, removed)

    def kick(self, username: str) -> int:
        """Remove the user's active sessions; return how many were removed."""
        for _attempt in range(2):
            sessions = self.conn.path(*self.menus.sessions)
            query = sessions.select(Key(".id")).where(Key(self.menus.session_user) == username)
            ids = [_text(row[".id"]) for row in tuple(query)]
            if not ids:
                return 0
            try:
                sessions.remove(*ids)
                return len(ids)
            except TrapError as exc:
                if NO_SUCH_ITEM not in str(exc):
                    raise
                self.conn.close()  # a session ended by itself meanwhile: reconnect and list again
        raise RouterError(502, f"sessions of {username!r} kept changing on {self.conn.creds.address}; retry")
