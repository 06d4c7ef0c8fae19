-- ISP billing: plans, subscribers, paid periods (subscriptions), router jobs and drift reports.
-- Executed once by Alembic revision 0002; never edited after release. Functions live in sql/billing/.
--
-- Tenant integrity is enforced by the keys, not only by the functions: a subscription's subscriber and plan
-- are referenced together with its client_id, so a row can never join one client's plan to another's subscriber.

CREATE SCHEMA IF NOT EXISTS billing;
REVOKE ALL ON SCHEMA billing FROM PUBLIC;
-- btree_gist lets one exclusion constraint say "a subscriber's paid periods never overlap" (trusted since PG 13).
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE billing.plans (
    id           bigserial PRIMARY KEY,
    client_id    bigint NOT NULL REFERENCES gateway.clients(id) ON DELETE CASCADE,
    code         text NOT NULL CONSTRAINT plans_code_format CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name         text NOT NULL CONSTRAINT plans_name_length CHECK (length(name) BETWEEN 1 AND 100),
    price        numeric(12, 2) NOT NULL CONSTRAINT plans_price_positive CHECK (price > 0),
    duration     interval NOT NULL CONSTRAINT plans_duration_positive CHECK (duration > interval '0'),
    -- The router profile (PPP profile or hotspot user profile) that carries the rate limit.
    profile      text NOT NULL CONSTRAINT plans_profile_format CHECK (profile ~ '^[ -~]{1,64}$'),
    service_type text NOT NULL CONSTRAINT plans_service_type_valid CHECK (service_type IN ('pppoe', 'hotspot')),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT plans_code_unique UNIQUE (client_id, code),
    CONSTRAINT plans_client_id_unique UNIQUE (client_id, id)
);

CREATE TABLE billing.subscribers (
    id           bigserial PRIMARY KEY,
    client_id    bigint NOT NULL REFERENCES gateway.clients(id) ON DELETE CASCADE,
    -- The PPPoE secret / hotspot user name on the router.
    username     text NOT NULL CONSTRAINT subscribers_username_format CHECK (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
    -- Fernet ciphertext written by Python; SQL never sees the password in clear.
    password_enc text NOT NULL,
    phone        text CONSTRAINT subscribers_phone_format CHECK (phone ~ '^[0-9]{10,15}$'),
    service_type text NOT NULL CONSTRAINT subscribers_service_type_valid CHECK (service_type IN ('pppoe', 'hotspot')),
    status       text NOT NULL DEFAULT 'new'
                 CONSTRAINT subscribers_status_valid CHECK (status IN ('new', 'active', 'suspended')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscribers_username_unique UNIQUE (client_id, username),
    CONSTRAINT subscribers_client_id_unique UNIQUE (client_id, id)
);

-- One row per paid period. A payment before the current end starts where it ends; after, it starts now.
CREATE TABLE billing.subscriptions (
    id                  bigserial PRIMARY KEY,
    client_id           bigint NOT NULL REFERENCES gateway.clients(id) ON DELETE CASCADE,
    subscriber_id       bigint NOT NULL,
    plan_id             bigint NOT NULL,
    -- The payment that paid for this period: at most one period per payment (idempotent activation).
    transaction_id      bigint REFERENCES gateway.transactions(id),
    price               numeric(12, 2) NOT NULL,
    profile             text NOT NULL,   -- the plan's terms when it was bought
    service_type        text NOT NULL,
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL,
    status              text NOT NULL DEFAULT 'active'
                        CONSTRAINT subscriptions_status_valid CHECK (status IN ('active', 'expired')),
    provisioning        text NOT NULL DEFAULT 'pending'
                        CONSTRAINT subscriptions_provisioning_valid CHECK (provisioning IN ('pending', 'done', 'failed')),
    provisioning_detail text,
    provisioned_at      timestamptz,
    expired_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_period_valid CHECK (ends_at > starts_at),
    CONSTRAINT subscriptions_transaction_unique UNIQUE (transaction_id),
    CONSTRAINT subscriptions_subscriber_fk FOREIGN KEY (client_id, subscriber_id)
        REFERENCES billing.subscribers(client_id, id) ON DELETE CASCADE,
    CONSTRAINT subscriptions_plan_fk FOREIGN KEY (client_id, plan_id) REFERENCES billing.plans(client_id, id),
    -- Two payments in a row extend; they never buy the same hours twice.
    CONSTRAINT subscriptions_no_overlap
        EXCLUDE USING gist (subscriber_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
);
-- The worker's expiry scan: active periods ordered by end.
CREATE INDEX subscriptions_due ON billing.subscriptions (status, ends_at);
CREATE INDEX subscriptions_subscriber_end ON billing.subscriptions (subscriber_id, ends_at DESC);
CREATE INDEX subscriptions_client_created ON billing.subscriptions (client_id, created_at DESC);

-- Which outbox rows are billing's router jobs, so a payment can cancel a queued suspension (and vice versa).
CREATE TABLE billing.router_jobs (
    outbox_id     bigint PRIMARY KEY REFERENCES gateway.outbox(id) ON DELETE CASCADE,
    client_id     bigint NOT NULL REFERENCES gateway.clients(id) ON DELETE CASCADE,
    subscriber_id bigint REFERENCES billing.subscribers(id) ON DELETE SET NULL,
    username      text NOT NULL,
    action        text NOT NULL CONSTRAINT router_jobs_action_valid CHECK (action IN ('activate', 'suspend')),
    reason        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX router_jobs_subject ON billing.router_jobs (client_id, username, action);

-- Every difference a reconciliation found between the router and billing, and the repair it queued.
CREATE TABLE billing.drift_reports (
    id           bigserial PRIMARY KEY,
    client_id    bigint NOT NULL REFERENCES gateway.clients(id) ON DELETE CASCADE,
    service_type text NOT NULL,
    username     text NOT NULL,
    kind         text NOT NULL CONSTRAINT drift_reports_kind_valid
                 CHECK (kind IN ('missing', 'disabled', 'wrong_profile', 'enabled_unpaid', 'unknown_account')),
    expected     jsonb,
    actual       jsonb,
    repair       text NOT NULL CONSTRAINT drift_reports_repair_valid CHECK (repair IN ('activate', 'suspend', 'none')),
    outbox_id    bigint REFERENCES gateway.outbox(id) ON DELETE SET NULL,
    detail       text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX drift_reports_client_created ON billing.drift_reports (client_id, created_at DESC);

-- When each client's router was last reconciled (a lease: several workers never check one router at once).
CREATE TABLE billing.drift_checks (
    client_id        bigint PRIMARY KEY REFERENCES gateway.clients(id) ON DELETE CASCADE,
    last_started_at  timestamptz NOT NULL,
    last_finished_at timestamptz,
    last_result      jsonb
);
