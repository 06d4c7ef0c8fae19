"""`make bench`: the gateway under load beside its ceilings (pgbench over the function pair, a bare pipeline)."""
