-- Core gateway tables. Executed once by Alembic revision 0001; never edited after release
-- (add a new numbered file and revision instead). Functions live in sql/gateway/ and are re-applied.

CREATE SCHEMA IF NOT EXISTS gateway;
-- Generated per-client functions (the MosPay ABI). Never public.
CREATE SCHEMA IF NOT EXISTS clientfn;

CREATE TABLE gateway.users (
    id              bigserial PRIMARY KEY,
    username        text NOT NULL UNIQUE CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z0-9_.@-]{3,64}$'),
    password_hash   text NOT NULL,
    role            text NOT NULL CONSTRAINT users_role_valid CHECK (role IN ('super_admin', 'admin', 'viewer')),
    active          boolean NOT NULL DEFAULT true,
    must_change_password boolean NOT NULL DEFAULT false,
    totp_secret_enc text,
    totp_required   boolean NOT NULL DEFAULT false,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    token_version   integer NOT NULL DEFAULT 1,
    last_login_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateway.clients (
    id                 bigserial PRIMARY KEY,
    -- app_id becomes part of function names: lowercase, short, typable unquoted in psql.
    app_id             text NOT NULL UNIQUE CONSTRAINT clients_app_id_format CHECK (app_id ~ '^[a-z][a-z0-9]{0,15}$'),
    company_name       text NOT NULL,
    email              text NOT NULL,
    phone              text,
    contact_person     text,
    callback_url       text,
    status             text NOT NULL DEFAULT 'active' CONSTRAINT clients_status_valid CHECK (status IN ('active', 'inactive')),
    -- Bumped on rotation or deactivation; JWTs carry it, so old tokens stop working at once.
    credential_version integer NOT NULL DEFAULT 1,
    webhook_secret_enc text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateway.client_credentials (
    id           bigserial PRIMARY KEY,
    client_id    bigint NOT NULL REFERENCES gateway.clients(id) ON DELETE CASCADE,
    api_username text NOT NULL UNIQUE,
    -- HMAC-SHA256 keyed with SECRET_KEY: the secret is random and high-entropy, so a fast keyed hash suffices.
    secret_hash  text NOT NULL,
    secret_hint  text NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE UNIQUE INDEX client_credentials_one_active ON gateway.client_credentials (client_id) WHERE active;

CREATE TABLE gateway.services (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE CONSTRAINT services_name_format CHECK (name ~ '^[a-z][a-z0-9]{0,15}$'),
    display_name text NOT NULL,
    kind         text NOT NULL CONSTRAINT services_kind_valid
                 CHECK (kind IN ('http', 'mpesa_stk', 'router', 'subscription', 'status')),
    base_url     text NOT NULL CONSTRAINT services_base_url_http CHECK (base_url ~ '^https?://[^\s/?#]+(/[^\s?#]*)?$'),
    timeout_s    numeric(6, 2) NOT NULL DEFAULT 10 CONSTRAINT services_timeout_range CHECK (timeout_s > 0 AND timeout_s <= 120),
    settings     jsonb NOT NULL DEFAULT '{}'::jsonb,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateway.service_routes (
    id         bigserial PRIMARY KEY,
    service_id bigint NOT NULL REFERENCES gateway.services(id) ON DELETE CASCADE,
    route      text NOT NULL CONSTRAINT service_routes_route_format CHECK (route ~ '^[a-z][a-z0-9]{0,15}$'),
    CONSTRAINT service_routes_unique UNIQUE (service_id, route)
);

CREATE TABLE gateway.service_fields (
    id         bigserial PRIMARY KEY,
    service_id bigint NOT NULL REFERENCES gateway.services(id) ON DELETE CASCADE,
    field      text NOT NULL CONSTRAINT service_fields_field_valid CHECK (field ~ '^f0(0[0-9]|10)$'),
    required   boolean NOT NULL DEFAULT false,
    pattern    text,
    max_length integer CONSTRAINT service_fields_max_length_positive CHECK (max_length > 0),
    CONSTRAINT service_fields_unique UNIQUE (service_id, field)
);

CREATE TABLE gateway.assignments (
    id         bigserial PRIMARY KEY,
    client_id  bigint NOT NULL REFERENCES gateway.clients(id) ON DELETE CASCADE,
    service_id bigint NOT NULL REFERENCES gateway.services(id) ON DELETE CASCADE,
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT assignments_unique UNIQUE (client_id, service_id)
);

-- The only source of function names the processor will ever call.
CREATE TABLE gateway.function_registry (
    id            bigserial PRIMARY KEY,
    assignment_id bigint NOT NULL REFERENCES gateway.assignments(id) ON DELETE CASCADE,
    client_id     bigint NOT NULL REFERENCES gateway.clients(id) ON DELETE CASCADE,
    service_id    bigint NOT NULL REFERENCES gateway.services(id) ON DELETE CASCADE,
    route_id      bigint NOT NULL REFERENCES gateway.service_routes(id) ON DELETE CASCADE,
    fn_schema     text NOT NULL DEFAULT 'clientfn',
    request_fn    text NOT NULL,
    response_fn   text NOT NULL,
    callback_fn   text,
    template_kind text NOT NULL,
    state         text NOT NULL DEFAULT 'generated' CONSTRAINT function_registry_state_valid CHECK (state IN ('generated', 'edited')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT function_registry_unique UNIQUE (assignment_id, route_id),
    CONSTRAINT function_registry_request_fn_unique UNIQUE (fn_schema, request_fn)
);

-- Every source a generated function has had: what the builder wrote and what a DBA changed.
CREATE TABLE gateway.function_versions (
    id          bigserial PRIMARY KEY,
    registry_id bigint NOT NULL REFERENCES gateway.function_registry(id) ON DELETE CASCADE,
    fn_name     text NOT NULL,
    version     integer NOT NULL,
    source      text NOT NULL,
    source_md5  text NOT NULL,
    origin      text NOT NULL CONSTRAINT function_versions_origin_valid CHECK (origin IN ('generated', 'dba_edit', 'rollback')),
    author      text NOT NULL,
    diff        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT function_versions_unique UNIQUE (fn_name, version)
);

CREATE TABLE gateway.transactions (
    id                  bigserial PRIMARY KEY,
    public_id           uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    client_id           bigint NOT NULL REFERENCES gateway.clients(id),
    registry_id         bigint REFERENCES gateway.function_registry(id) ON DELETE SET NULL,
    service             text NOT NULL,
    route               text NOT NULL,
    f010                text NOT NULL,
    payload_hash        text NOT NULL,
    state               text NOT NULL DEFAULT 'received' CONSTRAINT transactions_state_valid
                        CHECK (state IN ('received', 'dispatched', 'pending', 'completed', 'failed', 'timed_out')),
    amount              numeric(14, 2),
    msisdn              text,
    account_ref         text,
    request             jsonb NOT NULL,   -- masked: f007/f008 never stored
    result              jsonb,            -- the last function result given to the merchant
    http_status         integer,
    reason              text,
    depth               integer NOT NULL DEFAULT 0,
    callback_token_hash text UNIQUE,
    provider_ref        text,             -- e.g. CheckoutRequestID
    receipt             text,             -- e.g. MpesaReceiptNumber
    flags               jsonb NOT NULL DEFAULT '{}'::jsonb,
    next_check_at       timestamptz,
    check_attempts      integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    CONSTRAINT transactions_f010_unique UNIQUE (client_id, f010)
);
CREATE INDEX transactions_client_created ON gateway.transactions (client_id, created_at DESC);
CREATE INDEX transactions_created ON gateway.transactions (created_at DESC);
CREATE INDEX transactions_state_created ON gateway.transactions (state, created_at DESC);
CREATE INDEX transactions_due_checks ON gateway.transactions (next_check_at) WHERE state = 'pending';
CREATE INDEX transactions_dispatched ON gateway.transactions (updated_at) WHERE state = 'dispatched';
CREATE INDEX transactions_provider_ref ON gateway.transactions (provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX transactions_msisdn ON gateway.transactions (msisdn, created_at DESC) WHERE msisdn IS NOT NULL;

CREATE TABLE gateway.transaction_events (
    id             bigserial PRIMARY KEY,
    transaction_id bigint NOT NULL REFERENCES gateway.transactions(id) ON DELETE CASCADE,
    from_state     text,
    to_state       text NOT NULL,
    detail         text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transaction_events_txn ON gateway.transaction_events (transaction_id, id);

CREATE TABLE gateway.call_attempts (
    id             bigserial PRIMARY KEY,
    transaction_id bigint NOT NULL REFERENCES gateway.transactions(id) ON DELETE CASCADE,
    step           integer NOT NULL,
    method         text NOT NULL,
    url            text NOT NULL,
    status_code    integer,
    latency_ms     integer,
    request_body   text,   -- masked, truncated
    response_body  text,   -- masked, truncated
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_attempts_txn ON gateway.call_attempts (transaction_id, id);

CREATE TABLE gateway.callbacks (
    id             bigserial PRIMARY KEY,
    transaction_id bigint REFERENCES gateway.transactions(id) ON DELETE CASCADE,
    source_ip      text,
    provider_ref   text,
    body           jsonb,
    outcome        text NOT NULL CONSTRAINT callbacks_outcome_valid
                   CHECK (outcome IN ('applied', 'duplicate', 'refused', 'late', 'ignored')),
    detail         text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callbacks_txn ON gateway.callbacks (transaction_id, id);
CREATE INDEX callbacks_created ON gateway.callbacks (created_at DESC);

CREATE TABLE gateway.api_logs (
    id             bigserial PRIMARY KEY,
    client_id      bigint REFERENCES gateway.clients(id) ON DELETE SET NULL,
    app_id         text,
    method         text NOT NULL,
    path           text NOT NULL,
    http_status    integer NOT NULL,
    latency_ms     integer,
    remote_addr    text,
    transaction_id bigint,
    request_body   text,  -- masked, truncated
    response_body  text,  -- masked, truncated
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_logs_created ON gateway.api_logs (created_at DESC);
CREATE INDEX api_logs_client_created ON gateway.api_logs (client_id, created_at DESC);

-- Work that must survive a crash: merchant webhooks and follow-up service calls.
CREATE TABLE gateway.outbox (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CONSTRAINT outbox_kind_valid CHECK (kind IN ('webhook', 'service_call')),
    client_id       bigint REFERENCES gateway.clients(id) ON DELETE CASCADE,
    transaction_id  bigint REFERENCES gateway.transactions(id) ON DELETE CASCADE,
    dedupe_key      text UNIQUE,
    url             text,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CONSTRAINT outbox_status_valid
                    CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 8,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX outbox_due ON gateway.outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_txn ON gateway.outbox (transaction_id);

CREATE TABLE gateway.outbox_attempts (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES gateway.outbox(id) ON DELETE CASCADE,
    status_code integer,
    latency_ms  integer,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_attempts_outbox ON gateway.outbox_attempts (outbox_id, id);

-- Per-client provider credentials (Daraja keys, router login), Fernet-encrypted JSON.
CREATE TABLE gateway.provider_credentials (
    client_id  bigint NOT NULL REFERENCES gateway.clients(id) ON DELETE CASCADE,
    provider   text NOT NULL CONSTRAINT provider_credentials_provider_valid CHECK (provider IN ('mpesa', 'router')),
    data_enc   text NOT NULL,
    summary    jsonb NOT NULL DEFAULT '{}'::jsonb,  -- non-secret fields for display (shortcode, host…)
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, provider)
);

-- One Daraja OAuth token per credential set for all instances: a new token invalidates the old one.
CREATE TABLE gateway.daraja_tokens (
    cache_key        text PRIMARY KEY,
    access_token_enc text NOT NULL,
    expires_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateway.audit_log (
    id         bigserial PRIMARY KEY,
    user_id    bigint REFERENCES gateway.users(id) ON DELETE SET NULL,
    username   text,
    action     text NOT NULL,
    target     text,
    before     jsonb,
    after      jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created ON gateway.audit_log (created_at DESC);
