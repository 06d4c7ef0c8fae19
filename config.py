"""Settings: the only module that reads os.environ. Dev-safe defaults; production refuses them."""

from __future__ import annotations

import os

# Values that are fine on a laptop and fatal in production.
DEV_SECRET_KEY = "dev-secret-key-change-me"
DEV_ENCRYPTION_KEY = "ZGV2LWVuY3J5cHRpb24ta2V5LWNoYW5nZS1tZS0xMjM="  # Fernet key, dev only
DEV_INTERNAL_TOKEN = "dev-internal-token"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {os.environ.get(name)!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Gateway settings, read once at app creation."""

    ENV = _env("GATEWAY_ENV", "development")  # development | production | testing
    # Master secret: the three keys below are derived from it (HKDF) unless configured on their own. At app
    # creation Flask's SECRET_KEY becomes SESSION_SECRET_KEY (sessions, CSRF), never the master itself.
    SECRET_KEY = _env("SECRET_KEY", DEV_SECRET_KEY)
    JWT_SECRET_KEY = _env("JWT_SECRET_KEY", "")  # signs client and admin Bearer tokens
    SESSION_SECRET_KEY = _env("SESSION_SECRET_KEY", "")  # signs portal session cookies and CSRF tokens
    HASH_KEY = _env("HASH_KEY", "")  # keys the HMACs of API secrets, callback tokens and payload hashes
    # Fernet key for secrets at rest (Daraja keys, router passwords, webhook secrets).
    ENCRYPTION_KEY = _env("ENCRYPTION_KEY", DEV_ENCRYPTION_KEY)
    # Shared token the gateway sends to its microservices (header X-Internal-Token).
    INTERNAL_TOKEN = _env("INTERNAL_TOKEN", DEV_INTERNAL_TOKEN)
    DATABASE_URL = _env("DATABASE_URL", "")  # the app's role (a member of mospay_gateway, not the owner)
    # The owner of the schema, for `flask migrate` and `flask app-role` only; empty = DATABASE_URL.
    MIGRATION_DATABASE_URL = _env("MIGRATION_DATABASE_URL", "")
    DB_POOL_SIZE = _env_int("DB_POOL_SIZE", 10)
    DB_STATEMENT_TIMEOUT_MS = _env_int("DB_STATEMENT_TIMEOUT_MS", 5000)
    # The function editor's lint uses plpgsql_check when the extension is installed; false keeps our own checks.
    PLPGSQL_CHECK = _env_bool("PLPGSQL_CHECK", True)
    # Public base URL of this gateway, used to build callback URLs handed to providers.
    PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    JWT_ISSUER = _env("JWT_ISSUER", "mospay-gateway")
    JWT_TTL_SECONDS = _env_int("JWT_TTL_SECONDS", 3600)
    MAX_CONTENT_LENGTH = _env_int("MAX_BODY_BYTES", 64 * 1024)
    MAX_CHAIN_DEPTH = _env_int("MAX_CHAIN_DEPTH", 5)
    SERVICE_RETRIES = _env_int("SERVICE_RETRIES", 1)  # extra tries for idempotent (GET) calls only
    # Empty: counted in PostgreSQL, shared by every worker and instance with no extra service. Or a `limits`
    # storage URI such as redis://host:6379 (memory:// is per process: tests only).
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "")
    # Per authenticated client unless the client has its own `rate_limit`. 6,000/minute = 100/s sustained
    # inside any minute: above a busy merchant's peak (a flash sale of ~50 payments/s plus their status polls),
    # far below what would let one client starve the others (docs/operations.md).
    RATELIMIT_DEFAULT = _env("RATELIMIT_DEFAULT", "6000/minute")
    # Requests that fail authentication (401), per source address.
    RATELIMIT_ANONYMOUS = _env("RATELIMIT_ANONYMOUS", "60/minute")
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    # Monthly partitions of api_logs and call_attempts: months kept (older ones are dropped by the worker)
    # and months created ahead.
    API_LOG_RETENTION_MONTHS = _env_int("API_LOG_RETENTION_MONTHS", 6)
    PARTITION_MONTHS_AHEAD = _env_int("PARTITION_MONTHS_AHEAD", 2)
    # Captive page (/hotspot/<app_id>): form posts per source address, and the router host names (besides
    # private and loopback addresses) its link-login-only may point at, comma-separated.
    HOTSPOT_RATE_LIMIT = _env("HOTSPOT_RATE_LIMIT", "10/minute;60/hour")
    HOTSPOT_LOGIN_HOSTS = tuple(h.strip() for h in _env("HOTSPOT_LOGIN_HOSTS", "").split(",") if h.strip())
    # M-Pesa
    STK_QUERY_AFTER_SECONDS = _env_int("STK_QUERY_AFTER_SECONDS", 60)
    STK_EXPIRE_AFTER_SECONDS = _env_int("STK_EXPIRE_AFTER_SECONDS", 300)
    # Hold "paid" callbacks until an STK query confirms them (per-service setting confirm_with_query overrides).
    STK_CONFIRM_WITH_QUERY = _env_bool("STK_CONFIRM_WITH_QUERY", ENV == "production")
    CALLBACK_IP_ALLOWLIST = _env("CALLBACK_IP_ALLOWLIST", "")  # comma-separated; empty = off
    # Hosts service base URLs may point at (names, addresses or CIDR networks, comma-separated); empty = any host
    # but link-local, metadata and unspecified addresses, which are always refused.
    SERVICE_HOST_ALLOWLIST = _env("SERVICE_HOST_ALLOWLIST", "")
    TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)
    # Webhooks
    WEBHOOK_TIMEOUT_S = _env_int("WEBHOOK_TIMEOUT_S", 10)
    WEBHOOK_MAX_ATTEMPTS = _env_int("WEBHOOK_MAX_ATTEMPTS", 8)
    WEBHOOK_BACKOFF_BASE_S = _env_int("WEBHOOK_BACKOFF_BASE_S", 30)
    # Microservices and simulators started by `make run`
    MPESA_SERVICE_URL = _env("MPESA_SERVICE_URL", "http://127.0.0.1:5101")
    ROUTER_SERVICE_URL = _env("ROUTER_SERVICE_URL", "http://127.0.0.1:5102")
    DARAJA_BASE_URL = _env("DARAJA_BASE_URL", "http://127.0.0.1:5201")
    RECONCILE_INTERVAL_S = _env_int("RECONCILE_INTERVAL_S", 20)  # between STK queries of one pending payment
    WORKER_POLL_S = _env_int("WORKER_POLL_S", 1)
    BILLING_DRIFT_INTERVAL_S = _env_int("BILLING_DRIFT_INTERVAL_S", 300)
    # Longer than any service timeout (≤ 120 s) plus a request's own work: older 'dispatched' rows are orphans.
    STALE_DISPATCH_S = _env_int("STALE_DISPATCH_S", 300)
    # Ports of the processes `make run` starts (read by their main()).
    MPESA_SERVICE_PORT = _env_int("MPESA_SERVICE_PORT", 5101)
    ROUTER_SERVICE_PORT = _env_int("ROUTER_SERVICE_PORT", 5102)
    ECHO_SERVICE_PORT = _env_int("ECHO_SERVICE_PORT", 5103)
    DARAJA_SIM_PORT = _env_int("DARAJA_SIM_PORT", 5201)
    ROUTEROS_SIM_PORT = _env_int("ROUTEROS_SIM_PORT", 8728)
    # Simulator strictness (docs/daraja-simulator.md, docs/routeros-simulator.md). 0: any well-formed timestamp.
    DARAJA_SIM_TIMESTAMP_WINDOW_S = _env_int("DARAJA_SIM_TIMESTAMP_WINDOW_S", 0)
    ROUTEROS_SIM_VERSION = _env("ROUTEROS_SIM_VERSION", "7.18")
    ROUTER_TIMEOUT_S = _env_int("ROUTER_TIMEOUT_S", 5)
    DARAJA_CONNECT_TIMEOUT_S = _env_int("DARAJA_CONNECT_TIMEOUT_S", 5)
    DARAJA_READ_TIMEOUT_S = _env_int("DARAJA_READ_TIMEOUT_S", 30)
    ECHO_SERVICE_URL = _env("ECHO_SERVICE_URL", "http://127.0.0.1:5103")
    # Portal
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", ENV == "production")
    WTF_CSRF_ENABLED = True
    LOGIN_MAX_FAILURES = _env_int("LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCKOUT_SECONDS = _env_int("LOGIN_LOCKOUT_SECONDS", 900)
    PORTAL_IDLE_SECONDS = _env_int("PORTAL_IDLE_SECONDS", 3600)
    PORTAL_MAX_SESSION_SECONDS = _env_int("PORTAL_MAX_SESSION_SECONDS", 12 * 3600)
    TESTING = False

    @classmethod
    def as_dict(cls) -> dict:
        return {k: getattr(cls, k) for k in dir(cls) if k.isupper()}


KEY_MIN_BYTES = 32
DERIVED_KEYS = ("JWT_SECRET_KEY", "SESSION_SECRET_KEY", "HASH_KEY")


def check_microservice_production(settings: dict, names: tuple[str, ...] = ("INTERNAL_TOKEN",)) -> None:
    """A microservice in production (GATEWAY_ENV) refuses the development INTERNAL_TOKEN / ENCRYPTION_KEY."""
    if settings.get("ENV", Config.ENV) != "production":
        return
    dev = {"INTERNAL_TOKEN": DEV_INTERNAL_TOKEN, "ENCRYPTION_KEY": DEV_ENCRYPTION_KEY}
    bad = [name for name in names if not settings.get(name) or settings.get(name) == dev.get(name)]
    if bad:
        raise RuntimeError(f"refusing to start in production with development or missing settings: {', '.join(bad)}")


def check_production(settings: dict) -> None:
    """Raise RuntimeError when production would run with a development default."""
    if settings.get("ENV") != "production":
        return
    bad = [
        name
        for name, dev in (
            ("SECRET_KEY", DEV_SECRET_KEY),
            ("ENCRYPTION_KEY", DEV_ENCRYPTION_KEY),
            ("INTERNAL_TOKEN", DEV_INTERNAL_TOKEN),
        )
        if settings.get(name) == dev
    ]
    if not settings.get("DATABASE_URL"):
        bad.append("DATABASE_URL")
    if bad:
        raise RuntimeError(
            "refusing to start in production with default or missing settings: "
            + ", ".join(bad)
            + ". Set them in the environment."
        )
    derived = any(not settings.get(k) for k in DERIVED_KEYS)
    keys = (["SECRET_KEY"] if derived else []) + [k for k in DERIVED_KEYS if settings.get(k)]
    short = [k for k in keys if len(str(settings.get(k) or "").encode()) < KEY_MIN_BYTES]
    if short:
        raise RuntimeError(
            f"refusing to start in production with keys shorter than {KEY_MIN_BYTES} bytes: {', '.join(short)}. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
