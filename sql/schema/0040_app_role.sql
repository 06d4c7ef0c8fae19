-- The role the gateway runs as (its login roles are members that switch to it at sign-in, see
-- `flask app-role`): not a superuser, cannot create roles or databases, owns no table. Its privileges are
-- granted by sql/grants.sql, re-applied on every `flask migrate`.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mospay_gateway') THEN
        CREATE ROLE mospay_gateway NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END $$;

-- Late success callbacks on timed_out payments wait for an STK query (gateway.claim_due_checks): keep finding
-- them cheap at millions of rows, like transactions_due_checks does for pending ones.
CREATE INDEX IF NOT EXISTS transactions_late_checks ON gateway.transactions (next_check_at)
    WHERE state = 'timed_out' AND next_check_at IS NOT NULL;
