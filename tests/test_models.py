"""models.py mirrors the migrated schema: same tables, columns, nullability and base types."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

import models


def test_models_match_database(database_url):
    engine = create_engine(database_url)
    try:
        insp = inspect(engine)
        db_tables = set(insp.get_table_names(schema="gateway"))
        mapped = {t.name: t for t in models.Base.metadata.tables.values()}
        assert set(mapped) <= db_tables
        missing = db_tables - set(mapped)
        assert not missing, f"tables without a model: {missing}"
        for name, table in mapped.items():
            columns = {c["name"]: c for c in insp.get_columns(name, schema="gateway")}
            assert set(table.columns.keys()) == set(columns), name
            for col in table.columns:
                db_col = columns[col.name]
                assert col.nullable == db_col["nullable"] or col.primary_key, f"{name}.{col.name} nullability"
                assert (
                    type(col.type).__name__.upper() in str(db_col["type"]).upper().replace("TIMESTAMP", "DATETIME")
                    or col.type.python_type == db_col["type"].python_type
                ), f"{name}.{col.name} type"
    finally:
        engine.dispose()
