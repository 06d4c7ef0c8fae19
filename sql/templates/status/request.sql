CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated status lookup: client {app}, service {service}, route {route} (template {kind}).
-- Answers at once with the state of this client's earlier transaction whose f010 is given in f006.
DECLARE
    v json := gateway.transaction_status({app}, coalesce(data_input->>'f006', ''));
BEGIN
    IF v IS NULL THEN
        RETURN QUERY SELECT json_build_object('status', '404', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'no transaction with f010 ' || coalesce(data_input->>'f006', '(f006 missing)'));
    ELSE
        RETURN QUERY SELECT json_build_object('status', '200', 'type', 'status', 'version', '1', 'action', 'OUTPUT',
            'message', 'transaction ' || (v->>'status'), 'data', v);
    END IF;
END
$fn$;
