CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated ISP plan payment: client {app}, service {service}, route {route} (template {kind}).
-- f006 = subscriber username, f001 = plan code, f004 = amount (at least the plan's price, whole shillings),
-- f005 = paying phone (default: the subscriber's phone). Sends an STK push; access starts only when the
-- callback confirms the money (see the callback_ function).
DECLARE
    v_amount numeric := nullif(data_input->>'f004', '')::numeric;
    q jsonb := billing.quote({app}, data_input->>'f006', data_input->>'f001', v_amount);
    v_phone text;
BEGIN
    IF NOT (q->>'ok')::boolean THEN
        RETURN QUERY SELECT json_build_object('status', q->>'status', 'type', 'error', 'version', '1',
            'action', 'ERROR', 'message', q->>'message');
        RETURN;
    END IF;
    IF v_amount <> trunc(v_amount) OR v_amount > 250000 THEN
        RETURN QUERY SELECT json_build_object('status', '400', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'f004 must be a whole number of shillings up to 250000 (M-Pesa takes no cents)');
        RETURN;
    END IF;
    v_phone := coalesce(nullif(data_input->>'f005', ''), q->'subscriber'->>'phone', '');
    IF v_phone !~ '^254[17][0-9]{{8}}$' THEN
        RETURN QUERY SELECT json_build_object('status', '400', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'f005 must be a Safaricom number such as 0712345678 (the subscriber has none on file)');
        RETURN;
    END IF;
    RETURN QUERY SELECT json_build_object(
        'status', '200', 'type', 'service', 'message', 'sending STK push', 'version', '1',
        'action', 'SERVICE', 'command', 'stkpush', 'serviceurl', '/stkpush', 'servicemethod', 'POST',
        'servicecredentials', 'mpesa',
        'servicepayload', json_build_object(
            'amount', trunc(v_amount)::text,
            'phone', v_phone,
            'account_reference', coalesce(nullif(left(regexp_replace(q->'subscriber'->>'username',
                                                                     '[^A-Za-z0-9]', '', 'g'), 12), ''), 'Internet'),
            'description', left(regexp_replace(q->'plan'->>'code', '[^A-Za-z0-9 ]', '', 'g') || ' plan', 13),
            'callback_url', data_input->>'callback_url'));
END
$fn$;
