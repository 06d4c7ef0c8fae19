CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated ISP subscriber status: client {app}, service {service}, route {route} (template {kind}).
-- f006 = subscriber username. Answers at once: plan, end of paid time, state (new|active|expired|suspended)
-- and provisioning ("paid, provisioning pending" while the router has not confirmed).
DECLARE
    v jsonb := billing.subscriber_status({app}, coalesce(data_input->>'f006', ''));
BEGIN
    IF v IS NULL THEN
        RETURN QUERY SELECT json_build_object('status', '404', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'no subscriber ' || coalesce(nullif(data_input->>'f006', ''), '(f006 missing)'));
        RETURN;
    END IF;
    RETURN QUERY SELECT json_build_object('status', '200', 'type', 'status', 'version', '1', 'action', 'OUTPUT',
        'message', v->>'username' || ': ' || (v->>'summary'), 'data', v);
END
$fn$;
