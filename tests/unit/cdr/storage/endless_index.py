"""A store whose search index never stops answering: the runaway query of issue 19 made
certain, without filling a store for minutes. The index table becomes a view over an endless
series (every column but the type made of the series, so that no planner folds a search of
it to nothing); writes to it are ignored, so the gateway still starts and publishes its conformance
resources. Its rows are Patients: ``pa`` as the index names the type (``index_types``)."""

from __future__ import annotations

from sqlalchemy import Engine

_SQLITE = (
    "DROP TABLE fhir_search_index",
    "CREATE VIEW fhir_search_index AS "
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
    "SELECT i AS id, 'pa' AS resource_type, 'p' || i AS resource_id, "
    "CASE i % 2 WHEN 0 THEN 'identifier' ELSE 'birthdate' END AS param, "
    "'s' || (i % 2) AS system, 'never' || (i % 2) AS value FROM n",
    "CREATE TRIGGER fhir_search_index_insert INSTEAD OF INSERT ON fhir_search_index "
    "BEGIN SELECT 1; END",
    "CREATE TRIGGER fhir_search_index_delete INSTEAD OF DELETE ON fhir_search_index "
    "BEGIN SELECT 1; END",
)
_POSTGRES = (
    "DROP TABLE fhir_search_index",
    "CREATE VIEW fhir_search_index AS "
    "SELECT i AS id, 'pa'::varchar AS resource_type, ('p' || i)::varchar AS resource_id, "
    "(CASE mod(i, 2) WHEN 0 THEN 'identifier' ELSE 'birthdate' END)::varchar AS param, "
    "('s' || mod(i, 2))::varchar AS system, ('never' || mod(i, 2))::varchar AS value "
    "FROM generate_series(1::bigint, 9223372036854775807::bigint) AS i",
    "CREATE RULE fhir_search_index_insert AS ON INSERT TO fhir_search_index DO INSTEAD NOTHING",
    "CREATE RULE fhir_search_index_delete AS ON DELETE TO fhir_search_index DO INSTEAD NOTHING",
)


def make_index_endless(engine: Engine) -> None:
    statements = _SQLITE if engine.dialect.name == "sqlite" else _POSTGRES
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
