-- Billing library, part 4: expiry. The worker ends periods past their end; a subscriber with no paid period
-- left is suspended and a router job (disable + drop the session) is queued, retried until the router answers.

-- Expire one period of one client. Returns skipped | continued | rolled_over | suspended.
CREATE OR REPLACE FUNCTION billing.expire_subscription(p_client_id bigint, p_subscription_id bigint) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v billing.subscriptions;
    s billing.subscribers;
    nxt billing.subscriptions;
BEGIN
    UPDATE billing.subscriptions SET status = 'expired', expired_at = now()
     WHERE client_id = p_client_id AND id = p_subscription_id AND status = 'active' AND ends_at <= now()
    RETURNING * INTO v;
    IF NOT FOUND THEN
        RETURN 'skipped';
    END IF;
    SELECT * INTO s FROM billing.subscribers WHERE client_id = p_client_id AND id = v.subscriber_id FOR UPDATE;
    nxt := billing.current_period(p_client_id, s.id);
    IF nxt.id IS NOT NULL AND s.hold_reason IS NULL AND s.status <> 'removed' THEN
        -- An extension takes over: access continues; only a different plan changes the router profile.
        IF nxt.profile IS DISTINCT FROM v.profile THEN
            PERFORM billing.cancel_router_jobs(p_client_id, s.username, 'suspend', 'period ' || nxt.id || ' began');
            PERFORM billing.enqueue_router_job(p_client_id, s.id, s.username, s.service_type, 'activate', nxt.profile,
                format('period %s began with profile %s', nxt.id, nxt.profile),
                format('billing:activate:%s:s%s:p%s', p_client_id, s.id, nxt.id));
            RETURN 'rolled_over';
        END IF;
        RETURN 'continued';
    END IF;
    IF nxt.id IS NOT NULL OR s.status = 'removed' THEN
        RETURN 'continued';  -- held or removed: the operator's job already switched the account off
    END IF;
    UPDATE billing.subscribers SET status = 'suspended', updated_at = now()
     WHERE id = s.id AND status <> 'suspended';
    PERFORM billing.cancel_router_jobs(p_client_id, s.username, 'activate', 'plan ended');
    IF NOT billing.router_job_pending(p_client_id, s.username, 'suspend') THEN
        PERFORM billing.enqueue_router_job(p_client_id, s.id, s.username, s.service_type, 'suspend', NULL,
            format('plan ended at %s', v.ends_at), format('billing:suspend:%s:s%s:x%s', p_client_id, s.id, v.id));
    END IF;
    RETURN 'suspended';
END $$;

-- Expire up to p_limit due periods (all clients; each handled by the tenant-scoped function above).
-- Rows another worker holds are skipped, not waited for. Returns counts by outcome.
CREATE OR REPLACE FUNCTION billing.expire_due(p_limit integer) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    v_outcome text;
    v_counts jsonb := '{"expired": 0, "continued": 0, "rolled_over": 0, "suspended": 0}'::jsonb;
BEGIN
    FOR r IN SELECT id, client_id FROM billing.subscriptions
              WHERE status = 'active' AND ends_at <= now()
              ORDER BY ends_at LIMIT p_limit
                FOR UPDATE SKIP LOCKED
    LOOP
        v_outcome := billing.expire_subscription(r.client_id, r.id);
        CONTINUE WHEN v_outcome = 'skipped';
        v_counts := v_counts || jsonb_build_object('expired', (v_counts->>'expired')::integer + 1,
                                                   v_outcome, (v_counts->>v_outcome)::integer + 1);
    END LOOP;
    RETURN v_counts;
END $$;
