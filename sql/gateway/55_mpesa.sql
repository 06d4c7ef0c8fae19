-- M-Pesa helpers for the generated functions (mpesa_stk and subscription templates).

-- Read an STK callback ({"Body":{"stkCallback":…}}) or the worker's STK query answer ({"source":"stkquery",…},
-- optionally with the held callback it confirms under "callback"). Maps on the result code, never on the text;
-- reads CallbackMetadata items by Name (Balance often has no Value). Returns
-- {"state": "pending"|"paid"|"declined", "code", "desc", "reference", "receipt", "amount", "phone", "date",
--  "settled_by", "message"}. Raises for a body that is neither.
CREATE OR REPLACE FUNCTION gateway.stk_outcome(data_callback json) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cb json := data_callback->'Body'->'stkCallback';
    meta json;
    v_code text;
    v_desc text;
    v_ref text;
    v_source text := coalesce(data_callback->>'source', 'callback');
    v jsonb;
BEGIN
    IF cb IS NOT NULL THEN
        v_code := cb->>'ResultCode';
        v_desc := cb->>'ResultDesc';
        v_ref := cb->>'CheckoutRequestID';
        meta := cb->'CallbackMetadata'->'Item';
    ELSIF data_callback->>'source' = 'stkquery' THEN
        IF data_callback->>'state' = 'pending' THEN
            RETURN jsonb_build_object('state', 'pending', 'settled_by', v_source);
        END IF;
        v_code := data_callback->>'result_code';
        v_desc := data_callback->>'result_desc';
        v_ref := data_callback->>'CheckoutRequestID';
        -- The query carries no receipt or amount: take them from a held callback that the query now confirms.
        cb := data_callback->'callback'->'Body'->'stkCallback';
        IF v_code = '0' AND cb IS NOT NULL AND cb->>'ResultCode' = '0' AND cb->>'CheckoutRequestID' = v_ref THEN
            meta := cb->'CallbackMetadata'->'Item';
        END IF;
    ELSE
        RAISE EXCEPTION 'not an STK callback: expected Body.stkCallback';
    END IF;
    SELECT jsonb_build_object(
               'receipt', max(i->>'Value') FILTER (WHERE i->>'Name' = 'MpesaReceiptNumber'),
               'amount', max(i->>'Value') FILTER (WHERE i->>'Name' = 'Amount'),
               'phone', max(i->>'Value') FILTER (WHERE i->>'Name' = 'PhoneNumber'),
               'date', max(i->>'Value') FILTER (WHERE i->>'Name' = 'TransactionDate'))
      INTO v
      FROM json_array_elements(coalesce(meta, '[]'::json)) AS i;
    RETURN v || jsonb_build_object(
        'state', CASE WHEN v_code = '0' THEN 'paid' ELSE 'declined' END,
        'code', v_code, 'desc', v_desc, 'reference', v_ref, 'settled_by', v_source,
        'message', CASE v_code
            WHEN '0' THEN 'payment received'
            WHEN '1032' THEN 'cancelled by the customer'
            WHEN '1037' THEN 'the customer''s phone could not be reached (no answer to the prompt)'
            WHEN '2001' THEN 'wrong M-Pesa PIN entered'
            WHEN '1' THEN 'insufficient M-Pesa balance'
            WHEN '1019' THEN 'the M-Pesa request expired'
            WHEN '1001' THEN 'another M-Pesa transaction was in progress on this phone'
            ELSE 'M-Pesa declined the payment: ' || coalesce(v_desc, 'result ' || coalesce(v_code, 'unknown')) END);
END $$;
