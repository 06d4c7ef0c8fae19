-- Billing library, part 7: the public captive page. What a subscriber may see and do without the operator:
-- the ISP's plans, the progress of their own payment, their own account. Nothing here returns a password.

-- The name of the subscription-kind service assigned to this client (the one named 'isp' first), or NULL.
CREATE OR REPLACE FUNCTION billing.subscription_service_for(p_client_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.name FROM gateway.assignments a JOIN gateway.services s ON s.id = a.service_id
     WHERE a.client_id = p_client_id AND a.active AND s.active AND s.kind = 'subscription'
     ORDER BY (s.name = 'isp') DESC, s.id LIMIT 1
$$;

-- What the captive page shows of one ISP: its name, its pay service, and its active plans of one service type
-- (all types when NULL). NULL for an unknown or inactive client.
CREATE OR REPLACE FUNCTION billing.captive_offer(p_app text, p_service_type text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'app_id', c.app_id, 'client_id', c.id, 'company_name', c.company_name,
        'pay_service', billing.subscription_service_for(c.id),
        'plans', coalesce((SELECT jsonb_agg(billing.plan_json(p) ORDER BY p.price, p.code) FROM billing.plans p
                            WHERE p.client_id = c.id AND p.active
                              AND (p_service_type IS NULL OR p.service_type = p_service_type)), '[]'))
      FROM gateway.clients c WHERE c.app_id = p_app AND c.status = 'active'
$$;

-- How one payment of this client is going, in words for the subscriber:
-- {"stage": paying|switching_on|connected|router_failed|failed, "message", "username", "ends_at"}.
-- NULL for an unknown f010. router_failed: paid, but the router refused the account (the ISP must act).
CREATE OR REPLACE FUNCTION billing.captive_progress(p_client_id bigint, p_f010 text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t gateway.transactions;
    v billing.subscriptions;
    v_end timestamptz;
BEGIN
    SELECT * INTO t FROM gateway.transactions WHERE client_id = p_client_id AND f010 = p_f010;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v FROM billing.subscriptions WHERE client_id = p_client_id AND transaction_id = t.id;
    IF v.id IS NULL THEN
        IF t.state IN ('failed', 'timed_out', 'completed') THEN
            RETURN jsonb_build_object('stage', 'failed', 'username', t.request->>'f006', 'message',
                CASE WHEN t.state = 'timed_out' THEN 'no answer from M-Pesa in time; nothing was added'
                     ELSE coalesce(regexp_replace(t.reason, '^not activated: ', ''), 'the payment did not go through')
                END);
        END IF;
        RETURN jsonb_build_object('stage', 'paying', 'username', t.request->>'f006',
                                  'message', 'check your phone and enter your M-Pesa PIN');
    END IF;
    SELECT max(ends_at) INTO v_end FROM billing.subscriptions
     WHERE client_id = p_client_id AND subscriber_id = v.subscriber_id AND status = 'active';
    RETURN jsonb_build_object(
        'stage', CASE v.provisioning WHEN 'done' THEN 'connected' WHEN 'failed' THEN 'router_failed'
                                     ELSE 'switching_on' END,
        'username', t.request->>'f006', 'ends_at', coalesce(v_end, v.ends_at), 'receipt', t.receipt,
        'message', CASE WHEN v.provisioning = 'done' THEN 'connected until '
                                                       || to_char(coalesce(v_end, v.ends_at) AT TIME ZONE 'UTC',
                                                                  'YYYY-MM-DD HH24:MI "UTC"')
                        WHEN v.provisioning = 'failed' THEN 'paid, but the router refused your account; '
                                                            || 'the ISP sees it and will switch you on'
                        ELSE 'paid; switching your access on' END);
END $$;

-- The subscriber of this client with that phone, if any (a new hotspot customer is recognised by phone).
CREATE OR REPLACE FUNCTION billing.subscriber_by_phone(p_client_id bigint, p_phone text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT billing.subscriber_json(s) FROM billing.subscribers s
     WHERE s.client_id = p_client_id AND s.phone = p_phone ORDER BY s.id LIMIT 1
$$;
