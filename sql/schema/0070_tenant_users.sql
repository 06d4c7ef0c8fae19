-- Tenant users: a user belongs to the gateway (client_id NULL: super_admin, admin, viewer) or to one client
-- (org_admin, manager, user). The pairing is a constraint, so no code path can make a gateway role with a
-- client or a client role without one. Audit rows carry the client they concern, for the client's own log.
ALTER TABLE gateway.users
    ADD COLUMN client_id bigint REFERENCES gateway.clients (id),
    ADD COLUMN email text CONSTRAINT users_email_length CHECK (length(email) <= 254);
ALTER TABLE gateway.users DROP CONSTRAINT users_role_valid;
ALTER TABLE gateway.users ADD CONSTRAINT users_role_valid CHECK (
    (client_id IS NULL AND role IN ('super_admin', 'admin', 'viewer'))
    OR (client_id IS NOT NULL AND role IN ('org_admin', 'manager', 'user'))
);
CREATE INDEX users_client_idx ON gateway.users (client_id, username) WHERE client_id IS NOT NULL;

ALTER TABLE gateway.audit_log ADD COLUMN client_id bigint REFERENCES gateway.clients (id);
CREATE INDEX audit_log_client_idx ON gateway.audit_log (client_id, created_at DESC) WHERE client_id IS NOT NULL;

-- Earlier rows about a client: its actions name the app_id as the target (or app_id/…).
UPDATE gateway.audit_log a
   SET client_id = c.id
  FROM gateway.clients c
 WHERE a.client_id IS NULL
   AND (a.target = c.app_id OR left(a.target, length(c.app_id) + 1) = c.app_id || '/');
