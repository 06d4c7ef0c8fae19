-- Last in the library: what the gateway's role (mospay_gateway) may do. It reads and writes the gateway and
-- billing tables and runs their functions, but owns none of them, so it cannot alter or drop them; in the
-- client-function schema (clientfn) it creates, replaces and owns the generated functions.
-- plpgsql_check (optional, from the server's packages) is created here, by the owner, in a schema of its own:
-- the gateway's role may not create extensions, and the function editor's lint uses it when it is there.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'plpgsql_check')
       AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'plpgsql_check') THEN
        CREATE SCHEMA IF NOT EXISTS plpgsql_check;
        CREATE EXTENSION IF NOT EXISTS plpgsql_check SCHEMA plpgsql_check;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'plpgsql_check not created (%): the function editor keeps its own checks', SQLERRM;
END $$;

DO $$
DECLARE
    f record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mospay_gateway') THEN
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA gateway, billing TO mospay_gateway;
    GRANT USAGE, CREATE ON SCHEMA clientfn TO mospay_gateway;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA gateway, billing TO mospay_gateway;
    GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA gateway, billing TO mospay_gateway;
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA gateway, billing TO mospay_gateway;
    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'plpgsql_check') THEN
        GRANT USAGE ON SCHEMA plpgsql_check TO mospay_gateway;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA plpgsql_check TO mospay_gateway;
    END IF;
    -- Functions made by the owner before this role existed (or by hand in psql) move to the role, so the
    -- function builder can replace them.
    FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'clientfn' AND p.proowner <> 'mospay_gateway'::regrole
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO mospay_gateway', f.sig);
    END LOOP;
END $$;
