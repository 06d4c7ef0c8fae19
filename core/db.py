"""Database access: pooled engine, transactions with SET LOCAL timeouts, single-statement autocommit calls for
the hot path, SQLSTATE → GatewayError in one place."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2.extensions
from flask import current_app
from sqlalchemy import create_engine, event, exc, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from core import errors

log = logging.getLogger(__name__)

# Custom SQLSTATEs raised by sql/ (RAISE ... USING ERRCODE = 'MP404'): the last three digits are the HTTP status.
_CUSTOM_PREFIX = "MP"
_SQLSTATE_ERRORS: dict[str, type[errors.GatewayError]] = {
    "23505": errors.Conflict,  # unique_violation
    "23503": errors.InvalidField,  # foreign_key_violation
    "23514": errors.InvalidField,  # check_violation
    "23502": errors.InvalidField,  # not_null_violation
    "22P02": errors.InvalidField,  # invalid_text_representation
    "22023": errors.InvalidField,  # invalid_parameter_value
    "22007": errors.InvalidField,  # invalid_datetime_format
    "22008": errors.InvalidField,  # datetime_field_overflow
    "22003": errors.InvalidField,  # numeric_value_out_of_range
    "57014": errors.UpstreamTimeout,  # query_canceled (statement_timeout)
}
# untranslatable_character (\u0000 in jsonb/text), character_not_in_repertoire
_UNSTORABLE_TEXT = frozenset({"22P05", "22021"})


# A pooled connection idle longer than this is pinged on checkout; a busy one is not. Under load connections
# come back within milliseconds (LIFO pool), so the hot path never pays the ping; a quiet gateway pays one round
# trip per request, when it has time for it, and gets a fresh connection after a database restart.
PING_AFTER_IDLE_S = 1.0


def make_engine(url: str, pool_size: int = 10, statement_timeout_ms: int = 0) -> Engine:
    """An engine whose connections start with a pinned search_path and statement_timeout, set once at
    connect (no per-transaction SET round trip). Behind PgBouncer, set both on the role instead."""
    if not url:
        raise RuntimeError("DATABASE_URL is not set: `make run` starts a local PostgreSQL and sets it for you")
    options = "-c search_path=gateway,public"
    if statement_timeout_ms:
        options += f" -c statement_timeout={int(statement_timeout_ms)}"
    eng = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_use_lifo=True,  # reuse the warmest connection: it needs no ping, and idle ones can age out
        pool_recycle=1800,
        # connect_timeout 2 s (libpq's minimum): an unreachable database answers 503 quickly, never a hang.
        connect_args={"options": options, "connect_timeout": 2},
        json_serializer=as_json,  # json/jsonb columns written through models.py take dates and decimals too
    )
    event.listen(eng, "connect", _mark_used)
    event.listen(eng, "checkout", _ping_if_idle)
    event.listen(eng, "checkin", _mark_used)
    return eng


def _mark_used(dbapi_conn: Any, record: Any) -> None:
    record.info["used_at"] = time.monotonic()


def _ping_if_idle(dbapi_conn: Any, record: Any, proxy: Any) -> None:
    # pool_pre_ping costs a round trip on every checkout; a connection used in the last second is almost
    # surely alive, and if not, the failing statement invalidates the pool and answers 503 once.
    if time.monotonic() - record.info.get("used_at", 0.0) < PING_AFTER_IDLE_S:
        return
    try:
        dbapi_conn.autocommit = True  # a bare SELECT 1: no BEGIN/ROLLBACK around it
        with dbapi_conn.cursor() as cur:
            cur.execute("SELECT 1")
        dbapi_conn.autocommit = False
    except Exception as err:  # noqa: BLE001 - any failure means: replace this connection
        raise exc.DisconnectionError() from err


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def translate(exc: DBAPIError) -> errors.GatewayError:
    """Map a driver error to the GatewayError the caller should see (the single SQLSTATE mapping point)."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "pgcode", None)
    diag = getattr(orig, "diag", None)
    message = (getattr(diag, "message_primary", None) or str(orig or exc)).strip()
    hint = getattr(diag, "message_hint", None)
    if code and code.startswith(_CUSTOM_PREFIX) and code[2:].isdigit():
        return errors.GatewayError(message, http_status=int(code[2:]), hint=hint)
    if code in _SQLSTATE_ERRORS:
        cls = _SQLSTATE_ERRORS[code]
        if cls is errors.Conflict:
            detail = getattr(diag, "message_detail", None) or message
            return errors.Conflict(f"already exists: {detail}")
        if cls is errors.UpstreamTimeout:
            return errors.UpstreamTimeout("the database statement timed out; retry later")
        return cls(message, hint=hint)
    if isinstance(exc, OperationalError) or code is None or code.startswith("08"):
        return errors.DatabaseUnavailable("database unavailable; retry in a few seconds")
    if code in _UNSTORABLE_TEXT:
        return errors.InvalidField(
            "the request holds text the database cannot store (U+0000 or an invalid character): remove it"
        )
    # Never echo the database's own message to the caller: it can name tables, columns and values.
    log.error("unmapped database error %s: %s", code, message)
    return errors.GatewayError(
        "Internal error: the gateway logged it; retry later or contact support.", http_status=500
    )


@contextmanager
def _translated() -> Iterator[None]:
    """Driver errors become the GatewayError the caller should see (translate), for every way in."""
    try:
        yield
    except DBAPIError as exc:
        raise translate(exc) from exc
    except ValueError as exc:
        # psycopg2 refuses NUL in a bound string before sending it (a header, path or field from the caller).
        if "NUL (0x00)" not in str(exc):
            raise
        raise errors.InvalidField(
            "the request holds a NUL character (\\x00) in a header, the URL or a field: remove it"
        ) from exc


@contextmanager
def transaction(eng: Engine | None = None, timeout_ms: int | None = None) -> Iterator[Connection]:
    """One committed transaction; SET LOCAL keeps the timeout inside it (safe behind PgBouncer)."""
    eng = eng or engine()
    with _translated(), eng.begin() as conn:
        if timeout_ms:
            conn.execute(text("SELECT set_config('statement_timeout', :t, true)"), {"t": f"{int(timeout_ms)}ms"})
        yield conn


@contextmanager
def autocommit(eng: Engine | None = None) -> Iterator[Connection]:
    """A connection where each statement is its own transaction: no BEGIN or COMMIT round trips. For the
    hot path, whose every step is one gateway.* function call (statement_timeout comes from the session)."""
    eng = eng or engine()
    with _translated(), eng.connect() as conn, _driver_autocommit(conn.connection.dbapi_connection):
        yield conn


@contextmanager
def _driver_autocommit(raw: Any) -> Iterator[None]:
    """psycopg2's own autocommit flag on a pooled connection for the duration, not SQLAlchemy's isolation_level
    option: that one sends a `SET default_transaction_isolation` round trip when the connection goes back."""
    if raw.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        raw.rollback()  # never expected; but a leftover transaction must not swallow our statement
    raw.autocommit = True
    try:
        yield
    finally:
        if not raw.closed:
            raw.autocommit = False  # nothing is open, so the pool's reset-on-return sends nothing


def call_json(conn: Connection, sql: str, params: dict[str, Any] | None = None) -> Any:
    """Run a statement returning one json/jsonb value and give it back as Python data."""
    value = conn.execute(text(sql), params or {}).scalar()
    if isinstance(value, str):
        return json.loads(value)
    return value


def call_hot(sql: str, params: dict[str, Any], eng: Engine | None = None) -> Any:
    """One statement of the payment hot path, its own transaction (autocommit), returning one json value.

    Written in the driver's `%(name)s` style and run on the pooled DBAPI connection itself: no SQLAlchemy
    Connection, text() compile or result object per call (together about a tenth of a worker's CPU per
    payment). Everything else is as for any statement: the pool's checkout ping, SQLSTATEs translated by
    `translate`, and a connection the dialect calls disconnected is invalidated, not returned to the pool."""
    eng = eng or engine()
    with _translated():  # driver errors and NUL characters become GatewayErrors, as for every statement
        try:
            raw = eng.raw_connection()
        except psycopg2.Error as err:  # Engine.raw_connection does not wrap a failed connect, as connect() does
            raise DBAPIError.instance(None, None, err, psycopg2.Error) from err
        conn = raw.dbapi_connection
        try:
            with _driver_autocommit(conn), conn.cursor() as cur:
                cur.execute(sql, params)
                value = cur.fetchone()[0]
        except psycopg2.Error as err:
            if eng.dialect.is_disconnect(err, conn, None):
                raw.invalidate(err)
            raise DBAPIError.instance(sql, params, err, psycopg2.Error) from err
        finally:
            raw.close()  # back to the pool (or discarded, when invalidated)
    return json.loads(value) if isinstance(value, str) else value


def as_json(value: Any) -> str:
    """Serialise for a json/jsonb bound parameter."""
    return json.dumps(value, separators=(",", ":"), default=str)
