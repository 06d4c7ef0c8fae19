CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json, data_callback json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated ISP plan payment callback: client {app}, service {service}, route {route} (template {kind}).
-- Reads Daraja's STK callback ({{"Body":{{"stkCallback":…}}}}) or the worker's STK query answer
-- ({{"source":"stkquery",…}}), mapping on the result code, never the text. On success it activates or extends the
-- subscriber's plan (once per payment, however often the callback comes) and answers SERVICE: the gateway settles
-- the payment and queues the router activation as a durable job. Any other outcome activates nothing.
DECLARE
    cb json := data_callback->'Body'->'stkCallback';
    v_code text;
    v_desc text;
    v_ref text;
    v_receipt text;
    v_amount text;
    v_phone text;
    v_date text;
    v_paid numeric;
    act jsonb;
    v_result jsonb;
BEGIN
    IF cb IS NOT NULL THEN
        v_code := cb->>'ResultCode';
        v_desc := cb->>'ResultDesc';
        v_ref := cb->>'CheckoutRequestID';
        -- Items by Name, never by position; Balance often has no Value.
        SELECT max(i->>'Value') FILTER (WHERE i->>'Name' = 'MpesaReceiptNumber'),
               max(i->>'Value') FILTER (WHERE i->>'Name' = 'Amount'),
               max(i->>'Value') FILTER (WHERE i->>'Name' = 'PhoneNumber'),
               max(i->>'Value') FILTER (WHERE i->>'Name' = 'TransactionDate')
          INTO v_receipt, v_amount, v_phone, v_date
          FROM json_array_elements(coalesce(cb->'CallbackMetadata'->'Item', '[]'::json)) AS i;
    ELSIF data_callback->>'source' = 'stkquery' THEN
        IF data_callback->>'state' = 'pending' THEN
            RETURN QUERY SELECT json_build_object('status', '202', 'type', 'pending', 'version', '1',
                'action', 'PENDING', 'message', 'the customer has not answered yet');
            RETURN;
        END IF;
        v_code := data_callback->>'result_code';
        v_desc := data_callback->>'result_desc';
        v_ref := data_callback->>'CheckoutRequestID';
        -- The query carries no receipt or amount: take them from a held callback that the query now confirms.
        cb := data_callback->'callback'->'Body'->'stkCallback';
        IF v_code = '0' AND cb IS NOT NULL AND cb->>'ResultCode' = '0' AND cb->>'CheckoutRequestID' = v_ref THEN
            SELECT max(i->>'Value') FILTER (WHERE i->>'Name' = 'MpesaReceiptNumber'),
                   max(i->>'Value') FILTER (WHERE i->>'Name' = 'Amount'),
                   max(i->>'Value') FILTER (WHERE i->>'Name' = 'PhoneNumber'),
                   max(i->>'Value') FILTER (WHERE i->>'Name' = 'TransactionDate')
              INTO v_receipt, v_amount, v_phone, v_date
              FROM json_array_elements(coalesce(cb->'CallbackMetadata'->'Item', '[]'::json)) AS i;
        END IF;
    ELSE
        RAISE EXCEPTION 'not an STK callback: expected Body.stkCallback';
    END IF;

    IF v_code IS DISTINCT FROM '0' THEN
        RETURN QUERY SELECT json_build_object(
            'status', '402', 'type', 'error', 'version', '1', 'action', 'ERROR', 'reference', v_ref,
            'message', 'not activated: ' || CASE v_code
                WHEN '1032' THEN 'cancelled by the customer'
                WHEN '1037' THEN 'the customer''s phone could not be reached (no answer to the prompt)'
                WHEN '2001' THEN 'wrong M-Pesa PIN entered'
                WHEN '1' THEN 'insufficient M-Pesa balance'
                WHEN '1019' THEN 'the M-Pesa request expired'
                WHEN '1001' THEN 'another M-Pesa transaction was in progress on this phone'
                ELSE 'M-Pesa declined the payment: ' || coalesce(v_desc, 'result ' || v_code) END,
            'data', json_build_object('result_code', v_code, 'result_desc', v_desc));
        RETURN;
    END IF;

    v_paid := CASE WHEN v_amount ~ '^[0-9]+(\.[0-9]+)?$' THEN v_amount::numeric END;
    act := billing.activate_paid({app}, unique_id, v_ref, v_paid, v_receipt);
    v_result := jsonb_build_object(
        'status', '200', 'type', 'success', 'version', '1', 'reference', v_ref, 'receipt', v_receipt,
        'amount', v_amount,
        'data', jsonb_strip_nulls(jsonb_build_object('receipt', v_receipt, 'amount', v_amount, 'phone', v_phone,
                                                     'transaction_date', v_date, 'result_code', 0,
                                                     'settled_by', coalesce(data_callback->>'source', 'callback'),
                                                     'subscription', act->'subscription')));
    IF NOT (act->>'ok')::boolean THEN
        -- Money confirmed but nothing bought (mismatch, or an already settled payment): the gateway decides.
        RETURN QUERY SELECT (v_result || jsonb_build_object('action', 'OUTPUT', 'message', act->>'message'))::json;
        RETURN;
    END IF;
    IF act->>'router_service' IS NULL THEN
        RETURN QUERY SELECT (v_result || jsonb_build_object('action', 'OUTPUT', 'message',
            'payment received; plan active until ' || (act->>'paid_until')
            || ', but no router service is assigned to this client: provisioning pending'))::json;
        RETURN;
    END IF;
    RETURN QUERY SELECT (
        billing.router_spec(act->>'router_service', 'activate', act->>'username', act->>'service_type',
                            act->>'profile', (act->>'subscriber_id')::bigint, 'mospay ' || {app})
        || v_result
        || jsonb_build_object('action', 'SERVICE', 'message',
               'payment received; plan active until ' || (act->>'paid_until') || '; switching the account on'))::json;
END
$fn$;
