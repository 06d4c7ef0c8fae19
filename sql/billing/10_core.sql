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

-- An interval in words for people: '1 hour', '30 days', '1 day 12 hours' (years and months as PostgreSQL has them).
CREATE OR REPLACE FUNCTION billing.interval_words(p interval) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(nullif(concat_ws(' ',
        CASE WHEN extract(year FROM p) <> 0 THEN extract(year FROM p)::int || ' year' || CASE WHEN extract(year FROM p) <> 1 THEN 's' ELSE '' END END,
        CASE WHEN extract(month FROM p) <> 0 THEN extract(month FROM p)::int || ' month' || CASE WHEN extract(month FROM p) <> 1 THEN 's' ELSE '' END END,
        CASE WHEN extract(day FROM p) <> 0 THEN extract(day FROM p)::int || ' day' || CASE WHEN extract(day FROM p) <> 1 THEN 's' ELSE '' END END,
        CASE WHEN extract(hour FROM p) <> 0 THEN extract(hour FROM p)::int || ' hour' || CASE WHEN extract(hour FROM p) <> 1 THEN 's' ELSE '' END END,
        CASE WHEN extract(minute FROM p) <> 0 THEN extract(minute FROM p)::int || ' min' END,
        CASE WHEN floor(extract(second FROM p)) <> 0 THEN floor(extract(second FROM p))::int || ' s' END), ''),
        p::text)
$$;

CREATE OR REPLACE FUNCTION billing.plan_json(p billing.plans) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('code', p.code, 'name', p.name, 'price', p.price::text, 'duration', p.duration::text,
                              'duration_text', billing.interval_words(p.duration),
                              'profile', p.profile, 'service_type', p.service_type, 'active', p.active,
                              'created_at', p.created_at)
$$;

CREATE OR REPLACE FUNCTION billing.subscriber_json(s billing.subscribers) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('id', s.id, 'username', s.username, 'phone', s.phone, 'service_type', s.service_type,
                              'status', s.status, 'hold_reason', s.hold_reason, 'held_at', s.held_at,
                              'removed_at', s.removed_at, 'created_at', s.created_at)
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

-- What paying for p_plan_code would do now: extend the running plan, replace it at once, or start one.
-- {"effect": "extend"|"replace"|"start", "message", "ends_at"} — the captive page and the status answer say it
-- before the subscriber pays. p_plan_code NULL describes both choices in one sentence.
CREATE OR REPLACE FUNCTION billing.renewal_effect(p_client_id bigint, p_subscriber_id bigint, p_plan_code text)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cur billing.subscriptions := billing.current_period(p_client_id, p_subscriber_id);
    v_code text;
    v_end timestamptz;
    p billing.plans;
BEGIN
    IF cur.id IS NULL THEN
        SELECT * INTO p FROM billing.plans WHERE client_id = p_client_id AND code = p_plan_code;
        RETURN jsonb_build_object('effect', 'start', 'message', 'a payment starts the plan at once',
                                  'ends_at', now() + p.duration);
    END IF;
    SELECT code INTO v_code FROM billing.plans WHERE client_id = p_client_id AND id = cur.plan_id;
    SELECT max(ends_at) INTO v_end FROM billing.subscriptions
     WHERE client_id = p_client_id AND subscriber_id = p_subscriber_id AND status = 'active';
    IF p_plan_code IS NULL THEN
        RETURN jsonb_build_object('effect', 'either', 'ends_at', v_end, 'message', format(
            'paying for %s again extends it from %s; paying for another plan replaces %s at once '
            '(its time left is not carried over)', v_code, to_char(v_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'),
            v_code));
    END IF;
    SELECT * INTO p FROM billing.plans WHERE client_id = p_client_id AND code = p_plan_code;
    IF p.id = cur.plan_id THEN
        RETURN jsonb_build_object('effect', 'extend', 'ends_at', v_end + p.duration, 'message',
            format('extends your %s plan from %s', v_code,
                   to_char(v_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')));
    END IF;
    RETURN jsonb_build_object('effect', 'replace', 'ends_at', now() + p.duration, 'message',
        format('replaces your %s plan at once; the time left on it is not carried over', v_code));
END $$;

-- Move the subscriber's queued periods (starting after now) so the first begins at p_from, keeping their order
-- and lengths. Rows move one at a time in the order that never overlaps a neighbour (the exclusion constraint).
CREATE OR REPLACE FUNCTION billing.shift_queued(p_client_id bigint, p_subscriber_id bigint, p_from timestamptz)
RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_delta interval;
    r record;
    v_count integer := 0;
BEGIN
    SELECT p_from - min(starts_at) INTO v_delta FROM billing.subscriptions
     WHERE client_id = p_client_id AND subscriber_id = p_subscriber_id AND status = 'active' AND starts_at > now();
    IF v_delta IS NULL OR v_delta = interval '0' THEN
        RETURN 0;
    END IF;
    FOR r IN SELECT id FROM billing.subscriptions
              WHERE client_id = p_client_id AND subscriber_id = p_subscriber_id AND status = 'active'
                AND starts_at > now()
              ORDER BY CASE WHEN v_delta > interval '0' THEN -extract(epoch FROM starts_at)
                            ELSE extract(epoch FROM starts_at) END
    LOOP
        UPDATE billing.subscriptions SET starts_at = starts_at + v_delta, ends_at = ends_at + v_delta
         WHERE id = r.id;
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END $$;
