CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json, data_callback json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated M-Pesa STK callback: client {app}, service {service}, route {route} (template {kind}).
-- Accepts Daraja's STK callback ({{"Body":{{"stkCallback":…}}}}) or the worker's STK query answer
-- ({{"source":"stkquery","state","result_code","result_desc","CheckoutRequestID"}}). Maps on the code, never the text.
DECLARE
    cb json := data_callback->'Body'->'stkCallback';
    v_code text;
    v_desc text;
    v_ref text;
    v_receipt text;
    v_amount text;
    v_phone text;
    v_date text;
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
        -- The query carries no receipt: take it from a held callback that the query now confirms.
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

    IF v_code = '0' THEN
        RETURN QUERY SELECT json_build_object(
            'status', '200', 'type', 'success', 'version', '1', 'action', 'OUTPUT',
            'message', 'payment received', 'reference', v_ref, 'receipt', v_receipt, 'amount', v_amount,
            'data', json_strip_nulls(json_build_object('receipt', v_receipt, 'amount', v_amount, 'phone', v_phone,
                                                       'transaction_date', v_date, 'result_code', 0,
                                                       'settled_by', coalesce(data_callback->>'source', 'callback'))));
    ELSE
        RETURN QUERY SELECT json_build_object(
            'status', '402', 'type', 'error', 'version', '1', 'action', 'ERROR', 'reference', v_ref,
            'message', CASE v_code
                WHEN '1032' THEN 'cancelled by the customer'
                WHEN '1037' THEN 'the customer''s phone could not be reached (no answer to the prompt)'
                WHEN '2001' THEN 'wrong M-Pesa PIN entered'
                WHEN '1' THEN 'insufficient M-Pesa balance'
                WHEN '1019' THEN 'the M-Pesa request expired'
                WHEN '1001' THEN 'another M-Pesa transaction was in progress on this phone'
                ELSE 'M-Pesa declined the payment: ' || coalesce(v_desc, 'result ' || v_code) END,
            'data', json_build_object('result_code', v_code, 'result_desc', v_desc));
    END IF;
END
$fn$;
