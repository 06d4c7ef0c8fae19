"""models.py mirrors the migrated schema: every table (and the views readers query) of the gateway and billing
schemas, with the same columns, nullability (tables) and base types."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

import models

SCHEMAS = ("gateway", "billing")


def test_models_match_database(database_url):
    engine = create_engine(database_url)
    try:
        insp = inspect(engine)
        db_tables = {(schema, name) for schema in SCHEMAS for name in insp.get_table_names(schema=schema)}
        db_views = {(schema, name) for schema in SCHEMAS for name in insp.get_view_names(schema=schema)}
        mapped = {(t.schema, t.name): t for t in models.Base.metadata.tables.values()}
        assert set(mapped) <= db_tables | db_views, f"models without a table: {set(mapped) - db_tables - db_views}"
        missing = db_tables - set(mapped)
        assert not missing, f"tables without a model: {missing}"
        for (schema, name), table in mapped.items():
            columns = {c["name"]: c for c in insp.get_columns(name, schema=schema)}
            assert set(table.columns.keys()) == set(columns), f"{schema}.{name}"
            for col in table.columns:
                db_col = columns[col.name]
                where = f"{schema}.{name}.{col.name}"
                in_view = (schema, name) in db_views  # a view's columns are all nullable in the catalogue
                assert col.nullable == db_col["nullable"] or col.primary_key or in_view, f"{where} nullability"
                assert (
                    type(col.type).__name__.upper() in str(db_col["type"]).upper().replace("TIMESTAMP", "DATETIME")
                    or col.type.python_type == db_col["type"].python_type
                ), f"{where} type"
    finally:
        engine.dispose()
