CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json, data_callback json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated callback function: client {app}, service {service}, route {route} (template {kind}).
-- Expects a JSON object with "status" (completed|failed|pending) and optional "message", "reference",
-- "receipt" and "amount".
DECLARE
    v_status text := lower(coalesce(data_callback->>'status', ''));
BEGIN
    IF v_status IN ('completed', 'success', 'ok') THEN
        RETURN QUERY SELECT json_build_object(
            'status', '200', 'type', 'success', 'version', '1', 'action', 'OUTPUT',
            'message', coalesce(data_callback->>'message', 'completed'),
            'reference', data_callback->>'reference', 'receipt', data_callback->>'receipt',
            'amount', data_callback->>'amount', 'data', data_callback);
    ELSIF v_status = 'pending' THEN
        RETURN QUERY SELECT json_build_object('status', '202', 'type', 'pending', 'version', '1',
            'action', 'PENDING', 'message', 'still in progress');
    ELSE
        RETURN QUERY SELECT json_build_object(
            'status', '402', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'reference', data_callback->>'reference',
            'message', coalesce(data_callback->>'message', 'the service reported a failure'), 'data', data_callback);
    END IF;
END
$fn$;
