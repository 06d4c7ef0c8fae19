-- The summaries' statement triggers go. Executed once by Alembic revision 0090.
--
-- transactions_stats_insert and api_logs_usage acted only during bulk loads (gateway.bulk_load = on), yet a
-- trigger with a transition table makes PostgreSQL copy every inserted row into a tuplestore, on the hot
-- path's INSERTs too. Requests are counted by the row triggers, as before; bulk loaders (demo data, the
-- benchmark's millions of rows) count their own rows in the same statement (demo/bulk.py).
DROP TRIGGER IF EXISTS transactions_stats_insert ON gateway.transactions;
DROP TRIGGER IF EXISTS api_logs_usage ON gateway.api_logs;
DROP FUNCTION IF EXISTS gateway.transactions_stats_insert();
DROP FUNCTION IF EXISTS gateway.api_logs_usage();
