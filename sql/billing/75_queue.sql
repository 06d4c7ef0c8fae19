-- Billing library, part 7b: the operator's read paths for the portal (ISP clients, the router job queue,
-- periods about to end) and the one write on the queue (retry a job that gave up).

-- Clients that run ISP billing (a subscription service assigned, or plans), by app_id.
CREATE OR REPLACE FUNCTION billing.isp_clients() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'app_id', c.app_id, 'company_name', c.company_name, 'status', c.status,
               'plans', (SELECT count(*) FROM billing.plans p WHERE p.client_id = c.id AND p.active),
               'subscribers', (SELECT count(*) FROM billing.subscribers s
                                WHERE s.client_id = c.id AND s.status <> 'removed'),
               'active', (SELECT count(DISTINCT v.subscriber_id) FROM billing.subscriptions v
                           WHERE v.client_id = c.id AND v.status = 'active' AND v.starts_at <= now()
                             AND v.ends_at > now()),
               'pay_service', billing.subscription_service_for(c.id),
               'router_service', billing.router_service_for(c.id)) ORDER BY c.app_id), '[]')
      FROM gateway.clients c
     WHERE billing.subscription_service_for(c.id) IS NOT NULL
        OR EXISTS (SELECT 1 FROM billing.plans p WHERE p.client_id = c.id)
$$;

-- The client's router jobs, newest first, with their delivery state; p_state: pending | delivered | dead | NULL.
CREATE OR REPLACE FUNCTION billing.router_jobs_of(p_app text, p_state text, p_limit integer) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_agg(x ORDER BY (x->>'outbox_id')::bigint DESC), '[]')
      FROM (SELECT jsonb_build_object(
                'outbox_id', j.outbox_id, 'username', j.username, 'action', j.action, 'reason', j.reason,
                'status', o.status, 'attempts', o.attempts, 'max_attempts', o.max_attempts,
                'next_attempt_at', o.next_attempt_at, 'last_status', o.last_status, 'last_error', o.last_error,
                'superseded', coalesce(o.last_error LIKE 'superseded:%', false), 'created_at', j.created_at) AS x
              FROM billing.router_jobs j JOIN gateway.outbox o ON o.id = j.outbox_id
             WHERE j.client_id = billing.client_id(p_app) AND (p_state IS NULL OR o.status = p_state)
             ORDER BY j.outbox_id DESC LIMIT p_limit) q
$$;

-- Run a router job that gave up once more, now. Superseded jobs stay dead: a later job replaced them.
-- :raise MP404: not this client's job; MP409: not dead, or superseded.
CREATE OR REPLACE FUNCTION billing.retry_router_job(p_app text, p_outbox_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o gateway.outbox;
BEGIN
    SELECT ob.* INTO o FROM gateway.outbox ob JOIN billing.router_jobs j ON j.outbox_id = ob.id
     WHERE j.client_id = billing.client_id(p_app) AND ob.id = p_outbox_id FOR UPDATE OF ob;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no router job % for %', p_outbox_id, p_app USING ERRCODE = 'MP404';
    END IF;
    IF o.status <> 'dead' OR coalesce(o.last_error LIKE 'superseded:%', false) THEN
        RAISE EXCEPTION 'router job % is %; only a job that gave up can be retried', p_outbox_id,
            CASE WHEN o.status = 'dead' THEN 'superseded by a later job' ELSE o.status END USING ERRCODE = 'MP409';
    END IF;
    UPDATE gateway.outbox SET status = 'pending', attempts = 0, next_attempt_at = now() WHERE id = o.id;
    RETURN jsonb_build_object('outbox_id', o.id, 'status', 'pending');
END $$;

-- Periods running now that end within p_within, soonest first (whom to remind before they drop off).
CREATE OR REPLACE FUNCTION billing.expiring_of(p_app text, p_within interval, p_limit integer) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_agg(billing.subscription_json(v) ORDER BY v.ends_at), '[]')
      FROM (SELECT v.* FROM billing.subscriptions v
             WHERE v.client_id = billing.client_id(p_app) AND v.status = 'active' AND v.starts_at <= now()
               AND v.ends_at > now() AND v.ends_at <= now() + p_within
               AND NOT EXISTS (SELECT 1 FROM billing.subscriptions n  -- a queued extension carries on
                                WHERE n.client_id = v.client_id AND n.subscriber_id = v.subscriber_id
                                  AND n.status = 'active' AND n.starts_at >= v.ends_at)
             ORDER BY v.ends_at LIMIT p_limit) v
$$;
