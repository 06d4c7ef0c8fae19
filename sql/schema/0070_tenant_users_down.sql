DROP INDEX IF EXISTS gateway.audit_log_client_idx;
ALTER TABLE gateway.audit_log DROP COLUMN IF EXISTS client_id;
DELETE FROM gateway.users WHERE client_id IS NOT NULL;
ALTER TABLE gateway.users DROP CONSTRAINT users_role_valid;
ALTER TABLE gateway.users ADD CONSTRAINT users_role_valid CHECK (role IN ('super_admin', 'admin', 'viewer'));
DROP INDEX IF EXISTS gateway.users_client_idx;
ALTER TABLE gateway.users DROP COLUMN IF EXISTS client_id, DROP COLUMN IF EXISTS email;
