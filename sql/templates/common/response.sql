CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json, code integer, data_output json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated response function: client {app}, service {service}, route {route} (template {kind}).
-- code is the microservice's HTTP status; 502 = unreachable/failed, 504 = timed out (set by the gateway).
BEGIN
    IF code BETWEEN 200 AND 299 THEN
        IF data_output->>'action' = 'PENDING' THEN
            -- The service accepted the work and will POST the outcome to data_input->>'callback_url'.
            RETURN QUERY SELECT json_build_object(
                'status', '202', 'type', 'pending', 'version', '1', 'action', 'PENDING',
                'message', coalesce(data_output->>'message', 'accepted; awaiting the service''s callback'),
                'reference', data_output->>'reference', 'data', data_output);
            RETURN;
        END IF;
        RETURN QUERY SELECT json_build_object(
            'status', '200', 'type', 'success', 'version', '1', 'action', 'OUTPUT',
            'message', coalesce(data_output->>'message', 'success'), 'data', data_output);
    ELSIF code = 504 THEN
        RETURN QUERY SELECT json_build_object(
            'status', '504', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'service ' || {service} || ' timed out; retry with a new f010 or poll the status');
    ELSIF code BETWEEN 400 AND 499 THEN
        RETURN QUERY SELECT json_build_object(
            'status', code::text, 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', coalesce(data_output->>'message', 'service ' || {service} || ' rejected the request'));
    ELSE
        RETURN QUERY SELECT json_build_object(
            'status', '502', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'service ' || {service} || ' failed: '
                       || coalesce(data_output->>'message', data_output->>'error', 'HTTP ' || code));
    END IF;
END
$fn$;
