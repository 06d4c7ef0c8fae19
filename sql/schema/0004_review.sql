-- Transactions a person must look at (late settlement after timed_out, paid amount ≠ requested, a follow-up job
-- that gave up): a partial index keeps the dashboard's "needs review" list cheap at millions of rows.
CREATE INDEX transactions_needs_review ON gateway.transactions (updated_at DESC)
    WHERE (flags ? 'needs_review');
