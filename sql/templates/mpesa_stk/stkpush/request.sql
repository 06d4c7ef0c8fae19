CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated M-Pesa STK push request: client {app}, service {service}, route {route} (template {kind}).
-- f004 = amount (whole shillings), f005 = payer's phone, f006 = account reference (else f010), f001 = description.
DECLARE
    v_amount numeric := nullif(data_input->>'f004', '')::numeric;
    v_ref text := left(regexp_replace(coalesce(nullif(data_input->>'f006', ''), unique_id), '[^A-Za-z0-9]', '', 'g'), 12);
BEGIN
    IF v_amount IS NULL OR v_amount <> trunc(v_amount) OR v_amount < 1 OR v_amount > 250000 THEN
        RETURN QUERY SELECT json_build_object('status', '400', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'f004 must be a whole number of shillings from 1 to 250000 (M-Pesa takes no cents)');
        RETURN;
    END IF;
    IF coalesce(data_input->>'f005', '') !~ '^254[17][0-9]{{8}}$' THEN
        RETURN QUERY SELECT json_build_object('status', '400', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'f005 must be a Safaricom number such as 0712345678 or 254712345678');
        RETURN;
    END IF;
    RETURN QUERY SELECT json_build_object(
        'status', '200', 'type', 'service', 'message', 'sending STK push', 'version', '1',
        'action', 'SERVICE', 'command', 'stkpush', 'serviceurl', '/stkpush', 'servicemethod', 'POST',
        'servicecredentials', 'mpesa',
        'servicepayload', json_build_object(
            'amount', trunc(v_amount)::text,
            'phone', data_input->>'f005',
            'account_reference', CASE WHEN v_ref = '' THEN 'Payment' ELSE v_ref END,
            'description', left(regexp_replace(coalesce(nullif(data_input->>'f001', ''), 'Payment'),
                                               '[^A-Za-z0-9 ]', '', 'g'), 13),
            'callback_url', data_input->>'callback_url'));
END
$fn$;
