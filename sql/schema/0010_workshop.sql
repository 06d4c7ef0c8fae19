-- The DBA's workshop: every origin a function version can have, the reason given for it, and test cases
-- attached to a route. The event trigger that records psql edits lives in sql/gateway/70_history.sql.
ALTER TABLE gateway.function_versions DROP CONSTRAINT function_versions_origin_valid;
ALTER TABLE gateway.function_versions ADD CONSTRAINT function_versions_origin_valid
    CHECK (origin IN ('generated', 'api', 'portal', 'psql', 'rollback', 'import', 'dba_edit'));
ALTER TABLE gateway.function_versions ADD COLUMN reason text;
CREATE INDEX function_versions_registry ON gateway.function_versions (registry_id);

CREATE TABLE gateway.function_tests (
    id            bigserial PRIMARY KEY,
    registry_id   bigint NOT NULL REFERENCES gateway.function_registry(id) ON DELETE CASCADE,
    fn_name       text NOT NULL,
    name          text NOT NULL CONSTRAINT function_tests_name_valid CHECK (length(name) BETWEEN 1 AND 100),
    payload       jsonb NOT NULL CONSTRAINT function_tests_payload_object CHECK (jsonb_typeof(payload) = 'object'),
    service_reply jsonb,
    expect        jsonb NOT NULL CONSTRAINT function_tests_expect_object CHECK (jsonb_typeof(expect) = 'object'),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT function_tests_unique UNIQUE (registry_id, name)
);
