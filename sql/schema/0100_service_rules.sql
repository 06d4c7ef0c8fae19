-- A service's field rules, kept on its row. Executed once by Alembic revision 0100.
--
-- Every request's authentication used to aggregate the service's service_fields rows into JSON and hash
-- them (the rules version the gateway's processes compare their memory with). The rules change only when an
-- admin edits them, so a trigger keeps the JSON and its md5 on the service row, and the hot path reads them.
ALTER TABLE gateway.services
    ADD COLUMN field_rules jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN rules_version text NOT NULL DEFAULT md5('[]');

CREATE FUNCTION gateway.refresh_service_rules(p_service_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_rules jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(jsonb_build_object('field', sf.field, 'required', sf.required,
                                                 'pattern', sf.pattern, 'max_length', sf.max_length)
                              ORDER BY sf.field), '[]')
      INTO v_rules
      FROM gateway.service_fields sf
     WHERE sf.service_id = p_service_id;
    UPDATE gateway.services
       SET field_rules = v_rules, rules_version = md5(v_rules::text)
     WHERE id = p_service_id AND field_rules IS DISTINCT FROM v_rules;
END $$;

CREATE FUNCTION gateway.service_fields_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM gateway.refresh_service_rules(OLD.service_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.service_id IS DISTINCT FROM OLD.service_id) THEN
        PERFORM gateway.refresh_service_rules(NEW.service_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER service_fields_rules AFTER INSERT OR UPDATE OR DELETE ON gateway.service_fields
    FOR EACH ROW EXECUTE FUNCTION gateway.service_fields_changed();

SELECT gateway.refresh_service_rules(id) FROM gateway.services;
