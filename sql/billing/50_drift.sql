-- Billing library, part 5: drift repair. Python lists a client's router accounts; these functions compare them
-- with billing (paying subscribers enabled at their period's profile, every other account disabled), record
-- every difference and queue the repair, so a router reset or a manual change cannot leak service.

-- Clients whose router is due for a check, leased so two workers never check the same router at once.
-- A client qualifies with billing subscribers, stored router credentials and an assigned router service.
CREATE OR REPLACE FUNCTION billing.claim_drift_checks(p_interval_s integer, p_limit integer, p_app text)
RETURNS TABLE(client_id bigint, app_id text, router_service text, service_types text[])
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH eligible AS (
        SELECT c.id, c.app_id, billing.router_service_for(c.id) AS svc,
               ARRAY(SELECT DISTINCT x.t FROM (SELECT s.service_type AS t FROM billing.subscribers s
                                                WHERE s.client_id = c.id
                                               UNION SELECT p.service_type FROM billing.plans p
                                                WHERE p.client_id = c.id) x ORDER BY 1) AS types
          FROM gateway.clients c
          LEFT JOIN billing.drift_checks dc ON dc.client_id = c.id
         WHERE c.status = 'active' AND (p_app IS NULL OR c.app_id = p_app)
           AND (dc.last_started_at IS NULL OR dc.last_started_at <= now() - make_interval(secs => p_interval_s))
           AND EXISTS (SELECT 1 FROM billing.subscribers s WHERE s.client_id = c.id)
           AND EXISTS (SELECT 1 FROM gateway.provider_credentials pc
                        WHERE pc.client_id = c.id AND pc.provider = 'router')
    ), due AS (
        SELECT * FROM eligible WHERE svc IS NOT NULL ORDER BY id LIMIT p_limit
    ), claimed AS (
        INSERT INTO billing.drift_checks AS dc (client_id, last_started_at)
        SELECT id, now() FROM due
        ON CONFLICT (client_id) DO UPDATE SET last_started_at = now()
         WHERE dc.last_started_at <= now() - make_interval(secs => p_interval_s)
        RETURNING dc.client_id
    )
    SELECT d.id, d.app_id, d.svc, d.types FROM due d JOIN claimed ON claimed.client_id = d.id
$$;

CREATE OR REPLACE FUNCTION billing.finish_drift_check(p_client_id bigint, p_result jsonb) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    UPDATE billing.drift_checks SET last_finished_at = now(), last_result = p_result WHERE client_id = p_client_id
$$;

-- Compare one client's router accounts of one service type (the router adapter's /accounts listing:
-- [{"name","profile","disabled"}]) with billing; record and repair every difference.
-- Returns {"service_type", "checked", "differences", "items": [{username, kind, repair, outbox_id}]}.
CREATE OR REPLACE FUNCTION billing.reconcile_router(p_client_id bigint, p_service_type text, p_accounts jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    v_kind text;
    v_repair text;
    v_report bigint;
    v_outbox bigint;
    v_detail text;
    v_checked integer := 0;
    v_items jsonb := '[]'::jsonb;
BEGIN
    FOR r IN
        WITH router AS (
            -- Should a name appear twice, judge the enabled entry: that is the one that can leak.
            SELECT DISTINCT ON (a->>'name') a->>'name' AS name, a->>'profile' AS profile,
                   coalesce((a->>'disabled')::boolean, false) AS disabled
              FROM jsonb_array_elements(coalesce(p_accounts, '[]'::jsonb)) a
             WHERE coalesce(a->>'name', '') <> ''
             ORDER BY a->>'name', coalesce((a->>'disabled')::boolean, false)
        ), billed AS (
            -- A held or removed subscriber must be off whatever was paid.
            SELECT s.id, s.username, cur.profile AS expected_profile,
                   cur.id IS NOT NULL AND s.hold_reason IS NULL AND s.status <> 'removed' AS paid
              FROM billing.subscribers s
              LEFT JOIN LATERAL (
                  SELECT v.id, v.profile FROM billing.subscriptions v
                   WHERE v.client_id = s.client_id AND v.subscriber_id = s.id AND v.status = 'active'
                     AND v.starts_at <= now() AND v.ends_at > now()
                   ORDER BY v.starts_at DESC LIMIT 1) cur ON true
             WHERE s.client_id = p_client_id AND s.service_type = p_service_type
        )
        SELECT b.id AS subscriber_id, coalesce(b.username, rt.name) AS username, b.username IS NOT NULL AS known,
               coalesce(b.paid, false) AS paid, b.expected_profile, rt.name IS NOT NULL AS on_router,
               rt.profile, coalesce(rt.disabled, true) AS disabled
          FROM billed b FULL JOIN router rt ON rt.name = b.username
         ORDER BY 2
    LOOP
        v_checked := v_checked + 1;
        v_kind := CASE
            WHEN r.known AND r.paid AND NOT r.on_router THEN 'missing'
            WHEN r.known AND r.paid AND r.disabled THEN 'disabled'
            WHEN r.known AND r.paid AND r.profile IS DISTINCT FROM r.expected_profile THEN 'wrong_profile'
            WHEN r.known AND NOT r.paid AND NOT r.disabled THEN 'enabled_unpaid'
            WHEN NOT r.known AND NOT r.disabled THEN 'unknown_account'
        END;
        CONTINUE WHEN v_kind IS NULL;
        v_repair := CASE WHEN v_kind IN ('missing', 'disabled', 'wrong_profile') THEN 'activate' ELSE 'suspend' END;
        INSERT INTO billing.drift_reports (client_id, service_type, username, kind, expected, actual, repair)
        VALUES (p_client_id, p_service_type, r.username, v_kind,
                CASE WHEN r.known THEN jsonb_build_object('enabled', r.paid, 'profile', r.expected_profile) END,
                CASE WHEN r.on_router THEN jsonb_build_object('enabled', NOT r.disabled, 'profile', r.profile) END,
                v_repair)
        RETURNING id INTO v_report;
        -- The opposite job, if still queued, is now wrong; the same job, if queued, already repairs this.
        PERFORM billing.cancel_router_jobs(p_client_id, r.username,
                                           CASE v_repair WHEN 'activate' THEN 'suspend' ELSE 'activate' END,
                                           'drift report ' || v_report);
        v_outbox := NULL;
        IF billing.router_job_pending(p_client_id, r.username, v_repair) THEN
            v_detail := 'a repair was already queued';
        ELSE
            v_outbox := billing.enqueue_router_job(p_client_id, r.subscriber_id, r.username, p_service_type, v_repair,
                                                   r.expected_profile, 'drift: ' || v_kind,
                                                   format('billing:drift:%s', v_report));
            v_detail := CASE WHEN v_outbox IS NULL THEN 'no router service assigned: repair not queued'
                             ELSE 'repair queued' END;
        END IF;
        UPDATE billing.drift_reports SET outbox_id = v_outbox, detail = v_detail WHERE id = v_report;
        v_items := v_items || jsonb_build_object('username', r.username, 'kind', v_kind, 'repair', v_repair,
                                                 'outbox_id', v_outbox, 'detail', v_detail);
    END LOOP;
    RETURN jsonb_build_object('service_type', p_service_type, 'checked', v_checked,
                              'differences', jsonb_array_length(v_items), 'items', v_items);
END $$;

-- The latest drift reports of one client, newest first.
CREATE OR REPLACE FUNCTION billing.drift_reports_of(p_app text, p_limit integer) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_agg(x ORDER BY (x->>'id')::bigint DESC), '[]'::jsonb)
      FROM (SELECT jsonb_build_object('id', d.id, 'service_type', d.service_type, 'username', d.username,
                                      'kind', d.kind, 'expected', d.expected, 'actual', d.actual, 'repair', d.repair,
                                      'job_status', o.status, 'detail', d.detail, 'created_at', d.created_at) AS x
              FROM billing.drift_reports d LEFT JOIN gateway.outbox o ON o.id = d.outbox_id
             WHERE d.client_id = billing.client_id(p_app)
             ORDER BY d.id DESC LIMIT p_limit) q
$$;
