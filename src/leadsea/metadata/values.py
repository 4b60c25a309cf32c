"""The side index of custom field values (CustomValue): kept in the transaction of every write of a lead or
a custom record, rebuilt set-based after bulk loads and field migrations."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from leadsea.core.errors import Conflict
from leadsea.metadata.models import LEAD, CustomRecord, CustomValue, FieldDefinition

T = FieldDefinition.Type
TEXT_LIMIT = 255  # value_text keeps the first 255 characters (B-tree entries stay small)
NOT_INDEXED = {T.GEO_POINT, T.FILE}


def is_indexed(defn: FieldDefinition) -> bool:
    """Filterable, searchable and unique fields have index rows; long texts only when searchable."""
    if defn.field_type in NOT_INDEXED:
        return False
    if defn.field_type == T.LONG_TEXT and not defn.searchable:
        return False
    return defn.filterable or defn.searchable or defn.unique


def index_rows(defn: FieldDefinition, value: Any) -> list[tuple[str | None, float | None]]:
    """(value_text, value_num) rows of one stored value."""
    ft = defn.field_type
    if value is None:
        return []
    if ft == T.MULTI_CHOICE:
        return [(str(v)[:TEXT_LIMIT], None) for v in value]
    if ft in (T.NUMBER, T.DECIMAL, T.REFERENCE):
        return [(str(value), float(value))]
    if ft == T.MONEY:
        return [(str(value.get("currency", "")), float(value["amount"]))]
    if ft == T.BOOLEAN:
        return [("true" if value else "false", 1.0 if value else 0.0)]
    return [(str(value)[:TEXT_LIMIT], None)]


def _definitions(
    tenant: Any, object_type: str, definitions: list[FieldDefinition] | None
) -> list[FieldDefinition]:
    if definitions is None:
        from leadsea.metadata.selectors import field_definitions

        definitions = field_definitions(tenant=tenant, object_type=object_type)
    return [d for d in definitions if is_indexed(d)]


def unique_writers_lock(*, tenant: Any, object_type: str, exclusive: bool = False) -> None:
    """Serialize a change of `unique` with the writers of an object's index rows (PostgreSQL).

    Writers (custom_values_sync, custom_values_rebuild) take the object's transaction-level advisory lock
    shared, then read which fields are unique; switching `unique` on or off takes it exclusively for its
    transaction. So no writer that read the old definition can still insert index rows once the switch
    has flagged (or checked) the existing ones: it either committed before the switch began, or it reads
    the new definition after it. Shared holders do not wait for each other, and the lock lives in memory
    (no row is written). SQLite needs none: its IMMEDIATE transactions already run one writer at a time."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    digest = hashlib.blake2b(f"leadsea.unique:{tenant.pk}:{object_type}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {'pg_advisory_xact_lock' if exclusive else 'pg_advisory_xact_lock_shared'}(%s)", [key]
        )


def _with_current_unique(
    tenant: Any, object_type: str, definitions: list[FieldDefinition]
) -> list[FieldDefinition]:
    """The definitions a caller read earlier, with `unique` as it is now (read under the writers' lock)."""
    if connection.vendor != "postgresql":
        return definitions
    unique = set(
        FieldDefinition.objects.filter(
            tenant=tenant, object_type=object_type, is_active=True, unique=True
        ).values_list("key", flat=True)
    )
    out = []
    for d in definitions:
        if d.unique != (d.key in unique):
            d = copy.copy(d)
            d.unique = d.key in unique
        out.append(d)
    return out


def unique_duplicates(
    *, tenant: Any, object_type: str, defn: FieldDefinition, from_index: bool, limit: int = 5
) -> tuple[list[tuple[str, int]], int]:
    """The values of one field that more than one record holds, compared as the unique index compares them
    (`value_text`, the first 255 characters): up to `limit` examples (most frequent first) with their
    record counts, and how many values are taken more than once in all.

    `from_index`: read the side index (an index-only scan of the field's (value_text, record_id) entries,
    grouped in the database as it streams, so memory stays flat at any size); else the records' JSON
    with the very expressions the set-based rebuild writes into the index (a field without index rows)."""
    if from_index:
        groups = (
            CustomValue.objects.filter(tenant=tenant, object_type=object_type, field_key=defn.key)
            .values("value_text")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
        )
        examples = [
            (str(v), int(n))
            for v, n in groups.order_by("-n", "value_text").values_list("value_text", "n")[:limit]
        ]
        return examples, groups.count() if len(examples) >= limit else len(examples)
    table, column, where, where_p = _source(tenant, object_type)
    text, _num, text_p, _num_p = _expressions(defn, f"r.{column}")
    pg = connection.vendor == "postgresql"
    present = f"r.{column} ->> %s IS NOT NULL" if pg else f"json_type(r.{column}, %s) NOT IN ('null')"
    present_p = [defn.key] if pg else [f"$.{defn.key}"]
    grouped = (
        f"SELECT {text} AS v, COUNT(*) AS n FROM {table} r WHERE r.tenant_id = %s AND {present}"
        + where.replace("object_type_id", "r.object_type_id")
        + " GROUP BY 1 HAVING COUNT(*) > 1"
    )
    params = [*text_p, tenant.pk, *present_p, *where_p]
    with connection.cursor() as cursor:
        cursor.execute(f"{grouped} ORDER BY 2 DESC, 1 LIMIT %s", [*params, limit])
        found = [(str(v), int(n)) for v, n in cursor.fetchall()]
        total = len(found)
        if total >= limit:
            cursor.execute(f"SELECT COUNT(*) FROM ({grouped}) d", params)
            total = int(cursor.fetchone()[0])
    return found, total


def custom_values_delete(
    *, tenant: Any, object_type: str, record_id: int, field_keys: Iterable[str] | None = None
) -> None:
    qs = CustomValue.objects.filter(tenant=tenant, object_type=object_type, record_id=record_id)
    if field_keys is not None:
        qs = qs.filter(field_key__in=list(field_keys))
    qs.delete()


def custom_values_sync(
    *,
    tenant: Any,
    object_type: str,
    record_id: int,
    data: dict[str, Any],
    definitions: list[FieldDefinition] | None = None,
) -> None:
    """Replace the index rows of one record; a value taken by another record of a unique field is a
    Conflict naming the field (also when two writers race: the partial unique index decides). Which fields
    are unique is read under the writers' lock, so a concurrent switch of `unique` is never missed."""
    defs = _locked_definitions(tenant, object_type, definitions)
    rows = _rows(tenant, object_type, defs, record_id, data)
    for d in defs:
        if d.unique and d.key in data:
            _check_unique(tenant, object_type, d, record_id, index_rows(d, data[d.key])[0][0])
    try:
        with transaction.atomic():
            custom_values_delete(tenant=tenant, object_type=object_type, record_id=record_id)
            CustomValue.objects.bulk_create(rows)
    except IntegrityError:
        # A concurrent writer committed the same value first: find which field, for the message.
        for d in defs:
            if d.unique and d.key in data:
                _check_unique(tenant, object_type, d, record_id, index_rows(d, data[d.key])[0][0])
        raise Conflict(_("A unique value is taken."), code="duplicate_value", field="custom_fields")


def custom_values_add(
    *,
    tenant: Any,
    object_type: str,
    records: list[tuple[int, dict[str, Any]]],
    definitions: list[FieldDefinition] | None = None,
) -> None:
    """The index rows of records just created, (id, data) each, in one insert: a batch's writer (intake)
    that has checked its unique values already (check_unique_free). A value taken meanwhile by a
    concurrent writer is refused by the partial unique index: a Conflict for the batch."""
    if not records:
        return
    defs = _locked_definitions(tenant, object_type, definitions)
    rows = [row for record_id, data in records for row in _rows(tenant, object_type, defs, record_id, data)]
    try:
        with transaction.atomic():
            CustomValue.objects.bulk_create(rows)
    except IntegrityError:
        raise Conflict(_("A unique value is taken."), code="duplicate_value", field="custom_fields") from None


def _locked_definitions(
    tenant: Any, object_type: str, definitions: list[FieldDefinition] | None
) -> list[FieldDefinition]:
    """The indexed fields, with which are unique read under the writers' lock (unique_writers_lock)."""
    unique_writers_lock(tenant=tenant, object_type=object_type)
    if definitions is not None:
        definitions = _with_current_unique(tenant, object_type, definitions)
    return _definitions(tenant, object_type, definitions)


def _rows(
    tenant: Any, object_type: str, defs: list[FieldDefinition], record_id: int, data: dict[str, Any]
) -> list[CustomValue]:
    return [
        CustomValue(
            tenant_id=tenant.pk,
            object_type=object_type,
            field_key=d.key,
            record_id=record_id,
            value_text=text,
            value_num=num,
            is_unique=d.unique,
        )
        for d in defs
        for text, num in index_rows(d, data.get(d.key))
    ]


def _check_unique(
    tenant: Any, object_type: str, defn: FieldDefinition, record_id: int, text: str | None
) -> None:
    taken = (
        CustomValue.objects.filter(
            tenant=tenant, object_type=object_type, field_key=defn.key, value_text=text, is_unique=True
        )
        .exclude(record_id=record_id)
        .exists()
    )
    if taken:
        raise Conflict(
            _("%(field)s: the value %(value)s is taken by another record.")
            % {"field": defn.key, "value": text},
            code="duplicate_value",
            field=f"custom_fields.{defn.key}",
        )


def check_unique_free(
    *,
    tenant: Any,
    object_type: str,
    definitions: list[FieldDefinition],
    data: dict[str, Any],
    claimed: dict[str, set[str]],
) -> None:
    """For a record not written yet (a batch of them, as intake makes): raise the Conflict custom_values_sync
    would raise when a unique value in `data` is taken in the tenant's index or by a record earlier in the
    batch (`claimed`, field key -> values, updated here)."""
    for d in definitions:
        if not d.unique or d.key not in data:
            continue
        rows = index_rows(d, data[d.key])
        if not rows or rows[0][0] is None:
            continue
        text = rows[0][0]
        if text in claimed.setdefault(d.key, set()):
            raise Conflict(
                _("%(field)s: the value %(value)s is taken by another record.")
                % {"field": d.key, "value": text},
                code="duplicate_value",
                field=f"custom_fields.{d.key}",
            )
        _check_unique(tenant, object_type, d, 0, text)
    for d in definitions:
        if d.unique and d.key in data and (rows := index_rows(d, data[d.key])) and rows[0][0] is not None:
            claimed[d.key].add(rows[0][0])


def _source(tenant: Any, object_type: str) -> tuple[str, str, str, list[Any]]:
    """(table, json column, extra WHERE, its params) of the records of an object."""
    from leadsea.leads.models import Lead
    from leadsea.metadata.selectors import object_type_get

    if object_type == LEAD:
        return Lead._meta.db_table, "custom_data", "", []
    obj = object_type_get(tenant=tenant, key=object_type)
    return CustomRecord._meta.db_table, "data", " AND object_type_id = %s", [obj.pk]


def _expressions(defn: FieldDefinition, column: str) -> tuple[str, str, list[Any], list[Any]]:
    """SQL for value_text and value_num of one field read from the JSON column, with their params."""
    key = defn.key
    if connection.vendor == "postgresql":
        raw_text, text_p = f"({column} ->> %s)", [key]
        if defn.field_type == T.MONEY:
            return f"({column} -> %s ->> 'currency')", f"({column} -> %s ->> 'amount')::float8", [key], [key]
        if defn.field_type == T.BOOLEAN:
            return raw_text, f"CASE WHEN {column} ->> %s = 'true' THEN 1.0 ELSE 0.0 END", text_p, [key]
        if defn.field_type in (T.NUMBER, T.DECIMAL, T.REFERENCE):
            return raw_text, f"({column} ->> %s)::float8", text_p, [key]
        return f"left({column} ->> %s, {TEXT_LIMIT})", "NULL", text_p, []
    path = f"$.{key}"
    raw = f"json_extract({column}, %s)"
    if defn.field_type == T.MONEY:
        return (
            f"json_extract({column}, %s)",
            f"json_extract({column}, %s)",
            [f"{path}.currency"],
            [f"{path}.amount"],
        )
    if defn.field_type == T.BOOLEAN:
        return (
            f"CASE WHEN {raw} THEN 'true' ELSE 'false' END",
            f"CASE WHEN {raw} THEN 1.0 ELSE 0.0 END",
            [path],
            [path],
        )
    if defn.field_type in (T.NUMBER, T.DECIMAL, T.REFERENCE):
        return f"CAST({raw} AS TEXT)", f"CAST({raw} AS REAL)", [path], [path]
    return f"substr({raw}, 1, {TEXT_LIMIT})", "NULL", [path], []


def custom_values_rebuild(
    *,
    tenant: Any,
    object_type: str,
    field_keys: Iterable[str] | None = None,
    record_ids: tuple[int, int] | None = None,
) -> int:
    """Rebuild the index rows of an object's records (all fields, or `field_keys`) with one INSERT ... SELECT
    per field: for bulk loads and field migrations. `record_ids` (low, high] limits it to a batch.
    Returns the rows written."""
    from leadsea.metadata.selectors import field_definitions

    keys = None if field_keys is None else list(field_keys)
    table, column, where, where_p = _source(tenant, object_type)
    values_table = CustomValue._meta.db_table
    pg = connection.vendor == "postgresql"
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        unique_writers_lock(tenant=tenant, object_type=object_type)
        defs = [d for d in field_definitions(tenant=tenant, object_type=object_type) if is_indexed(d)]
        if keys is not None:
            defs = [d for d in defs if d.key in keys]
        delete = f"DELETE FROM {values_table} WHERE tenant_id = %s AND object_type = %s"
        delete_p: list[Any] = [tenant.pk, object_type]
        if keys is not None:
            delete += " AND field_key IN (" + ", ".join(["%s"] * len(keys)) + ")"
            delete_p += keys
        if record_ids is not None:
            delete += " AND record_id > %s AND record_id <= %s"
            delete_p += list(record_ids)
        cursor.execute(delete, delete_p)
        for d in defs:
            batch = ""
            batch_p: list[Any] = []
            if record_ids is not None:
                batch, batch_p = " AND r.id > %s AND r.id <= %s", list(record_ids)
            head = (
                f"INSERT INTO {values_table} (tenant_id, object_type, field_key, record_id, value_text, "
                "value_num, is_unique) "
            )
            if d.field_type == T.MULTI_CHOICE:
                if pg:
                    sql = (
                        f"{head} SELECT r.tenant_id, %s, %s, r.id, left(e.v, {TEXT_LIMIT}), NULL, %s "
                        f"FROM {table} r CROSS JOIN LATERAL jsonb_array_elements_text("
                        f"CASE WHEN jsonb_typeof(r.{column} -> %s) = 'array' THEN r.{column} -> %s "
                        "ELSE '[]'::jsonb END) AS e(v) WHERE r.tenant_id = %s"
                    )
                    params = [object_type, d.key, d.unique, d.key, d.key, tenant.pk]
                else:
                    sql = (
                        f"{head} SELECT r.tenant_id, %s, %s, r.id, substr(e.value, 1, {TEXT_LIMIT}), "
                        "NULL, %s "
                        f"FROM {table} r, json_each(r.{column}, %s) AS e WHERE r.tenant_id = %s"
                    )
                    params = [object_type, d.key, d.unique, f"$.{d.key}", tenant.pk]
                cursor.execute(
                    sql + where.replace("object_type_id", "r.object_type_id") + batch,
                    params + where_p + batch_p,
                )
            else:
                text, num, text_p, num_p = _expressions(d, f"r.{column}")
                present = (
                    f"r.{column} ->> %s IS NOT NULL" if pg else f"json_type(r.{column}, %s) NOT IN ('null')"
                )
                present_p = [d.key] if pg else [f"$.{d.key}"]
                sql = (
                    f"{head} SELECT r.tenant_id, %s, %s, r.id, {text}, {num}, %s FROM {table} r "
                    f"WHERE r.tenant_id = %s AND {present}"
                )
                params = [object_type, d.key, *text_p, *num_p, d.unique, tenant.pk, *present_p]
                cursor.execute(
                    sql + where.replace("object_type_id", "r.object_type_id") + batch,
                    params + where_p + batch_p,
                )
            written += max(cursor.rowcount, 0)
    return written
