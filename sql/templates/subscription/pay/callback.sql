CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json, data_callback json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated ISP plan payment callback: client {app}, service {service}, route {route} (template {kind}).
-- gateway.stk_outcome reads Daraja's STK callback or the worker's STK query answer (codes, never text). On success it activates or extends the
-- subscriber's plan (once per payment, however often the callback comes) and answers SERVICE: the gateway settles
-- the payment and queues the router activation as a durable job. Any other outcome activates nothing.
DECLARE
    o jsonb := gateway.stk_outcome(data_callback);
    v_ref text := o->>'reference';
    v_receipt text := o->>'receipt';
    v_amount text := o->>'amount';
    v_paid numeric;
    act jsonb;
    v_result jsonb;
BEGIN
    IF o->>'state' = 'pending' THEN
        RETURN QUERY SELECT json_build_object('status', '202', 'type', 'pending', 'version', '1',
            'action', 'PENDING', 'message', 'the customer has not answered yet');
        RETURN;
    END IF;
    IF o->>'state' <> 'paid' THEN
        RETURN QUERY SELECT json_build_object(
            'status', '402', 'type', 'error', 'version', '1', 'action', 'ERROR', 'reference', v_ref,
            'message', 'not activated: ' || (o->>'message'),
            'data', json_build_object('result_code', o->>'code', 'result_desc', o->>'desc'));
        RETURN;
    END IF;

    v_paid := CASE WHEN v_amount ~ '^[0-9]+(\.[0-9]+)?$' THEN v_amount::numeric END;
    act := billing.activate_paid({app}, unique_id, v_ref, v_paid, v_receipt);
    v_result := jsonb_build_object(
        'status', '200', 'type', 'success', 'version', '1', 'reference', v_ref, 'receipt', v_receipt,
        'amount', v_amount,
        'data', jsonb_strip_nulls(jsonb_build_object('receipt', v_receipt, 'amount', v_amount, 'phone', o->>'phone',
                                                     'transaction_date', o->>'date', 'result_code', 0,
                                                     'settled_by', o->>'settled_by',
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
