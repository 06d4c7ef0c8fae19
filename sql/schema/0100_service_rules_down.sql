-- Undo 0100: authentication aggregates service_fields again (sql/gateway/25_limits.sql of that release).
DROP TRIGGER IF EXISTS service_fields_rules ON gateway.service_fields;
DROP FUNCTION IF EXISTS gateway.service_fields_changed();
DROP FUNCTION IF EXISTS gateway.refresh_service_rules(bigint);
ALTER TABLE gateway.services DROP COLUMN IF EXISTS field_rules, DROP COLUMN IF EXISTS rules_version;
