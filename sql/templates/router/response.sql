CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json, code integer, data_output json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated router response: client {app}, service {service}, route {route} (template {kind}).
-- code is the router adapter's HTTP status; 502 = router unreachable or refused, 504 = router timed out.
DECLARE
    v_msg text := coalesce(data_output->>'message', data_output->>'error', 'HTTP ' || code);
BEGIN
    IF code BETWEEN 200 AND 299 THEN
        RETURN QUERY SELECT json_build_object('status', '200', 'type', 'success', 'version', '1', 'action', 'OUTPUT',
            'message', {route} || ' ' || coalesce(data_output->>'username', '') || ': '
                       || coalesce(data_output->>'result', data_output->>'sessions_removed' || ' session(s) removed',
                                   'done'),
            'data', data_output);
    ELSIF code IN (502, 503, 504) THEN
        RETURN QUERY SELECT json_build_object('status', code::text, 'type', 'error', 'version', '1',
            'action', 'ERROR', 'message', 'router unreachable: ' || v_msg);
    ELSIF code BETWEEN 400 AND 499 THEN
        RETURN QUERY SELECT json_build_object('status', code::text, 'type', 'error', 'version', '1',
            'action', 'ERROR', 'message', 'the router adapter refused the call: ' || v_msg);
    ELSE
        RETURN QUERY SELECT json_build_object('status', '502', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'the router adapter failed: ' || v_msg);
    END IF;
END
$fn$;
