-- ISP operations (issue 15): operators suspend, resume and remove subscribers by hand; a payment for a different
-- plan replaces the running period at once; removing a subscriber queues a router job that deletes the account.
-- Executed once by Alembic revision 0030; never edited after release. Functions live in sql/billing/.

-- A manual hold (suspend with a reason) is kept apart from an expiry suspension: expiry ends paid time, a hold
-- stops access while paid time may still run, and only "resume" lifts it. Removal keeps the row and its history.
ALTER TABLE billing.subscribers
    ADD COLUMN hold_reason text CONSTRAINT subscribers_hold_reason_length CHECK (length(hold_reason) BETWEEN 1 AND 500),
    ADD COLUMN held_at     timestamptz,
    ADD COLUMN removed_at  timestamptz,
    DROP CONSTRAINT subscribers_status_valid,
    ADD CONSTRAINT subscribers_status_valid CHECK (status IN ('new', 'active', 'suspended', 'removed'));
-- Operators search by the start of a username (any case) or of a phone number: prefix matches use these.
CREATE INDEX subscribers_client_username_prefix ON billing.subscribers (client_id, lower(username) text_pattern_ops);
CREATE INDEX subscribers_client_phone ON billing.subscribers (client_id, phone text_pattern_ops);

-- 'replaced': a payment for another plan ended this period early (ends_at is when it was replaced).
ALTER TABLE billing.subscriptions
    DROP CONSTRAINT subscriptions_status_valid,
    ADD CONSTRAINT subscriptions_status_valid CHECK (status IN ('active', 'expired', 'replaced'));

ALTER TABLE billing.router_jobs
    DROP CONSTRAINT router_jobs_action_valid,
    ADD CONSTRAINT router_jobs_action_valid CHECK (action IN ('activate', 'suspend', 'remove'));
CREATE INDEX router_jobs_subscriber ON billing.router_jobs (subscriber_id, created_at DESC);

-- A subscriber's payments (the portal's subscriber page, the merchants' read API, the captive page) without a scan
-- of the client's whole history: begin_payment stores f006 as account_ref. On a large table build it first with
-- CREATE INDEX CONCURRENTLY (same name) outside the migration; IF NOT EXISTS then skips it here.
CREATE INDEX IF NOT EXISTS transactions_client_account
    ON gateway.transactions (client_id, account_ref, created_at DESC) WHERE account_ref IS NOT NULL;
