-- Monthly partitions of gateway.api_logs and gateway.call_attempts (created by schema 0020), kept by the
-- worker: months ahead are created before rows need them, months past retention are dropped whole
-- (instant, no VACUUM debt), and expired rate-limit counters are removed. SECURITY DEFINER: creating and
-- dropping partitions needs the tables' owner, and the gateway may run as a role that owns no table; the
-- functions take no names from their callers (only months and counts) and pin their search_path.

-- Create the partition of p_table for the UTC month holding p_month; false when it already exists.
CREATE OR REPLACE FUNCTION gateway.ensure_month_partition(p_table text, p_month date) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_from timestamp := date_trunc('month', p_month);
    v_name text := p_table || '_' || to_char(date_trunc('month', p_month), 'YYYYMM');
BEGIN
    IF p_table NOT IN ('api_logs', 'call_attempts') THEN
        RAISE EXCEPTION 'not a partitioned log table: %', p_table USING ERRCODE = 'MP400';
    END IF;
    IF to_regclass(format('gateway_parts.%I', v_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE gateway_parts.%I PARTITION OF gateway.%I FOR VALUES FROM (%L) TO (%L)',
                   v_name, p_table, v_from AT TIME ZONE 'UTC', (v_from + interval '1 month') AT TIME ZONE 'UTC');
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mospay_gateway') THEN
        EXECUTE format('GRANT SELECT ON gateway_parts.%I TO mospay_gateway', v_name);
    END IF;
    RETURN true;
END $$;

-- Create this month and p_ahead months ahead; drop months that ended more than p_retention months before
-- the current one (p_retention = 3 in March keeps December, January, February and March).
-- Returns {"created": [...], "dropped": [...], "counters_removed": n}.
CREATE OR REPLACE FUNCTION gateway.maintain_partitions(p_ahead integer, p_retention integer, p_today date DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_today date := coalesce(p_today, (now() AT TIME ZONE 'UTC')::date);
    v_this timestamp := date_trunc('month', v_today);
    v_oldest text := to_char(v_this - make_interval(months => greatest(p_retention, 1)), 'YYYYMM');
    v_table text;
    v_i integer;
    v_part record;
    v_created jsonb := '[]';
    v_dropped jsonb := '[]';
    v_removed integer;
BEGIN
    -- Two workers at once would race to create the same partition: the second one skips this pass.
    IF NOT pg_try_advisory_xact_lock(hashtext('gateway.maintain_partitions')) THEN
        RETURN jsonb_build_object('skipped', true);
    END IF;
    FOREACH v_table IN ARRAY ARRAY['api_logs', 'call_attempts'] LOOP
        FOR v_i IN 0 .. greatest(p_ahead, 0) LOOP
            IF gateway.ensure_month_partition(v_table, (v_this + make_interval(months => v_i))::date) THEN
                v_created := v_created || to_jsonb(v_table || '_' || to_char(v_this + make_interval(months => v_i), 'YYYYMM'));
            END IF;
        END LOOP;
        FOR v_part IN
            SELECT c.relname FROM pg_inherits i
              JOIN pg_class c ON c.oid = i.inhrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE i.inhparent = format('gateway.%I', v_table)::regclass AND n.nspname = 'gateway_parts'
               AND c.relname ~ ('^' || v_table || '_[0-9]{6}$')
               AND right(c.relname, 6) < v_oldest
             ORDER BY c.relname
        LOOP
            EXECUTE format('DROP TABLE gateway_parts.%I', v_part.relname);
            v_dropped := v_dropped || to_jsonb(v_part.relname);
        END LOOP;
    END LOOP;
    DELETE FROM gateway.rate_counters WHERE expires_at < now();
    GET DIAGNOSTICS v_removed = ROW_COUNT;
    RETURN jsonb_build_object('created', v_created, 'dropped', v_dropped, 'counters_removed', v_removed);
END $$;

-- The gateway's role writes through the parents (privileges are checked there); it may also read a month
-- directly, like every other table it can see.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mospay_gateway') THEN
        GRANT USAGE ON SCHEMA gateway_parts TO mospay_gateway;
        GRANT SELECT ON ALL TABLES IN SCHEMA gateway_parts TO mospay_gateway;
    END IF;
END $$;
