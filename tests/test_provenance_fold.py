"""Migration intake.0006 folds the per-field provenance rows into one row per giving (SQLite here,
PostgreSQL in the PostgreSQL run), on a scratch table of the old shape."""

from __future__ import annotations

import importlib
import json
from typing import Any

from django.db import connection

from leadsea.core.tenancy_guard import unscoped

migration = importlib.import_module("leadsea.intake.migrations.0006_provenance_one_row_per_giving")
T1, T2 = "2026-01-01 08:00:00+00:00", "2026-02-01 08:00:00+00:00"


def _scratch() -> str:
    json_type = "jsonb" if connection.vendor == "postgresql" else "text"
    id_type = (
        "bigserial PRIMARY KEY" if connection.vendor == "postgresql" else "integer PRIMARY KEY AUTOINCREMENT"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE TEMPORARY TABLE prov_fold (id {id_type}, tenant_id bigint NOT NULL, lead_id bigint
            NOT NULL, source_id bigint NULL, record_id bigint NULL, trust integer NOT NULL, at varchar(40)
            NOT NULL, verified_by_bd boolean NOT NULL, actor_id bigint NULL, field varchar(60) NOT NULL,
            value {json_type} NULL, given {json_type} NOT NULL DEFAULT '{{}}')"""
        )
    return "prov_fold"


def _rows(table: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT lead_id, source_id, record_id, trust, verified_by_bd, given, field "
            f"FROM {table} ORDER BY id"
        )
        out = []
        for lead, source, record, trust, verified, given, field in cursor.fetchall():
            out.append(
                (
                    lead,
                    source,
                    record,
                    trust,
                    bool(verified),
                    json.loads(given) if isinstance(given, str) else given,
                    field,
                )
            )
        return out


def test_per_field_rows_become_one_row_per_giving(db: Any) -> None:
    table = _scratch()
    old = [  # (lead, source, record, trust, at, verified, actor, field, value)
        (1, None, None, 30, T1, False, None, "name", "海底捞"),  # lead 1's baseline
        (1, None, None, 30, T1, False, None, "phones", ["+861065051234"]),
        (1, 7, 70, 50, T2, False, None, "name", "海底捞火锅"),  # record 70 of source 7
        (1, 7, 70, 50, T2, False, None, "position", [39.9, 116.4]),
        (2, None, None, 60, T2, True, 5, "address", "建国路1号"),  # a BD's edit of lead 2
        (
            1,
            7,
            70,
            50,
            T2,
            False,
            None,
            "name",
            "海底捞火锅（国贸店）",
        ),  # the same field again: the later wins
        (2, 7, 71, 50, T2, False, None, "city", None),
    ]
    with connection.cursor() as cursor:
        for lead, source, record, trust, at, verified, actor, field, value in old:
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, lead_id, source_id, record_id, trust, at, verified_by_bd, "
                "actor_id, field, value) VALUES (3, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    lead,
                    source,
                    record,
                    trust,
                    at,
                    verified,
                    actor,
                    field,
                    json.dumps(value, ensure_ascii=False),
                ],
            )
    with unscoped(), connection.cursor() as cursor:
        for sql in migration.fold_statements(connection.vendor, table):
            cursor.execute(sql)
    assert _rows(table) == [
        (1, None, None, 30, False, {"name": "海底捞", "phones": ["+861065051234"]}, ""),
        (1, 7, 70, 50, False, {"name": "海底捞火锅（国贸店）", "position": [39.9, 116.4]}, ""),
        (2, None, None, 60, True, {"address": "建国路1号"}, ""),
        (2, 7, 71, 50, False, {"city": None}, ""),
    ]
