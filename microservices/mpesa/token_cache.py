"""Daraja OAuth tokens cached once per credential set.

Each new Daraja token invalidates the previous one for that app (docs/protocols/daraja.md §1), so every adapter
instance must share one token and only one of them may fetch at a time. PostgresTokenCache does that with a row in
gateway.daraja_tokens (encrypted) and a transaction-scoped advisory lock. MemoryTokenCache is for a single dev
process only: two processes with it would knock out each other's tokens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import psycopg2
from psycopg2.pool import ThreadedConnectionPool

from core.crypto import SecretBox
from microservices.mpesa.errors import MpesaError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FreshToken:
    access_token: str = field(repr=False)
    expires_in: int  # seconds from now


Fetch = Callable[[], FreshToken]


class TokenCache(Protocol):
    def get(self, key: str) -> str | None:
        """Return a token with more than the margin left, or None."""

    def refresh(self, key: str, fetch: Fetch, stale: str | None) -> str:
        """Return a usable token other than `stale`, calling `fetch` only if no other caller refreshed already."""

    def close(self) -> None: ...


class MemoryTokenCache:
    """Per-process cache; single-instance development only."""

    def __init__(self, margin_s: float = 60) -> None:
        self._margin_s = margin_s
        self._tokens: dict[str, tuple[str, float]] = {}  # key -> (token, monotonic expiry)
        self._guard = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def get(self, key: str) -> str | None:
        with self._guard:
            entry = self._tokens.get(key)
        if entry is None or entry[1] - self._margin_s <= time.monotonic():
            return None
        return entry[0]

    def refresh(self, key: str, fetch: Fetch, stale: str | None) -> str:
        with self._guard:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            current = self.get(key)
            if current is not None and current != stale:
                return current
            fresh = fetch()
            with self._guard:
                self._tokens[key] = (fresh.access_token, time.monotonic() + fresh.expires_in)
            return fresh.access_token

    def close(self) -> None:
        pass


_SELECT = """
    SELECT access_token_enc FROM gateway.daraja_tokens
     WHERE cache_key = %s AND expires_at > now() + make_interval(secs => %s)
"""
_UPSERT = """
    INSERT INTO gateway.daraja_tokens (cache_key, access_token_enc, expires_at, updated_at)
    VALUES (%s, %s, now() + make_interval(secs => %s), now())
    ON CONFLICT (cache_key) DO UPDATE
       SET access_token_enc = EXCLUDED.access_token_enc, expires_at = EXCLUDED.expires_at, updated_at = now()
"""


class PostgresTokenCache:
    """Token cache shared by all instances through gateway.daraja_tokens; the token is stored encrypted."""

    def __init__(
        self, database_url: str, box: SecretBox, margin_s: float = 60, lock_wait_s: float = 45, max_connections: int = 4
    ) -> None:
        self._box = box
        self._margin_s = margin_s
        self._lock_wait_ms = int(lock_wait_s * 1000)
        # The pool opens connections lazily; the semaphore makes callers wait instead of getting PoolError.
        self._pool = ThreadedConnectionPool(0, max_connections, dsn=database_url, connect_timeout=5)
        self._slots = threading.BoundedSemaphore(max_connections)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        try:
            with self._slots:
                conn = self._pool.getconn()
                try:
                    with conn, conn.cursor() as cur:
                        yield cur
                finally:
                    self._pool.putconn(conn, close=bool(conn.closed))
        except psycopg2.Error as exc:
            hint = "run the migrations" if exc.pgcode == "42P01" else "check DATABASE_URL and that PostgreSQL is up"
            log.error("token cache unavailable", extra={"pgcode": exc.pgcode, "error_class": type(exc).__name__})
            raise MpesaError(503, f"the Daraja token cache (gateway.daraja_tokens) is unavailable: {hint}") from exc

    def _read(self, cur: psycopg2.extensions.cursor, key: str) -> str | None:
        cur.execute(_SELECT, (key, self._margin_s))
        row = cur.fetchone()
        if row is None:
            return None
        try:
            return self._box.decrypt(row[0])
        except ValueError:
            log.warning("cached Daraja token cannot be decrypted; fetching a new one", extra={"cache_key": key[:12]})
            return None

    def get(self, key: str) -> str | None:
        with self._transaction() as cur:
            return self._read(cur, key)

    def refresh(self, key: str, fetch: Fetch, stale: str | None) -> str:
        with self._transaction() as cur:
            # Held until commit, so a second instance waits here and then reuses our token instead of
            # fetching its own (which would invalidate ours).
            cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{self._lock_wait_ms}ms",))
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
            current = self._read(cur, key)
            if current is not None and current != stale:
                return current
            fresh = fetch()
            cur.execute(_UPSERT, (key, self._box.encrypt(fresh.access_token), fresh.expires_in))
            return fresh.access_token

    def close(self) -> None:
        self._pool.closeall()
