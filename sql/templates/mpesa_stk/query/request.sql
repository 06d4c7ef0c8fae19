CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated M-Pesa STK query: client {app}, service {service}, route {route} (template {kind}).
-- f006 = the f010 of the earlier STK push to ask Safaricom about.
DECLARE
    v json := gateway.transaction_status({app}, coalesce(data_input->>'f006', ''));
BEGIN
    IF v IS NULL OR v->>'reference' IS NULL THEN
        RETURN QUERY SELECT json_build_object('status', '404', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'no STK push with f010 ' || coalesce(data_input->>'f006', '(f006 missing)'));
        RETURN;
    END IF;
    RETURN QUERY SELECT json_build_object(
        'status', '200', 'type', 'service', 'version', '1', 'action', 'SERVICE', 'command', 'stkquery',
        'message', 'querying M-Pesa', 'serviceurl', '/stkquery', 'servicemethod', 'POST',
        'servicecredentials', 'mpesa',
        'servicepayload', json_build_object('checkout_request_id', v->>'reference'));
END
$fn$;
