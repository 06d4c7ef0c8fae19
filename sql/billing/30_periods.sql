-- Billing library, part 3: a confirmed payment buys a period; the router follow-up marks it provisioned.

-- What the callback needs after an activation (or a replay of one).
CREATE OR REPLACE FUNCTION billing.activation_answer(p_client_id bigint, v billing.subscriptions, p_replay boolean)
RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'ok', true, 'replay', p_replay, 'subscription', billing.subscription_json(v),
        'subscriber_id', s.id, 'username', s.username, 'service_type', s.service_type,
        -- The router gets the profile of the period covering now (a replacing plan's at once; a queued period's
        -- when it begins: the worker switches the profile then).
        'profile', coalesce((billing.current_period(p_client_id, s.id)).profile, v.profile),
        'paid_until', (SELECT max(ends_at) FROM billing.subscriptions
                        WHERE client_id = p_client_id AND subscriber_id = s.id AND status = 'active'),
        'router_service', billing.router_service_for(p_client_id))
      FROM billing.subscribers s WHERE s.client_id = p_client_id AND s.id = v.subscriber_id
$$;

-- A confirmed payment (f010 = p_f010) buys its plan for its subscriber. Idempotent per payment: a second call
-- returns the same period with "replay": true. Paying for the running plan before its end extends from the
-- last paid end; paying for another plan replaces the running period at once; paying with none running starts now. Nothing is activated unless the payment matches the transaction (reference, amount)
-- and the transaction is still open.
-- {"ok": true, "subscription", "username", "profile", …} or {"ok": false, "message"}.
CREATE OR REPLACE FUNCTION billing.activate_paid(
    p_app text, p_f010 text, p_reference text, p_paid numeric, p_receipt text
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_client bigint := billing.client_id(p_app);
    t gateway.transactions;
    s billing.subscribers;
    p billing.plans;
    v billing.subscriptions;
    cur billing.subscriptions;
    v_start timestamptz;
    v_why text;
BEGIN
    SELECT * INTO t FROM gateway.transactions WHERE client_id = v_client AND f010 = p_f010;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('ok', false, 'message', format('no payment with f010 %s', p_f010));
    END IF;
    SELECT * INTO v FROM billing.subscriptions WHERE client_id = v_client AND transaction_id = t.id;
    IF FOUND THEN
        RETURN billing.activation_answer(v_client, v, true);
    END IF;
    IF t.state NOT IN ('received', 'dispatched', 'pending', 'timed_out') THEN
        v_why := format('the payment is already %s', t.state);
    ELSIF p_reference IS NOT NULL AND t.provider_ref IS NOT NULL AND p_reference <> t.provider_ref THEN
        v_why := format('reference %s is not this payment''s %s', p_reference, t.provider_ref);
    ELSIF p_paid IS NOT NULL AND t.amount IS NOT NULL AND p_paid <> t.amount THEN
        v_why := format('paid %s but %s was requested', p_paid, t.amount);
    END IF;
    IF v_why IS NOT NULL THEN
        RETURN jsonb_build_object('ok', false, 'message', 'not activated: ' || v_why);
    END IF;

    -- One activation at a time per subscriber, so two payments in a row chain instead of overlapping.
    SELECT * INTO s FROM billing.subscribers
     WHERE client_id = v_client AND username = t.request->>'f006' FOR UPDATE;
    SELECT * INTO p FROM billing.plans WHERE client_id = v_client AND code = t.request->>'f001';
    IF s.id IS NULL OR p.id IS NULL OR p.service_type <> s.service_type OR s.status = 'removed'
       OR s.hold_reason IS NOT NULL THEN
        v_why := CASE WHEN s.status = 'removed' THEN format('subscriber %s was removed', s.username)
                      WHEN s.hold_reason IS NOT NULL THEN format('subscriber %s is suspended by the operator (%s)',
                                                                 s.username, s.hold_reason)
                      ELSE format('subscriber %s or plan %s no longer matches', t.request->>'f006', t.request->>'f001')
                 END;
        UPDATE gateway.transactions
           SET flags = flags || jsonb_build_object('needs_review', true, 'billing', 'paid but not activated: ' || v_why)
         WHERE id = t.id;
        RETURN jsonb_build_object('ok', false, 'message', 'paid but not activated: ' || v_why || '; flagged for review');
    END IF;

    cur := billing.current_period(v_client, s.id);
    IF cur.id IS NOT NULL AND cur.plan_id <> p.id THEN
        -- Another plan replaces the running one at once (the subscriber was told before paying): its period ends
        -- now, periods already queued behind it move after the new one, and the router job that follows sets the
        -- new profile and drops the running session.
        v_start := greatest(now(), cur.starts_at + interval '1 microsecond');
        UPDATE billing.subscriptions SET status = 'replaced', ends_at = v_start, expired_at = now()
         WHERE id = cur.id;
        PERFORM billing.shift_queued(v_client, s.id, v_start + p.duration);
    ELSE
        SELECT max(ends_at) INTO v_start FROM billing.subscriptions
         WHERE client_id = v_client AND subscriber_id = s.id AND status = 'active' AND ends_at > now();
        v_start := greatest(now(), coalesce(v_start, now()));
    END IF;
    INSERT INTO billing.subscriptions (client_id, subscriber_id, plan_id, transaction_id, price, profile,
                                       service_type, starts_at, ends_at)
    VALUES (v_client, s.id, p.id, t.id, coalesce(t.amount, p.price), p.profile, p.service_type,
            v_start, v_start + p.duration)
    RETURNING * INTO v;
    UPDATE billing.subscribers SET status = 'active', updated_at = now() WHERE id = s.id;
    -- A suspension still queued (e.g. from the expiry a moment ago) must not switch a paid account off.
    PERFORM billing.cancel_router_jobs(v_client, s.username, 'suspend', 'paid by f010 ' || t.f010);
    RETURN billing.activation_answer(v_client, v, false);
END $$;

-- The router follow-up of payment p_f010 finished: done | pending (router unreachable, retrying) | failed.
-- When done but the paid time has run out meanwhile (a long router outage), a suspension is queued at once.
-- Returns the period, or NULL when that payment bought none.
CREATE OR REPLACE FUNCTION billing.mark_provisioning(p_app text, p_f010 text, p_state text, p_detail text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_client bigint := billing.client_id(p_app);
    v billing.subscriptions;
    s billing.subscribers;
    v_late boolean := false;
BEGIN
    SELECT v2.* INTO v FROM billing.subscriptions v2
      JOIN gateway.transactions t ON t.id = v2.transaction_id
     WHERE v2.client_id = v_client AND t.client_id = v_client AND t.f010 = p_f010;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF p_state = 'done' THEN
        -- Enabling the account at today's profile also settles earlier periods still waiting for the router.
        UPDATE billing.subscriptions
           SET provisioning = 'done', provisioning_detail = left(p_detail, 500), provisioned_at = now()
         WHERE client_id = v_client AND subscriber_id = v.subscriber_id AND id <= v.id AND provisioning <> 'done';
        IF (billing.current_period(v_client, v.subscriber_id)).id IS NULL THEN
            SELECT * INTO s FROM billing.subscribers WHERE client_id = v_client AND id = v.subscriber_id;
            PERFORM billing.enqueue_router_job(v_client, s.id, s.username, s.service_type, 'suspend', NULL,
                'enabled after the paid period ended', format('billing:suspend:%s:s%s:late%s', v_client, s.id, v.id));
            v_late := true;
        END IF;
    ELSIF p_state IN ('pending', 'failed') THEN
        UPDATE billing.subscriptions SET provisioning = p_state, provisioning_detail = left(p_detail, 500)
         WHERE id = v.id AND provisioning <> 'done';
    ELSE
        RAISE EXCEPTION 'provisioning state must be done, pending or failed' USING ERRCODE = 'MP400';
    END IF;
    SELECT * INTO v FROM billing.subscriptions WHERE id = v.id;
    RETURN billing.subscription_json(v) || jsonb_build_object('suspend_queued', v_late);
END $$;
