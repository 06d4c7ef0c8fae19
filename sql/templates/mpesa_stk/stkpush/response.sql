CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json, code integer, data_output json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated M-Pesa STK push response: client {app}, service {service}, route {route} (template {kind}).
-- Daraja accepted the push → PENDING until the callback (or the worker's STK query) settles it.
BEGIN
    IF code = 200 AND data_output->>'ResponseCode' = '0' THEN
        RETURN QUERY SELECT json_build_object(
            'status', '202', 'type', 'pending', 'version', '1', 'action', 'PENDING',
            'message', 'STK push sent: the customer must enter the M-Pesa PIN on the phone',
            'reference', data_output->>'CheckoutRequestID',
            'data', json_build_object('MerchantRequestID', data_output->>'MerchantRequestID',
                                      'CheckoutRequestID', data_output->>'CheckoutRequestID',
                                      'CustomerMessage', data_output->>'CustomerMessage'));
    ELSIF code = 409 THEN
        RETURN QUERY SELECT json_build_object('status', '409', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'an M-Pesa prompt is already open on this phone; retry in about a minute with a new f010');
    ELSIF code = 503 THEN
        RETURN QUERY SELECT json_build_object('status', '503', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'M-Pesa is busy (rate limited); retry shortly with a new f010');
    ELSIF code = 504 THEN
        RETURN QUERY SELECT json_build_object('status', '504', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'M-Pesa did not answer in time; check the status before retrying with a new f010');
    ELSIF code BETWEEN 400 AND 499 THEN
        RETURN QUERY SELECT json_build_object('status', '400', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', coalesce(data_output->>'message', 'M-Pesa rejected the request'));
    ELSE
        RETURN QUERY SELECT json_build_object('status', '502', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'M-Pesa request failed: ' || coalesce(data_output->>'message', 'HTTP ' || code));
    END IF;
END
$fn$;
