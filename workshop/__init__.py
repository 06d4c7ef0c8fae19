"""The DBA's workshop: history, editing, lint, dry-run, attached tests, shadow replay, statistics and files for
the per-client PostgreSQL functions (schema clientfn). Routes and the CLI call these modules; they hold no HTTP."""
