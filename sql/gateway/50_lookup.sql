-- Read-only lookups usable from client functions; each is scoped to one client's rows.

CREATE OR REPLACE FUNCTION gateway.transaction_status(p_app_id text, p_f010 text) RETURNS json
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT json_strip_nulls(json_build_object(
               'transaction_id', t.public_id, 'f010', t.f010, 'status', t.state, 'service', t.service,
               'route', t.route, 'amount', t.amount::text, 'msisdn', t.msisdn, 'receipt', t.receipt,
               'reason', t.reason, 'reference', t.provider_ref, 'created_at', t.created_at, 'updated_at', t.updated_at))
      FROM gateway.transactions t
      JOIN gateway.clients c ON c.id = t.client_id
     WHERE c.app_id = p_app_id AND t.f010 = p_f010
$$;
