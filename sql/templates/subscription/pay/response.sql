CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json, code integer, data_output json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated ISP plan payment response: client {app}, service {service}, route {route} (template {kind}).
-- Two replies arrive here: the M-Pesa adapter's answer to the STK push (→ PENDING until the callback), and,
-- with data_input.followup_command = 'activate', the router adapter's answer to the activation the callback
-- queued (→ provisioning done; 502/503/504 → ERROR with that code, which the worker retries with backoff).
DECLARE
    v_msg text := coalesce(data_output->>'message', data_output->>'error', 'HTTP ' || code);
    v jsonb;
BEGIN
    IF data_input->>'followup_command' = 'activate' THEN
        IF code BETWEEN 200 AND 299 THEN
            v := billing.mark_provisioning({app}, unique_id, 'done',
                                           'router: ' || coalesce(data_output->>'result', 'ok'));
            RETURN QUERY SELECT json_build_object('status', '200', 'type', 'success', 'version', '1',
                'action', 'OUTPUT', 'message', format('account %s enabled on the router (%s)',
                    data_output->>'username', coalesce(data_output->>'result', 'ok')),
                'data', v);
        ELSIF code IN (502, 503, 504) THEN
            PERFORM billing.mark_provisioning({app}, unique_id, 'pending', 'router unreachable: ' || v_msg);
            RETURN QUERY SELECT json_build_object('status', code::text, 'type', 'error', 'version', '1',
                'action', 'ERROR', 'message', 'paid, provisioning pending: router unreachable (' || v_msg
                                              || '); the gateway retries');
        ELSE
            PERFORM billing.mark_provisioning({app}, unique_id, 'failed', v_msg);
            RETURN QUERY SELECT json_build_object('status', CASE WHEN code BETWEEN 400 AND 499 THEN code::text
                                                                 ELSE '502' END,
                'type', 'error', 'version', '1', 'action', 'ERROR',
                'message', 'paid, provisioning failed: ' || v_msg);
        END IF;
        RETURN;
    END IF;

    IF code = 200 AND data_output->>'ResponseCode' = '0' THEN
        RETURN QUERY SELECT json_build_object(
            'status', '202', 'type', 'pending', 'version', '1', 'action', 'PENDING',
            'message', 'STK push sent: the subscriber must enter the M-Pesa PIN; the plan starts once paid',
            'reference', data_output->>'CheckoutRequestID',
            'data', json_build_object('MerchantRequestID', data_output->>'MerchantRequestID',
                                      'CheckoutRequestID', data_output->>'CheckoutRequestID',
                                      'CustomerMessage', data_output->>'CustomerMessage'));
    ELSIF code = 409 THEN
        RETURN QUERY SELECT json_build_object('status', '409', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'an M-Pesa prompt is already open on this phone; retry in about a minute with a new f010');
    ELSIF code IN (503, 504) THEN
        RETURN QUERY SELECT json_build_object('status', code::text, 'type', 'error', 'version', '1',
            'action', 'ERROR', 'message', 'M-Pesa is busy or did not answer in time; check the status before '
                                          || 'retrying with a new f010');
    ELSIF code BETWEEN 400 AND 499 THEN
        RETURN QUERY SELECT json_build_object('status', '400', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', coalesce(data_output->>'message', 'M-Pesa rejected the request'));
    ELSE
        RETURN QUERY SELECT json_build_object('status', '502', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'M-Pesa request failed: ' || v_msg);
    END IF;
END
$fn$;
