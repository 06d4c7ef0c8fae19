CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated request function: client {app}, service {service}, route {route} (template {kind}).
-- Forwards the request to the service's microservice at <base_url>/<route>. Edit freely: regeneration
-- never overwrites an edited function.
BEGIN
    RETURN QUERY SELECT json_build_object(
        'status', '200', 'type', 'service', 'message', 'calling service', 'version', '1',
        'action', 'SERVICE', 'command', {route},
        'serviceurl', '/' || {route},
        'servicemethod', 'POST',
        'servicepayload', json_build_object('unique_id', unique_id, 'route', {route}, 'data', data_input));
END
$fn$;
