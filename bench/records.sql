-- Row (r) of `make bench`: the records one Basic payment writes, and nothing else, written as plainly as SQL
-- allows. pgbench calls begin_pair, then finish_pair, each one statement and one transaction as in the
-- gateway, so the difference between this row's PostgreSQL CPU and the gateway's is the price of the
-- gateway's generality (JSON documents in and out, helper functions, every outcome handled), and the
-- difference between this row and (a) is what the records themselves cost.
-- Same reads and writes as the hot path for an http service answering 200: the credentials and assignment
-- lookup, the rate counter read and bumped, the replay check, the request function, the transaction row
-- (inserted already dispatched) and its two events; then the row locked, the call attempt, the response
-- function, the row's one UPDATE and its event, the webhook check and the API log row. The tables' own
-- triggers (summary deltas, usage) fire as they do for the gateway.
-- One outcome only (SERVICE, then OUTPUT): anything else raises, and pgbench fails the row.
-- tests/bench/test_records.py checks that a pair writes the same rows as one payment through the API.
DROP SCHEMA IF EXISTS bench_records CASCADE;
CREATE SCHEMA bench_records;

CREATE FUNCTION bench_records.begin_pair(
    p_app_id text, p_username text, p_secret_hash text, p_service text, p_route text, p_rate_limit integer,
    p_f010 text, p_payload_hash text, p_request jsonb, p_input json, p_callback_token_hash text, p_amount numeric
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;
    v_window timestamptz := to_timestamp(floor(extract(epoch FROM clock_timestamp()) / 60) * 60);
    v_raw json;
    r jsonb;
    v_id bigint;
BEGIN
    SELECT cl.id, cl.status, cr.secret_hash, s.name AS service_name, s.active AS service_active,
           a.active AS assignment_active, sr.route, fr.id AS registry_id, fr.fn_schema, fr.request_fn,
           (SELECT json_object_agg(pc.provider, pc.data_enc)
              FROM gateway.provider_credentials pc WHERE pc.client_id = cl.id) AS provider_credentials
      INTO c
      FROM gateway.clients cl
      LEFT JOIN gateway.client_credentials cr
             ON cr.client_id = cl.id AND cr.active AND cr.api_username = p_username
      LEFT JOIN gateway.services s ON s.name = p_service
      LEFT JOIN gateway.service_routes sr ON sr.service_id = s.id AND sr.route = p_route
      LEFT JOIN gateway.assignments a ON a.client_id = cl.id AND a.service_id = s.id
      LEFT JOIN gateway.function_registry fr ON fr.assignment_id = a.id AND fr.route_id = sr.id
     WHERE cl.app_id = p_app_id;
    IF c.secret_hash IS DISTINCT FROM p_secret_hash OR c.status <> 'active' OR NOT c.service_active
       OR NOT c.assignment_active OR c.registry_id IS NULL THEN
        RAISE EXCEPTION 'bench_records: % is not an active, assigned client with these credentials', p_app_id;
    END IF;
    IF coalesce((SELECT sum(hits) FROM gateway.rate_counters
                  WHERE key = 'client:' || c.id AND window_start = v_window), 0) >= p_rate_limit THEN
        RAISE EXCEPTION 'bench_records: over the rate limit of % per minute', p_rate_limit;
    END IF;
    PERFORM 1 FROM gateway.transactions WHERE client_id = c.id AND f010 = p_f010;
    IF FOUND THEN
        RAISE EXCEPTION 'bench_records: f010 % was used before', p_f010;
    END IF;
    BEGIN
        EXECUTE format('SELECT results FROM %I.%I($1, $2) LIMIT 1', c.fn_schema, c.request_fn)
           INTO v_raw USING p_f010, p_input;
    EXCEPTION WHEN OTHERS THEN
        v_raw := NULL;  -- as the gateway's invoke: a failing function is an outcome, caught here
    END;
    r := v_raw::jsonb;
    IF r->>'action' IS DISTINCT FROM 'SERVICE' OR coalesce(r->>'serviceurl', '') = '' THEN
        RAISE EXCEPTION 'bench_records: the request function did not ask for a service call: %', r;
    END IF;
    INSERT INTO gateway.transactions (client_id, registry_id, service, route, f010, payload_hash, request,
                                      callback_token_hash, amount, state, result, depth)
    VALUES (c.id, c.registry_id, c.service_name, c.route, p_f010, p_payload_hash, p_request,
            p_callback_token_hash, p_amount, 'dispatched', r, 1)
    ON CONFLICT (client_id, f010) DO NOTHING
    RETURNING id INTO v_id;
    INSERT INTO gateway.transaction_events (transaction_id, from_state, to_state, detail)
    VALUES (v_id, NULL, 'received', c.service_name || '/' || c.route),
           (v_id, 'received', 'dispatched', 'calling ' || (r->>'serviceurl'));
    INSERT INTO gateway.rate_counters AS rc (key, window_start, slot, hits, expires_at)
    VALUES ('client:' || c.id, v_window, pg_backend_pid() % 16, 1, v_window + interval '60 seconds')
    ON CONFLICT (key, window_start, slot) DO UPDATE SET hits = rc.hits + 1;
    RETURN v_id;
END $$;

CREATE FUNCTION bench_records.finish_pair(
    p_txn bigint, p_code integer, p_output json, p_url text, p_request_body text, p_response_body text,
    p_input json, p_app_id text, p_path text, p_remote_addr text, p_log_body text
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
    v_raw json;
    r jsonb;
    v_url text;
BEGIN
    SELECT tx.client_id, tx.depth, tx.f010, tx.public_id, fr.fn_schema, fr.response_fn
      INTO t
      FROM gateway.transactions tx JOIN gateway.function_registry fr ON fr.id = tx.registry_id
     WHERE tx.id = p_txn AND tx.state = 'dispatched'
       FOR UPDATE OF tx;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bench_records: transaction % is not dispatched', p_txn;
    END IF;
    INSERT INTO gateway.call_attempts (transaction_id, step, method, url, status_code, latency_ms,
                                       request_body, response_body)
    VALUES (p_txn, t.depth, 'POST', p_url, p_code, 1, p_request_body, p_response_body);
    BEGIN
        EXECUTE format('SELECT results FROM %I.%I($1, $2, $3, $4) LIMIT 1', t.fn_schema, t.response_fn)
           INTO v_raw USING t.f010, p_input, p_code, p_output;
    EXCEPTION WHEN OTHERS THEN
        v_raw := NULL;
    END;
    r := v_raw::jsonb;
    IF r->>'action' IS DISTINCT FROM 'OUTPUT' THEN
        RAISE EXCEPTION 'bench_records: the response function did not answer OUTPUT: %', r;
    END IF;
    UPDATE gateway.transactions
       SET state = 'completed', result = r, http_status = 200, updated_at = now(), completed_at = now()
     WHERE id = p_txn;
    INSERT INTO gateway.transaction_events (transaction_id, from_state, to_state, detail)
    VALUES (p_txn, 'dispatched', 'completed', r->>'message');
    SELECT callback_url INTO v_url FROM gateway.clients WHERE id = t.client_id;  -- the webhook check
    r := r || jsonb_build_object('transaction_id', t.public_id);
    INSERT INTO gateway.api_logs (client_id, app_id, method, path, http_status, latency_ms, remote_addr,
                                  transaction_id, request_body, response_body)
    VALUES (t.client_id, p_app_id, 'POST', p_path, 200, 1, p_remote_addr, p_txn, p_log_body, r::text);
    RETURN r;
END $$;
