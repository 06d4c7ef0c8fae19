-- Billing library, part 2: plans and subscribers of one client, and the read paths templates use.

-- Create a plan. p_duration is PostgreSQL interval text ('30 days', '2 seconds').
-- :raise MP400: bad duration; MP409: the code exists for this client; MP404: unknown app_id.
CREATE OR REPLACE FUNCTION billing.create_plan(
    p_app text, p_code text, p_name text, p_price numeric, p_duration text, p_profile text, p_service_type text
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_client bigint := billing.client_id(p_app);
    v_duration interval;
    p billing.plans;
BEGIN
    BEGIN
        v_duration := p_duration::interval;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
        RAISE EXCEPTION 'duration % is not a PostgreSQL interval; write e.g. "30 days", "1 hour" or "2 seconds"',
            quote_literal(left(p_duration, 60)) USING ERRCODE = 'MP400';
    END;
    IF v_duration <= interval '0' OR v_duration > interval '10 years' THEN
        RAISE EXCEPTION 'duration must be longer than 0 and at most 10 years' USING ERRCODE = 'MP400';
    END IF;
    IF EXISTS (SELECT 1 FROM billing.plans WHERE client_id = v_client AND code = p_code) THEN
        RAISE EXCEPTION 'plan % exists for %; choose another code', p_code, p_app USING ERRCODE = 'MP409';
    END IF;
    INSERT INTO billing.plans (client_id, code, name, price, duration, profile, service_type)
    VALUES (v_client, p_code, p_name, p_price, v_duration, p_profile, p_service_type)
    RETURNING * INTO p;
    RETURN billing.plan_json(p);
END $$;

CREATE OR REPLACE FUNCTION billing.plans_of(p_app text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_agg(billing.plan_json(p) ORDER BY p.code), '[]'::jsonb)
      FROM billing.plans p WHERE p.client_id = billing.client_id(p_app)
$$;

-- Create a subscriber; the password arrives already encrypted. :raise MP409: the username exists.
CREATE OR REPLACE FUNCTION billing.create_subscriber(
    p_app text, p_username text, p_password_enc text, p_phone text, p_service_type text
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_client bigint := billing.client_id(p_app);
    s billing.subscribers;
BEGIN
    IF EXISTS (SELECT 1 FROM billing.subscribers WHERE client_id = v_client AND username = p_username) THEN
        RAISE EXCEPTION 'subscriber % exists for %; choose another username', p_username, p_app
            USING ERRCODE = 'MP409';
    END IF;
    INSERT INTO billing.subscribers (client_id, username, password_enc, phone, service_type)
    VALUES (v_client, p_username, p_password_enc, p_phone, p_service_type)
    RETURNING * INTO s;
    RETURN billing.subscriber_json(s);
END $$;

-- The encrypted password of one of this client's subscribers (Python decrypts it at call time), or NULL.
CREATE OR REPLACE FUNCTION billing.subscriber_password_enc(p_client_id bigint, p_subscriber_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT password_enc FROM billing.subscribers WHERE client_id = p_client_id AND id = p_subscriber_id
$$;

-- What the subscriber has now: plan, period end, state, and a one-line summary for people.
-- NULL when this client has no such subscriber.
CREATE OR REPLACE FUNCTION billing.subscriber_status(p_app text, p_username text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_client bigint := billing.client_id(p_app);
    s billing.subscribers;
    cur billing.subscriptions;
    last billing.subscriptions;
    v_end timestamptz;
    v_state text;
    v_summary text;
BEGIN
    SELECT * INTO s FROM billing.subscribers WHERE client_id = v_client AND username = p_username;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    cur := billing.current_period(v_client, s.id);
    SELECT * INTO last FROM billing.subscriptions
     WHERE client_id = v_client AND subscriber_id = s.id ORDER BY ends_at DESC LIMIT 1;
    -- Paid access ends at the end of the last contiguous period (extensions queue behind the current one).
    SELECT max(ends_at) INTO v_end FROM billing.subscriptions
     WHERE client_id = v_client AND subscriber_id = s.id AND status = 'active';
    IF cur.id IS NOT NULL THEN
        v_state := 'active';
        v_summary := CASE WHEN cur.provisioning = 'pending' THEN 'paid, provisioning pending'
                          WHEN cur.provisioning = 'failed' THEN 'paid, provisioning failed: '
                                                                || coalesce(cur.provisioning_detail, 'see the router')
                          ELSE 'active' END
                     || ' until ' || to_char(v_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC';
    ELSIF last.id IS NULL THEN
        v_state := 'new';
        v_summary := 'no plan paid yet';
    ELSE
        v_state := CASE WHEN s.status = 'suspended' THEN 'suspended' ELSE 'expired' END;
        v_summary := v_state || ' since ' || to_char(last.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC';
    END IF;
    IF s.hold_reason IS NOT NULL OR s.status = 'removed' THEN
        v_state := CASE WHEN s.status = 'removed' THEN 'removed' ELSE 'suspended' END;
        v_summary := CASE WHEN s.status = 'removed' THEN 'removed by the operator'
                          ELSE 'suspended by the operator: ' || s.hold_reason END;
    END IF;
    RETURN jsonb_build_object(
        'username', s.username, 'service_type', s.service_type, 'subscriber_status', s.status, 'state', v_state,
        'summary', v_summary, 'hold_reason', s.hold_reason,
        'seconds_left', CASE WHEN v_state = 'active' THEN floor(extract(epoch FROM v_end - now()))::bigint END,
        'renewal', (billing.renewal_effect(v_client, s.id, NULL))->>'message',
        'plan', (SELECT p.code FROM billing.plans p WHERE p.client_id = v_client
                  AND p.id = coalesce(cur.plan_id, last.plan_id)),
        'profile', coalesce(cur.profile, last.profile),
        'starts_at', coalesce(cur.starts_at, last.starts_at),
        'ends_at', CASE WHEN cur.id IS NOT NULL THEN v_end ELSE last.ends_at END,
        'provisioning', coalesce(cur.provisioning, last.provisioning),
        'current', CASE WHEN cur.id IS NOT NULL THEN billing.subscription_json(cur) END);
END $$;

CREATE OR REPLACE FUNCTION billing.subscribers_of(p_app text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_agg(billing.subscriber_json(s)
                              || jsonb_build_object('now', billing.subscriber_status(p_app, s.username))
                              ORDER BY s.username), '[]'::jsonb)
      FROM billing.subscribers s WHERE s.client_id = billing.client_id(p_app)
$$;

-- A page of paid periods, newest first, optionally for one username and/or one status.
CREATE OR REPLACE FUNCTION billing.subscriptions_of(p_app text, p_username text, p_status text, p_limit integer,
                                                    p_offset integer) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH c AS (SELECT billing.client_id(p_app) AS id),
    rows AS (
        SELECT v.* FROM c
          JOIN billing.subscriptions v ON v.client_id = c.id
          JOIN billing.subscribers s ON s.client_id = c.id AND s.id = v.subscriber_id
         WHERE true
           AND (p_username IS NULL OR s.username = p_username)
           AND (p_status IS NULL OR v.status = p_status)
    )
    SELECT jsonb_build_object(
        'items', coalesce((SELECT jsonb_agg(billing.subscription_json(r) ORDER BY r.created_at DESC, r.id DESC)
                             FROM (SELECT * FROM rows ORDER BY created_at DESC, id DESC
                                   LIMIT p_limit OFFSET p_offset) r), '[]'::jsonb),
        'total', (SELECT count(*) FROM rows))
$$;

-- Check a payment request: the subscriber and plan exist for this client, match, and f004 covers the price.
-- {"ok": true, "subscriber": {...}, "plan": {...}} or {"ok": false, "status": "400", "message": ...}.
CREATE OR REPLACE FUNCTION billing.quote(p_app text, p_username text, p_plan_code text, p_amount numeric)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_client bigint := billing.client_id(p_app);
    s billing.subscribers;
    p billing.plans;
BEGIN
    IF coalesce(p_username, '') = '' THEN
        RETURN jsonb_build_object('ok', false, 'status', '400', 'message', 'f006 (the subscriber username) is required');
    END IF;
    IF coalesce(p_plan_code, '') = '' THEN
        RETURN jsonb_build_object('ok', false, 'status', '400', 'message', 'f001 (the plan code) is required');
    END IF;
    SELECT * INTO s FROM billing.subscribers WHERE client_id = v_client AND username = p_username;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('ok', false, 'status', '400',
            'message', format('f006: no subscriber %s; an admin must add the subscriber first', p_username));
    END IF;
    IF s.status = 'removed' THEN
        RETURN jsonb_build_object('ok', false, 'status', '403',
            'message', format('f006: subscriber %s was removed by the operator', p_username));
    END IF;
    IF s.hold_reason IS NOT NULL THEN
        RETURN jsonb_build_object('ok', false, 'status', '403', 'message', format(
            'f006: subscriber %s is suspended by the operator (%s); ask them to resume it', p_username, s.hold_reason));
    END IF;
    SELECT * INTO p FROM billing.plans WHERE client_id = v_client AND code = p_plan_code AND active;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('ok', false, 'status', '400',
            'message', format('f001: no active plan %s; see GET /api/v1/admin/clients/%s/plans', p_plan_code, p_app));
    END IF;
    IF p.service_type <> s.service_type THEN
        RETURN jsonb_build_object('ok', false, 'status', '400', 'message', format(
            'plan %s is for %s but subscriber %s uses %s', p.code, p.service_type, s.username, s.service_type));
    END IF;
    IF p_amount IS NULL OR p_amount < p.price THEN
        RETURN jsonb_build_object('ok', false, 'status', '400', 'message', format(
            'f004 must be at least the price of plan %s (%s)', p.code, p.price));
    END IF;
    RETURN jsonb_build_object('ok', true, 'subscriber', billing.subscriber_json(s), 'plan', billing.plan_json(p));
END $$;

-- How the router should know a username of this client: {subscriber_id, service_type, profile} or NULL.
CREATE OR REPLACE FUNCTION billing.router_account(p_app text, p_username text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'subscriber_id', s.id, 'service_type', s.service_type,
        'profile', (SELECT v.profile FROM billing.subscriptions v
                     WHERE v.client_id = s.client_id AND v.subscriber_id = s.id AND v.starts_at <= now()
                     ORDER BY (v.status = 'active' AND v.ends_at > now()) DESC, v.ends_at DESC LIMIT 1))
      FROM billing.subscribers s
     WHERE s.client_id = billing.client_id(p_app) AND s.username = p_username
$$;
