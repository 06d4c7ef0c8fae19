-- Billing library, part 1: tenant lookup, row → JSON, the client's router service and router jobs.
-- Every function is scoped to one client (an app_id or a client id) and filters every query on it.

-- The client id of an app_id. :raise MP404: unknown app_id.
CREATE OR REPLACE FUNCTION billing.client_id(p_app text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    SELECT id INTO v_id FROM gateway.clients WHERE app_id = p_app;
    IF v_id IS NULL THEN
        RAISE EXCEPTION 'no client with app_id %', p_app USING ERRCODE = 'MP404';
    END IF;
    RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION billing.plan_json(p billing.plans) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('code', p.code, 'name', p.name, 'price', p.price::text, 'duration', p.duration::text,
                              'profile', p.profile, 'service_type', p.service_type, 'active', p.active,
                              'created_at', p.created_at)
$$;

CREATE OR REPLACE FUNCTION billing.subscriber_json(s billing.subscribers) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('id', s.id, 'username', s.username, 'phone', s.phone, 'service_type', s.service_type,
                              'status', s.status, 'created_at', s.created_at)
$$;

CREATE OR REPLACE FUNCTION billing.subscription_json(v billing.subscriptions) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'username', s.username, 'plan', p.code, 'plan_name', p.name, 'price', v.price::text,
        'profile', v.profile, 'service_type', v.service_type, 'starts_at', v.starts_at, 'ends_at', v.ends_at,
        'status', v.status, 'provisioning', v.provisioning, 'provisioning_detail', v.provisioning_detail,
        'provisioned_at', v.provisioned_at, 'transaction_id', t.public_id, 'f010', t.f010, 'receipt', t.receipt,
        'created_at', v.created_at)
      FROM billing.subscribers s
      JOIN billing.plans p ON p.client_id = v.client_id AND p.id = v.plan_id
      LEFT JOIN gateway.transactions t ON t.id = v.transaction_id
     WHERE s.client_id = v.client_id AND s.id = v.subscriber_id
$$;

-- The subscriber's paid period covering now, if any.
CREATE OR REPLACE FUNCTION billing.current_period(p_client_id bigint, p_subscriber_id bigint)
RETURNS billing.subscriptions
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM billing.subscriptions
     WHERE client_id = p_client_id AND subscriber_id = p_subscriber_id AND status = 'active'
       AND starts_at <= now() AND ends_at > now()
     ORDER BY starts_at DESC LIMIT 1
$$;

-- The name of the router-kind service assigned to this client (the one named 'router' first), or NULL.
CREATE OR REPLACE FUNCTION billing.router_service_for(p_client_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.name FROM gateway.assignments a JOIN gateway.services s ON s.id = a.service_id
     WHERE a.client_id = p_client_id AND a.active AND s.active AND s.kind = 'router'
     ORDER BY (s.name = 'router') DESC, s.id LIMIT 1
$$;

-- The call spec that activates (create or update + enable, at this profile) or suspends (disable + end the
-- sessions) one account through the router adapter. The password is a reference Python resolves at call time.
CREATE OR REPLACE FUNCTION billing.router_spec(
    p_service text, p_action text, p_username text, p_service_type text, p_profile text, p_subscriber_id bigint,
    p_comment text
) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'status', '200', 'type', 'service', 'version', '1', 'action', 'SERVICE', 'command', p_action,
        'message', format('%s %s on the router', p_action, p_username),
        'servicename', p_service, 'serviceurl', '/' || p_action, 'servicemethod', 'POST',
        'servicecredentials', 'router',
        'servicesecrets', CASE WHEN p_action = 'activate' AND p_subscriber_id IS NOT NULL
                               THEN jsonb_build_object('password', 'subscriber:' || p_subscriber_id) END,
        'servicepayload', jsonb_strip_nulls(jsonb_build_object(
            'username', p_username, 'service_type', p_service_type,
            'profile', CASE WHEN p_action = 'activate' THEN p_profile END,
            'comment', CASE WHEN p_action = 'activate' THEN p_comment END))))
$$;

-- Mark queued (not yet delivered) router jobs of one account as superseded: a payment cancels a queued
-- suspension, an expiry cancels a queued activation. Returns how many were cancelled.
CREATE OR REPLACE FUNCTION billing.cancel_router_jobs(p_client_id bigint, p_username text, p_action text,
                                                      p_reason text) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE gateway.outbox o
       SET status = 'dead', last_error = left('superseded: ' || p_reason, 1000)
      FROM billing.router_jobs j
     WHERE j.outbox_id = o.id AND j.client_id = p_client_id AND j.username = p_username AND j.action = p_action
       AND o.status = 'pending';
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END $$;

-- Queue a router job for one account (no payment attached); the worker retries it with backoff.
-- Returns the outbox id, or NULL when the client has no router service or the dedupe key was used.
CREATE OR REPLACE FUNCTION billing.enqueue_router_job(
    p_client_id bigint, p_subscriber_id bigint, p_username text, p_service_type text, p_action text,
    p_profile text, p_reason text, p_dedupe text
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_service text := billing.router_service_for(p_client_id);
    v_id bigint;
BEGIN
    IF v_service IS NULL THEN
        RETURN NULL;
    END IF;
    v_id := gateway.enqueue_service_job(
        p_client_id,
        billing.router_spec(v_service, p_action, p_username, p_service_type, p_profile, p_subscriber_id,
                            'mospay billing') || jsonb_build_object('reason', p_reason),
        p_dedupe);
    IF v_id IS NOT NULL THEN
        INSERT INTO billing.router_jobs (outbox_id, client_id, subscriber_id, username, action, reason)
        VALUES (v_id, p_client_id, p_subscriber_id, p_username, p_action, left(p_reason, 500));
    END IF;
    RETURN v_id;
END $$;

-- True when a router job for this account and action is still waiting to run.
CREATE OR REPLACE FUNCTION billing.router_job_pending(p_client_id bigint, p_username text, p_action text)
RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM billing.router_jobs j JOIN gateway.outbox o ON o.id = j.outbox_id
                    WHERE j.client_id = p_client_id AND j.username = p_username AND j.action = p_action
                      AND o.status = 'pending')
$$;
