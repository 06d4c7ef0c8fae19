CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json, data_callback json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated M-Pesa STK callback: client {app}, service {service}, route {route} (template {kind}).
-- gateway.stk_outcome reads Daraja's STK callback or the worker's STK query answer (codes, never text).
DECLARE
    o jsonb := gateway.stk_outcome(data_callback);
BEGIN
    IF o->>'state' = 'pending' THEN
        RETURN QUERY SELECT json_build_object('status', '202', 'type', 'pending', 'version', '1',
            'action', 'PENDING', 'message', 'the customer has not answered yet');
    ELSIF o->>'state' = 'paid' THEN
        RETURN QUERY SELECT json_build_object(
            'status', '200', 'type', 'success', 'version', '1', 'action', 'OUTPUT',
            'message', o->>'message', 'reference', o->>'reference', 'receipt', o->>'receipt', 'amount', o->>'amount',
            'data', json_strip_nulls(json_build_object('receipt', o->>'receipt', 'amount', o->>'amount',
                                                       'phone', o->>'phone', 'transaction_date', o->>'date',
                                                       'result_code', 0, 'settled_by', o->>'settled_by')));
    ELSE
        RETURN QUERY SELECT json_build_object(
            'status', '402', 'type', 'error', 'version', '1', 'action', 'ERROR', 'reference', o->>'reference',
            'message', o->>'message',
            'data', json_build_object('result_code', o->>'code', 'result_desc', o->>'desc'));
    END IF;
END
$fn$;
