"""SQLAlchemy 2.0 mapped classes for the gateway and billing schemas (tables are created by Alembic from sql/schema/;
tests/test_models.py checks these mappings against the migrated database). No business rules here."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, FetchedValue, ForeignKey, Integer, Interval, Numeric, SmallInteger, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSONB, str: Text, int: Integer}


class GatewayTable(Base):
    __abstract__ = True
    __table_args__ = {"schema": "gateway"}  # noqa: RUF012 - SQLAlchemy's declarative convention


def pk() -> Any:
    return mapped_column(BigInteger, primary_key=True)


def fk(target: str) -> Any:
    return mapped_column(BigInteger, ForeignKey(f"gateway.{target}"))


class User(GatewayTable):
    __tablename__ = "users"
    id: Mapped[int] = pk()
    username: Mapped[str]
    password_hash: Mapped[str]
    role: Mapped[str]
    active: Mapped[bool]
    must_change_password: Mapped[bool]
    totp_secret_enc: Mapped[str | None]
    totp_required: Mapped[bool]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_logins: Mapped[int]
    locked_until: Mapped[datetime | None]
    token_version: Mapped[int]
    last_login_at: Mapped[datetime | None]
    client_id: Mapped[int | None] = fk("clients.id")  # NULL: a gateway user; else the client's own user
    email: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Client(GatewayTable):
    __tablename__ = "clients"
    id: Mapped[int] = pk()
    app_id: Mapped[str]
    company_name: Mapped[str]
    email: Mapped[str]
    phone: Mapped[str | None]
    contact_person: Mapped[str | None]
    callback_url: Mapped[str | None]
    status: Mapped[str]
    credential_version: Mapped[int]
    webhook_secret_enc: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    rate_limit: Mapped[str | None]  # "1200/minute"; NULL = RATELIMIT_DEFAULT
    monthly_quota: Mapped[int | None]  # transactions per UTC month; NULL = no quota


class ClientCredential(GatewayTable):
    __tablename__ = "client_credentials"
    id: Mapped[int] = pk()
    client_id: Mapped[int] = fk("clients.id")
    api_username: Mapped[str]
    secret_hash: Mapped[str]
    secret_hint: Mapped[str]
    active: Mapped[bool]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Service(GatewayTable):
    __tablename__ = "services"
    id: Mapped[int] = pk()
    name: Mapped[str]
    display_name: Mapped[str]
    kind: Mapped[str]
    base_url: Mapped[str]
    timeout_s: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    settings: Mapped[dict[str, Any]]
    active: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Kept by a trigger on service_fields (migration 0100): the rules as authentication hands them out.
    field_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    rules_version: Mapped[str]


class ServiceRoute(GatewayTable):
    __tablename__ = "service_routes"
    id: Mapped[int] = pk()
    service_id: Mapped[int] = fk("services.id")
    route: Mapped[str]


class ServiceField(GatewayTable):
    __tablename__ = "service_fields"
    id: Mapped[int] = pk()
    service_id: Mapped[int] = fk("services.id")
    field: Mapped[str]
    required: Mapped[bool]
    pattern: Mapped[str | None]
    max_length: Mapped[int | None]


class Assignment(GatewayTable):
    __tablename__ = "assignments"
    id: Mapped[int] = pk()
    client_id: Mapped[int] = fk("clients.id")
    service_id: Mapped[int] = fk("services.id")
    active: Mapped[bool]
    created_at: Mapped[datetime]


class FunctionRegistry(GatewayTable):
    __tablename__ = "function_registry"
    id: Mapped[int] = pk()
    assignment_id: Mapped[int] = fk("assignments.id")
    client_id: Mapped[int] = fk("clients.id")
    service_id: Mapped[int] = fk("services.id")
    route_id: Mapped[int] = fk("service_routes.id")
    fn_schema: Mapped[str]
    request_fn: Mapped[str]
    response_fn: Mapped[str]
    callback_fn: Mapped[str | None]
    template_kind: Mapped[str]
    state: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FunctionVersion(GatewayTable):
    __tablename__ = "function_versions"
    id: Mapped[int] = pk()
    registry_id: Mapped[int] = fk("function_registry.id")
    fn_name: Mapped[str]
    version: Mapped[int]
    source: Mapped[str]
    source_md5: Mapped[str]
    origin: Mapped[str]
    author: Mapped[str]
    reason: Mapped[str | None]
    diff: Mapped[str | None]
    created_at: Mapped[datetime]


class FunctionTest(GatewayTable):
    """A DBA's test case attached to a route: payload, optional service reply, expected result keys."""

    __tablename__ = "function_tests"
    id: Mapped[int] = pk()
    registry_id: Mapped[int] = fk("function_registry.id")
    fn_name: Mapped[str]
    name: Mapped[str]
    payload: Mapped[dict[str, Any]]
    service_reply: Mapped[dict[str, Any] | None]
    expect: Mapped[dict[str, Any]]
    created_by: Mapped[str]
    created_at: Mapped[datetime]


class Transaction(GatewayTable):
    __tablename__ = "transactions"
    id: Mapped[int] = pk()
    public_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    client_id: Mapped[int] = fk("clients.id")
    registry_id: Mapped[int | None] = fk("function_registry.id")
    service: Mapped[str]
    route: Mapped[str]
    f010: Mapped[str]
    payload_hash: Mapped[str]
    state: Mapped[str]
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    msisdn: Mapped[str | None]
    account_ref: Mapped[str | None]
    request: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any] | None]
    http_status: Mapped[int | None]
    reason: Mapped[str | None]
    depth: Mapped[int]
    callback_token_hash: Mapped[str | None]
    provider_ref: Mapped[str | None]
    receipt: Mapped[str | None]
    flags: Mapped[dict[str, Any]]
    next_check_at: Mapped[datetime | None]
    check_attempts: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class TransactionEvent(GatewayTable):
    __tablename__ = "transaction_events"
    id: Mapped[int] = pk()
    transaction_id: Mapped[int] = fk("transactions.id")
    from_state: Mapped[str | None]
    to_state: Mapped[str]
    detail: Mapped[str | None]
    created_at: Mapped[datetime]


class CallAttempt(GatewayTable):
    """Partitioned by month on created_at (schema 0020), so the key includes it."""

    __tablename__ = "call_attempts"
    # Both key columns come from the database (sequence, now()): a composite key gets no implicit default.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=FetchedValue())
    transaction_id: Mapped[int] = fk("transactions.id")
    step: Mapped[int]
    method: Mapped[str]
    url: Mapped[str]
    status_code: Mapped[int | None]
    latency_ms: Mapped[int | None]
    request_body: Mapped[str | None]
    response_body: Mapped[str | None]
    error: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(primary_key=True, server_default=FetchedValue())


class Callback(GatewayTable):
    __tablename__ = "callbacks"
    id: Mapped[int] = pk()
    transaction_id: Mapped[int | None] = fk("transactions.id")
    source_ip: Mapped[str | None]
    provider_ref: Mapped[str | None]
    body: Mapped[dict[str, Any] | None]
    outcome: Mapped[str]
    detail: Mapped[str | None]
    created_at: Mapped[datetime]


class ApiLog(GatewayTable):
    """Partitioned by month on created_at (schema 0020), so the key includes it."""

    __tablename__ = "api_logs"
    # Both key columns come from the database (sequence, now()): a composite key gets no implicit default.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default=FetchedValue())
    client_id: Mapped[int | None] = fk("clients.id")
    app_id: Mapped[str | None]
    method: Mapped[str]
    path: Mapped[str]
    http_status: Mapped[int]
    latency_ms: Mapped[int | None]
    remote_addr: Mapped[str | None]
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    request_body: Mapped[str | None]
    response_body: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(primary_key=True, server_default=FetchedValue())


class Outbox(GatewayTable):
    __tablename__ = "outbox"
    id: Mapped[int] = pk()
    kind: Mapped[str]
    client_id: Mapped[int | None] = fk("clients.id")
    transaction_id: Mapped[int | None] = fk("transactions.id")
    dedupe_key: Mapped[str | None]
    url: Mapped[str | None]
    payload: Mapped[dict[str, Any]]
    status: Mapped[str]
    attempts: Mapped[int]
    max_attempts: Mapped[int]
    next_attempt_at: Mapped[datetime]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class OutboxAttempt(GatewayTable):
    __tablename__ = "outbox_attempts"
    id: Mapped[int] = pk()
    outbox_id: Mapped[int] = fk("outbox.id")
    status_code: Mapped[int | None]
    latency_ms: Mapped[int | None]
    error: Mapped[str | None]
    created_at: Mapped[datetime]


class ProviderCredential(GatewayTable):
    __tablename__ = "provider_credentials"
    client_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("gateway.clients.id"), primary_key=True)
    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    data_enc: Mapped[str]
    summary: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class DarajaToken(GatewayTable):
    __tablename__ = "daraja_tokens"
    cache_key: Mapped[str] = mapped_column(Text, primary_key=True)
    access_token_enc: Mapped[str]
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuditLog(GatewayTable):
    __tablename__ = "audit_log"
    id: Mapped[int] = pk()
    user_id: Mapped[int | None] = fk("users.id")
    username: Mapped[str | None]
    action: Mapped[str]
    target: Mapped[str | None]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    client_id: Mapped[int | None] = fk("clients.id")  # the client the action concerns (its own audit log)


class _StatsKey:
    """The key of the transaction summary, its deltas and its view: UTC hour, client, service, state."""

    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    client_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    service: Mapped[str] = mapped_column(Text, primary_key=True)
    state: Mapped[str] = mapped_column(Text, primary_key=True)
    amount_sum: Mapped[Decimal] = mapped_column(Numeric(18, 2))


class _UsageKey:
    """The key of the API usage summary, its deltas and its view: UTC day, client, endpoint, HTTP status."""

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    client_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    endpoint: Mapped[str] = mapped_column(Text, primary_key=True)
    http_status: Mapped[int] = mapped_column(Integer, primary_key=True)


class TransactionStatsHourly(_StatsKey, GatewayTable):
    """Dashboard pre-aggregate kept by triggers on transactions (sql/schema/0003_portal.sql), folded in from
    transaction_stats_delta by the worker since 0110."""

    __tablename__ = "transaction_stats_hourly"
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # pg_backend_pid() % 16: readers sum (0060)
    txn_count: Mapped[int] = mapped_column(BigInteger)


class TransactionStatsDelta(_StatsKey, GatewayTable):
    """Changes to transaction_stats_hourly not folded in yet: appended by the triggers, folded by the worker (0110).
    No key of its own; the mapping needs one, so it names the columns of a row."""

    __tablename__ = "transaction_stats_delta"
    txn_count: Mapped[int] = mapped_column(Integer)


class TransactionStatsLive(_StatsKey, GatewayTable):
    """View: transaction_stats_hourly plus the deltas not folded yet; what readers read (0110)."""

    __tablename__ = "transaction_stats_live"
    txn_count: Mapped[int] = mapped_column(BigInteger)


class ApiUsageDaily(_UsageKey, GatewayTable):
    """Usage pre-aggregate of api_logs kept by a trigger (sql/schema/0040_usage.sql), folded in from
    api_usage_delta by the worker since 0110."""

    __tablename__ = "api_usage_daily"
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # pg_backend_pid() % 16: readers sum (0060)
    calls: Mapped[int] = mapped_column(BigInteger)


class ApiUsageDelta(_UsageKey, GatewayTable):
    """Calls not folded into api_usage_daily yet (0110); no key of its own, as TransactionStatsDelta."""

    __tablename__ = "api_usage_delta"
    calls: Mapped[int] = mapped_column(Integer)


class ApiUsageLive(_UsageKey, GatewayTable):
    """View: api_usage_daily plus the calls not folded yet; what readers read (0110)."""

    __tablename__ = "api_usage_live"
    calls: Mapped[int] = mapped_column(BigInteger)


# ---------------------------------------------------------------------------------------------- billing schema


class BillingTable(Base):
    __abstract__ = True
    __table_args__ = {"schema": "billing"}  # noqa: RUF012 - SQLAlchemy's declarative convention


def client_fk() -> Any:
    return mapped_column(BigInteger, ForeignKey("gateway.clients.id"))


class Plan(BillingTable):
    __tablename__ = "plans"
    id: Mapped[int] = pk()
    client_id: Mapped[int] = client_fk()
    code: Mapped[str]
    name: Mapped[str]
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    duration: Mapped[timedelta] = mapped_column(Interval)
    profile: Mapped[str]
    service_type: Mapped[str]
    active: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Subscriber(BillingTable):
    __tablename__ = "subscribers"
    id: Mapped[int] = pk()
    client_id: Mapped[int] = client_fk()
    username: Mapped[str]
    password_enc: Mapped[str]  # Fernet ciphertext written by Python
    phone: Mapped[str | None]
    service_type: Mapped[str]
    status: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    hold_reason: Mapped[str | None]  # why an operator suspended the subscriber by hand
    held_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]


class Subscription(BillingTable):
    """One paid period."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = pk()
    client_id: Mapped[int] = client_fk()
    subscriber_id: Mapped[int] = mapped_column(BigInteger)
    plan_id: Mapped[int] = mapped_column(BigInteger)
    transaction_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("gateway.transactions.id"))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    profile: Mapped[str]
    service_type: Mapped[str]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str]
    provisioning: Mapped[str]
    provisioning_detail: Mapped[str | None]
    provisioned_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class RouterJob(BillingTable):
    __tablename__ = "router_jobs"
    outbox_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("gateway.outbox.id"), primary_key=True)
    client_id: Mapped[int] = client_fk()
    subscriber_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("billing.subscribers.id"))
    username: Mapped[str]
    action: Mapped[str]
    reason: Mapped[str]
    created_at: Mapped[datetime]


class DriftReport(BillingTable):
    __tablename__ = "drift_reports"
    id: Mapped[int] = pk()
    client_id: Mapped[int] = client_fk()
    service_type: Mapped[str]
    username: Mapped[str]
    kind: Mapped[str]
    expected: Mapped[dict[str, Any] | None]
    actual: Mapped[dict[str, Any] | None]
    repair: Mapped[str]
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("gateway.outbox.id"))
    detail: Mapped[str | None]
    created_at: Mapped[datetime]


class DriftCheck(BillingTable):
    __tablename__ = "drift_checks"
    client_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("gateway.clients.id"), primary_key=True)
    last_started_at: Mapped[datetime]
    last_finished_at: Mapped[datetime | None]
    last_result: Mapped[dict[str, Any] | None]


class RateCounter(GatewayTable):
    """Fixed-window counters for rate limits and monthly quotas (sql/gateway/25_limits.sql)."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    hits: Mapped[int]
    expires_at: Mapped[datetime]
