-- History of client functions as it happens. A CREATE OR REPLACE or ALTER of a function in the client-function
-- schema made outside the gateway (psql, a migration tool) is stored as a version at once, origin 'psql', with
-- the database role as author. The gateway's own writes (generation, API, portal, rollback, import) set
-- mospay.fn_origin for their transaction and record themselves, so every change is stored exactly once.
-- Whatever goes wrong here is a WARNING, never an error: history must not break a migration or a regeneration.
CREATE OR REPLACE FUNCTION gateway.record_function_ddl() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cmd record;
    v_name text;
    v_source text;
    v_registry bigint;
    v_version integer;
    v_md5 text;
BEGIN
    IF coalesce(current_setting('mospay.fn_origin', true), '') <> '' THEN
        RETURN;
    END IF;
    FOR cmd IN SELECT objid, object_identity FROM pg_event_trigger_ddl_commands()
                WHERE object_type = 'function' AND schema_name = 'clientfn' LOOP
        BEGIN
            SELECT p.proname, pg_get_functiondef(p.oid) INTO v_name, v_source FROM pg_proc p WHERE p.oid = cmd.objid;
            SELECT fr.id INTO v_registry FROM gateway.function_registry fr
             WHERE fr.fn_schema = 'clientfn'
               AND fr.request_fn IN (v_name, regexp_replace(v_name, '^(response|callback)_', ''))
               AND v_name IN (fr.request_fn, fr.response_fn, fr.callback_fn)
             LIMIT 1;
            CONTINUE WHEN v_registry IS NULL;  -- not (yet) a registered function: the builder records it
            SELECT fv.version, fv.source_md5 INTO v_version, v_md5 FROM gateway.function_versions fv
             WHERE fv.fn_name = v_name ORDER BY fv.version DESC LIMIT 1;
            CONTINUE WHEN v_md5 = md5(v_source);  -- replaced by the same text: nothing changed
            INSERT INTO gateway.function_versions (registry_id, fn_name, version, source, source_md5, origin, author,
                                                   reason)
            VALUES (v_registry, v_name, coalesce(v_version, 0) + 1, v_source, md5(v_source), 'psql',
                    session_user::text, nullif(current_setting('mospay.fn_reason', true), ''));
            UPDATE gateway.function_registry SET state = 'edited', updated_at = now() WHERE id = v_registry;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'function history: the change of % was not recorded: %', cmd.object_identity, SQLERRM;
        END;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'function history: %', SQLERRM;
END $$;

-- Event triggers need a superuser. Without one, a psql edit is still found and stored when the function set is
-- next regenerated (gateway/function_builder.py), only later.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'record_client_function_ddl') THEN
        RETURN;
    END IF;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        CREATE EVENT TRIGGER record_client_function_ddl ON ddl_command_end
            WHEN TAG IN ('CREATE FUNCTION', 'ALTER FUNCTION')
            EXECUTE FUNCTION gateway.record_function_ddl();
    ELSE
        RAISE NOTICE 'function history: % is not a superuser, so psql edits are recorded at regeneration', current_user;
    END IF;
END $$;
