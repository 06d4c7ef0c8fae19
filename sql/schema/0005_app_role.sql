-- The role the gateway runs as (its login roles are members that switch to it at sign-in, see
-- `flask app-role`): not a superuser, cannot create roles or databases, owns no table. Its privileges are
-- granted by sql/grants.sql, re-applied on every `flask migrate`.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mospay_gateway') THEN
        CREATE ROLE mospay_gateway NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END $$;
