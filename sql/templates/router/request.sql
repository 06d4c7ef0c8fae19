CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json)
RETURNS TABLE(results json)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Generated router call: client {app}, service {service}, route {route} (template {kind}).
-- Calls the router adapter's /{route} (activate | suspend | kick) with this client's router login.
-- f006 = account username; f001 = profile (activate; default: the billing subscriber's current plan profile);
-- f009 = service type pppoe|hotspot when f006 is not a billing subscriber (else the subscriber's type).
-- A billing subscriber's password is filled in by the gateway at call time (servicesecrets), never read here.
-- Billing remains the source of truth: the periodic drift repair disables accounts nobody paid for.
DECLARE
    v_user text := coalesce(data_input->>'f006', '');
    acct jsonb := billing.router_account({app}, data_input->>'f006');
    v_type text := coalesce(acct->>'service_type', nullif(lower(data_input->>'f009'), ''), 'pppoe');
    v_profile text := coalesce(nullif(data_input->>'f001', ''), acct->>'profile');
BEGIN
    IF v_user !~ '^[ -~]{{1,64}}$' THEN
        RETURN QUERY SELECT json_build_object('status', '400', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'f006 must be the account username on the router (printable ASCII, at most 64 characters)');
        RETURN;
    END IF;
    IF v_type NOT IN ('pppoe', 'hotspot') THEN
        RETURN QUERY SELECT json_build_object('status', '400', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'f009 must be the service type pppoe or hotspot');
        RETURN;
    END IF;
    IF {route} = 'activate' AND v_profile IS NULL THEN
        RETURN QUERY SELECT json_build_object('status', '400', 'type', 'error', 'version', '1', 'action', 'ERROR',
            'message', 'f001 must name the router profile to activate ' || v_user || ' with');
        RETURN;
    END IF;
    RETURN QUERY SELECT json_strip_nulls(json_build_object(
        'status', '200', 'type', 'service', 'version', '1', 'action', 'SERVICE', 'command', {route},
        'message', {route} || ' ' || v_user || ' on the router',
        'serviceurl', '/' || {route}, 'servicemethod', 'POST', 'servicecredentials', 'router',
        'servicesecrets', CASE WHEN {route} = 'activate' AND acct IS NOT NULL
                               THEN json_build_object('password', 'subscriber:' || (acct->>'subscriber_id')) END,
        'servicepayload', json_strip_nulls(json_build_object(
            'username', v_user, 'service_type', v_type,
            'profile', CASE WHEN {route} = 'activate' THEN v_profile END,
            'comment', CASE WHEN {route} = 'activate' THEN 'mospay ' || {app} END))));
END
$fn$;
