-- Gateway functions in dependency order. Loaded by `flask --app app migrate` (schema_setup.py) in one
-- transaction after `alembic upgrade`; every file is CREATE OR REPLACE, so loading twice is safe.
\ir gateway/10_results.sql
\ir gateway/20_state.sql
\ir gateway/25_limits.sql
\ir gateway/40_callbacks.sql
\ir gateway/30_payment.sql
\ir gateway/35_begin_request.sql
\ir gateway/50_lookup.sql
\ir gateway/55_mpesa.sql
\ir gateway/60_jobs.sql
\ir gateway/70_history.sql
\ir gateway/75_partitions.sql
\ir gateway/76_summaries.sql
\ir billing/10_core.sql
\ir billing/20_catalogue.sql
\ir billing/30_periods.sql
\ir billing/40_expiry.sql
\ir billing/50_drift.sql
\ir billing/60_operations.sql
\ir billing/70_captive.sql
\ir billing/75_queue.sql
\ir billing/90_grants.sql
-- privileges of the gateway's role, after every object exists
\ir grants.sql
