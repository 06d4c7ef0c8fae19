CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json, code integer, data_output json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated M-Pesa STK query response: client {app}, service {service}, route {route} (template {kind}).
BEGIN
    IF code = 200 THEN
        RETURN QUERY SELECT json_build_object('status', '200', 'type', 'status', 'version', '1', 'action', 'OUTPUT',
            'message', 'M-Pesa says: ' || coalesce(data_output->>'state', 'unknown'), 'data', data_output);
    ELSE
        RETURN QUERY SELECT json_build_object('status', '502', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'M-Pesa query failed: ' || coalesce(data_output->>'message', 'HTTP ' || code));
    END IF;
END
$fn$;
