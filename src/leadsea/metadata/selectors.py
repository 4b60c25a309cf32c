"""Reading objects, field definitions and records; filters and sorting on custom fields through the side
index (CustomValue), the same for leads and custom records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connections
from django.db.models import CharField, Expression, F, FloatField, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.db.models.query import ModelIterable
from django.utils.translation import gettext as _

from leadsea.core.errors import FieldInvalid, NotFound
from leadsea.metadata.models import (
    LEAD,
    CustomRecord,
    CustomValue,
    FieldDefinition,
    FieldMigration,
    ObjectType,
)

T = FieldDefinition.Type
RANGE_OPS = {"gte", "lte", "gt", "lt"}
OPS = RANGE_OPS | {"contains"}
RANGE_TYPES = {T.NUMBER, T.DECIMAL, T.MONEY, T.DATE, T.DATETIME}
NUM_COLUMN_TYPES = {T.NUMBER, T.DECIMAL, T.MONEY, T.BOOLEAN, T.REFERENCE}
TEXT_TYPES = {T.TEXT, T.LONG_TEXT, T.PHONE, T.EMAIL, T.URL}


def field_definitions(*, tenant: Any, object_type: str = LEAD) -> list[FieldDefinition]:
    return list(FieldDefinition.objects.filter(tenant=tenant, object_type=object_type, is_active=True))


def field_definition_get(*, tenant: Any, object_type: str, key: str) -> FieldDefinition:
    defn = FieldDefinition.objects.filter(
        tenant=tenant, object_type=object_type, key=key, is_active=True
    ).first()
    if defn is None:
        raise NotFound(_("Field not found."), code="field_not_found")
    return defn


def object_types(*, tenant: Any) -> list[ObjectType]:
    return list(ObjectType.objects.filter(tenant=tenant, is_active=True).order_by("id"))


def object_type_get(*, tenant: Any, key: str) -> ObjectType:
    """An active object type of the tenant by key (or by id, as the API also accepts)."""
    qs = ObjectType.objects.filter(tenant=tenant, is_active=True)
    obj = qs.filter(pk=int(key)).first() if str(key).isdigit() else qs.filter(key=key).first()
    if obj is None:
        raise NotFound(_("Object not found."), code="object_not_found")
    return obj


def object_key(*, tenant: Any, key: str) -> str:
    """The key of "lead" or of a custom object (given by key or id); NotFound otherwise."""
    return LEAD if key == LEAD else object_type_get(tenant=tenant, key=key).key


def record_get(*, tenant: Any, object_type: ObjectType, record_id: int) -> CustomRecord:
    record = (
        CustomRecord.objects.filter(tenant=tenant, object_type=object_type, pk=record_id)
        .select_related("created_by", "updated_by")
        .first()
    )
    if record is None:
        raise NotFound(_("Record not found."), code="record_not_found")
    record.object_type = object_type
    return record


def field_migrations(*, tenant: Any, object_type: str | None = None, limit: int = 50) -> list[FieldMigration]:
    qs = FieldMigration.objects.filter(tenant=tenant)
    if object_type:
        qs = qs.filter(object_type=object_type)
    return list(qs.order_by("-id")[:limit])


def references_to(
    *, tenant: Any, target: str, record_id: int, limit: int = 200
) -> list[tuple[str, str, int]]:
    """(object key, field key, record id) of the custom records whose reference fields point at
    `target` #record_id: one indexed lookup per reference field."""
    refs = list(
        FieldDefinition.objects.filter(
            tenant=tenant, field_type=T.REFERENCE, target=target, is_active=True
        ).exclude(object_type=LEAD)
    )
    out: list[tuple[str, str, int]] = []
    for d in refs:
        ids = CustomValue.objects.filter(
            tenant=tenant, object_type=d.object_type, field_key=d.key, value_num=float(record_id)
        ).values_list("record_id", flat=True)[:limit]
        out += [(d.object_type, d.key, rid) for rid in ids]
    return out[:limit]


def related_records(*, tenant: Any, target: str, record_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The records that refer to one lead or record, grouped by object and field, for the pages."""
    refs = references_to(tenant=tenant, target=target, record_id=record_id, limit=limit)
    if not refs:
        return []
    objs = {o.key: o for o in object_types(tenant=tenant)}
    records = {
        r.pk: r
        for r in CustomRecord.objects.filter(tenant=tenant, pk__in=[rid for _o, _f, rid in refs]).order_by(
            "-updated_at"
        )
    }
    labels = {
        (d.object_type, d.key): d
        for d in FieldDefinition.objects.filter(
            tenant=tenant, field_type=T.REFERENCE, target=target, is_active=True
        )
    }
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for obj_key, field_key, rid in refs:
        if obj_key not in objs or rid not in records:
            continue
        group = groups.setdefault(
            (obj_key, field_key),
            {"object": objs[obj_key], "field": labels.get((obj_key, field_key)), "records": []},
        )
        group["records"].append(records[rid])
    return list(groups.values())


# --- custom field filters and sorting ----------------------------------------------------------------


def split_filter(name: str, defs: dict[str, FieldDefinition]) -> tuple[str, str]:
    """`seats__gte` -> ("seats", "gte"); a key that itself ends in an operator name wins as a key."""
    if name in defs:
        return name, "eq"
    key, sep, op = name.rpartition("__")
    if sep and op in OPS:
        return key, op
    return name, "eq"


def _bad(key: str, message: str, code: str = "invalid") -> FieldInvalid:
    return FieldInvalid(message, code=code, field=f"cf_{key}")


def _parse_filter_value(defn: FieldDefinition, op: str, raw: str, tenant: Any) -> tuple[str, Any]:
    """(column, value) to compare in the side index."""
    from leadsea.metadata.services import datetime_to_storage, parse_datetime_input

    key, ft = defn.key, defn.field_type
    if ft in (T.NUMBER, T.DECIMAL, T.MONEY, T.REFERENCE):
        try:
            number = float(raw)
        except ValueError:
            raise _bad(key, _("%(field)s must be a number.") % {"field": f"cf_{key}"})
        if ft == T.NUMBER and op == "eq" and number != int(number):
            raise _bad(key, _("%(field)s must be a whole number.") % {"field": f"cf_{key}"})
        return "value_num", number
    if ft == T.BOOLEAN:
        if raw.lower() not in {"true", "false", "1", "0"}:
            raise _bad(key, _("%(field)s must be true or false.") % {"field": f"cf_{key}"})
        return "value_num", 1.0 if raw.lower() in {"true", "1"} else 0.0
    if ft == T.DATE:
        try:
            return "value_text", dt.date.fromisoformat(raw).isoformat()
        except ValueError:
            raise _bad(key, _("%(field)s must be a date (YYYY-MM-DD).") % {"field": f"cf_{key}"})
    if ft == T.DATETIME:
        parsed = parse_datetime_input(raw, tenant=tenant)
        if parsed is None:
            raise _bad(key, _("%(field)s must be a date and time (ISO 8601).") % {"field": f"cf_{key}"})
        return "value_text", datetime_to_storage(parsed)
    if ft == T.PHONE:
        from leadsea.leads.normalize import normalize_phone

        try:
            return "value_text", normalize_phone(raw, field=f"cf_{key}")
        except FieldInvalid:
            return "value_text", raw
    return "value_text", raw


class CustomJsonValue(Expression):
    """value_text (or value_num) of one custom field read from the row's own JSON column with the very
    expressions the set-based rebuild writes into the side index (values._expressions), so a condition on
    it matches the same rows as the same condition on CustomValue. Numbers are read only from JSON
    numbers (a not yet migrated string is no number, as in the index, and never a cast error)."""

    def __init__(self, json_field: str, defn: FieldDefinition, numeric: bool) -> None:
        super().__init__(output_field=FloatField() if numeric else CharField())
        self.source: Any = F(json_field)
        self.defn, self.numeric = defn, numeric

    def get_source_expressions(self) -> list[Any]:
        return [self.source]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.source,) = exprs

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        from leadsea.metadata.values import _expressions

        column, column_p = compiler.compile(self.source)
        text, num, text_p, num_p = _expressions(self.defn, column)
        if not self.numeric:
            return text, [*column_p * text.count(column), *text_p]
        key = self.defn.key
        if connection.vendor == "postgresql":
            guard, guard_p = f"jsonb_typeof({column} -> %s) = 'number'", [key]
        else:
            guard, guard_p = f"json_type({column}, %s) IN ('integer', 'real')", [f"$.{key}"]
        params = [*column_p, *guard_p, *column_p * num.count(column), *num_p]
        return f"(CASE WHEN {guard} THEN {num} END)", params


# Filters on these types can be checked on the row's JSON; others (multiple choice, money, yes/no,
# reference) always go through the side index.
ROW_CHECK_TYPES = {T.NUMBER, T.DECIMAL, T.CHOICE, T.DATE, T.DATETIME} | TEXT_TYPES
LOOKUPS = {
    "eq": Exact,
    "gte": GreaterThanOrEqual,
    "lte": LessThanOrEqual,
    "gt": GreaterThan,
    "lt": LessThan,
}
# A filter matching at most this many records is selective: its ids (read from the side index) drive the
# query. Broader filters are checked on each candidate row (no extra lookup per row), so a first page walks
# records newest-first only until it has found its page.
SELECTIVE_MAX = 2000


def custom_filter_q(
    *, tenant: Any, object_type: str, json_field: str, defn: FieldDefinition, op: str, raw: str
) -> Q:
    """A condition on the records' ids: equality and ranges are index lookups in CustomValue; `contains`
    (searchable text fields) reads the JSON value, so combine it with another filter on large sets."""
    key = defn.key
    if op == "contains":
        _check_contains(defn)
        return Q(**{f"{json_field}__{key}__icontains": raw})
    column, value = _check_parse(defn, op, raw, tenant)
    lookup = column if op == "eq" else f"{column}__{op}"
    if column == "value_text" and op == "eq" and len(value) >= 255:
        # The index keeps 255 characters: the prefix finds candidates, the stored value decides.
        return Q(
            pk__in=CustomValue.objects.filter(
                tenant=tenant, object_type=object_type, field_key=key, value_text=value[:255]
            ).values("record_id")
        ) & Q(**{f"{json_field}__{key}": value})
    return Q(
        pk__in=CustomValue.objects.filter(
            tenant=tenant, object_type=object_type, field_key=key, **{lookup: value}
        ).values("record_id")
    )


def _check_contains(defn: FieldDefinition) -> None:
    if not defn.searchable or defn.field_type not in TEXT_TYPES:
        raise _bad(
            defn.key,
            _("%(field)s is not a searchable text field.") % {"field": f"cf_{defn.key}"},
            "not_searchable",
        )


def _check_parse(defn: FieldDefinition, op: str, raw: str, tenant: Any) -> tuple[str, Any]:
    if op in RANGE_OPS and defn.field_type not in RANGE_TYPES:
        raise _bad(
            defn.key, _("%(field)s has no range filters.") % {"field": f"cf_{defn.key}"}, "invalid_operator"
        )
    return _parse_filter_value(defn, op, raw, tenant)


def custom_filters_apply(
    qs: QuerySet[Any],
    *,
    tenant: Any,
    object_type: str,
    json_field: str,
    filters: dict[str, str] | None,
    definitions: list[FieldDefinition] | None = None,
    stats: dict[str, Any] | None = None,
) -> QuerySet[Any]:
    """Apply `cf_` filters ({"level": "A", "seats__gte": "10", "name__contains": "川"}). `stats`, when
    given, gets `selective: True` when the records were narrowed to a few ids (see custom_ordering).

    Each equality or range filter first reads at most SELECTIVE_MAX + 1 matching ids from the side index
    (an index-only range scan). Selective filters are intersected and the query reads just those records;
    broad ones become a check on the row's JSON with the index's own expressions (CustomJsonValue), so
    the list walks its usual index (newest first) and stops at the page, without one side-index lookup
    per row. Both forms match exactly the rows the side index holds."""
    if not filters:
        return qs
    defs = {
        d.key: d
        for d in (
            definitions
            if definitions is not None
            else field_definitions(tenant=tenant, object_type=object_type)
        )
    }
    selective: list[set[int]] = []
    for name, raw in filters.items():
        key, op = split_filter(name, defs)
        defn = defs.get(key)
        if defn is None or not (defn.filterable or (op == "contains" and defn.searchable)):
            raise FieldInvalid(
                _("%(field)s is not a filterable custom field.") % {"field": f"cf_{name}"},
                code="unknown_field",
                field=f"cf_{name}",
            )
        if op == "contains":
            _check_contains(defn)
            qs = qs.filter(**{f"{json_field}__{key}__icontains": raw})
            continue
        column, value = _check_parse(defn, op, raw, tenant)
        if column == "value_text" and op == "eq" and len(value) >= 255:
            qs = qs.filter(
                custom_filter_q(
                    tenant=tenant, object_type=object_type, json_field=json_field, defn=defn, op=op, raw=raw
                )
            )
            continue
        side = CustomValue.objects.filter(
            tenant=tenant,
            object_type=object_type,
            field_key=key,
            **{column if op == "eq" else f"{column}__{op}": value},
        )
        ids = list(side.values_list("record_id", flat=True)[: SELECTIVE_MAX + 1])
        if len(ids) <= SELECTIVE_MAX:
            selective.append(set(ids))
        elif defn.field_type in ROW_CHECK_TYPES:
            row_value = CustomJsonValue(json_field, defn, numeric=column == "value_num")
            qs = qs.filter(LOOKUPS[op](row_value, value))
        else:
            qs = qs.filter(pk__in=side.values("record_id"))
    if selective:
        qs = qs.filter(pk__in=sorted(set.intersection(*selective)))
        if stats is not None:
            stats["selective"] = True
    return qs


# A page sorted by a custom field is looked for among the first entries of the side index in that order:
# at least WALK_FACTOR x the rows up to the page's end (at most WALK_MAX) and
#  - WALK_RECORDS entries read with their record, one by one (a record read costs ~7 us), or, when the
#    list has equality filters on other fields, which the index itself can check:
#  - WALK_PROBED entries checked one by one in those filters' index entries (~4 us each; only the entries
#    that pass read their record), then WALK_HASHED entries checked at once against a hash of those
#    filters' entries (a fixed cost, ~20 ms per 100,000 entries of the filter's value, then ~0.5 us each).
# A page not found there is sorted from the filtered records' JSON values instead.
WALK_RECORDS = 10_000
WALK_PROBED = 2_000
WALK_HASHED = 50_000
WALK_FACTOR = 20
WALK_MAX = 100_000


class SideIndexOrder(ModelIterable):
    """How a list sorted by a custom field (custom_ordering) is read, page by page: walking the side index
    in the sort order and stopping at the page, instead of sorting every record the filters let through.

    One query reads the page's record ids: the first entries of the field's index in sort order
    (`(tenant, object_type, field_key, value, record_id)`, an ordered index-only range scan, bounded by
    the list's own filters on that field), each checked against the list's own query (its filters and the
    caller's scope exactly as written: a semi-join probing the records' primary key), in index order,
    LIMIT/OFFSET of the page: PostgreSQL stops walking once the page is full. Equality filters on other
    custom fields are checked in the index first (see WALK_PROBED and WALK_HASHED). A full page found so
    is the answer: every record past the walked entries sorts after them. A short one (the filters reject
    nearly all walked entries, the page reaches the records without a value, or no page was asked for)
    falls back to the queryset as built, which sorts the filtered records by their JSON value (empty
    values last): the same order. A second query reads the page's records by id (select_related kept;
    prefetches run on the result as usual). Only plain evaluation walks: values(), count() and the like
    use the queryset as built."""

    tenant: Any = None
    object_type = ""
    key = ""
    column = "value_num"
    descending = False
    bounds: tuple[tuple[str, Any], ...] = ()  # the list's own filters on the sort field: prune the walk
    # (field key, column, value) of the list's equality filters on other fields, checked in the index.
    checks: tuple[tuple[str, str, Any], ...] = ()
    order_by: tuple[Any, ...] = ()  # the ordering custom_ordering set: reordered or reversed, no walk

    def __iter__(self) -> Iterator[Any]:
        qs = self.queryset
        low, high = qs.query.low_mark, qs.query.high_mark
        ids: list[int] = []
        walkable = qs.query.standard_ordering and tuple(qs.query.order_by) == self.order_by
        if high is not None and walkable:
            stages = (
                [("probe", WALK_PROBED), ("hash", WALK_HASHED)] if self.checks else [("probe", WALK_RECORDS)]
            )
            for how, entries in stages:
                walk = min(WALK_MAX, max(entries, WALK_FACTOR * high))
                ids = self._page_ids(qs, low, high, walk=walk, how=how)
                if len(ids) == high - low:
                    break
        if high is None or not walkable or len(ids) < high - low:
            fallback = qs.prefetch_related(None)  # the evaluated queryset prefetches on the result
            fallback._iterable_class = ModelIterable
            yield from fallback
            return
        found = {obj.pk: obj for obj in self._base(qs).filter(pk__in=ids)}
        yield from (found[i] for i in ids if i in found)

    @staticmethod
    def _base(qs: QuerySet[Any]) -> QuerySet[Any]:
        base = qs.prefetch_related(None)
        base.query.clear_limits()
        base.query.clear_ordering(force=True)
        base._iterable_class = ModelIterable
        return base

    def _page_ids(self, qs: QuerySet[Any], low: int, high: int, *, walk: int, how: str) -> list[int]:
        """The page's ids among the first `walk` index entries. `how`: "probe" checks the equality
        filters entry by entry (a scalar subquery: PostgreSQL keeps it a probe per entry, in order, so
        the walk stops at the page); "hash" checks the window's entries against them at once (EXISTS: a
        hash semi-join, unordered), sorts what passes, and only then reads records up to the page."""
        members_sql, members_p = self._base(qs).values("pk").query.get_compiler(using=qs.db).as_sql()
        col, table = self.column, CustomValue._meta.db_table
        order = "DESC" if self.descending else "ASC"
        bounds, bounds_p = "", []
        for op, value in self.bounds:
            bounds += f" AND {col} {op} %s"
            bounds_p.append(value)
        entries = (
            f"SELECT record_id, {col} AS v FROM {table} WHERE tenant_id = %s AND object_type = %s "
            f"AND field_key = %s AND {col} IS NOT NULL{bounds} ORDER BY {col} {order}, record_id {order} "
            "LIMIT %s"
        )
        entries_p = [self.tenant.pk, self.object_type, self.key, *bounds_p, walk]
        checks, checks_p = "", []
        for key, column, value in self.checks:
            probe = (
                f"SELECT 1 FROM {table} f WHERE f.tenant_id = %s AND f.object_type = %s AND f.field_key = %s "
                f"AND f.{column} = %s AND f.record_id = w.record_id"
            )
            checks += f" AND ({probe} LIMIT 1) = 1" if how == "probe" else f" AND EXISTS ({probe})"
            checks_p += [self.tenant.pk, self.object_type, key, value]
        if how == "hash":
            # Sorted candidates first; OFFSET 0 keeps PostgreSQL from merging them into the record reads.
            fence = " OFFSET 0" if connections[qs.db].vendor == "postgresql" else ""
            entries = (
                f"SELECT w.record_id, w.v FROM ({entries}) w WHERE 1 = 1{checks} "
                f"ORDER BY w.v {order}, w.record_id {order}{fence}"
            )
            checks = ""
        sql = (
            f"SELECT w.record_id FROM ({entries}) w WHERE w.record_id IN ({members_sql}){checks} "
            f"ORDER BY w.v {order}, w.record_id {order} LIMIT %s OFFSET %s"
        )
        params = [*entries_p, *(checks_p if how == "hash" else []), *members_p]
        params += [*(checks_p if how == "probe" else []), high - low, low]
        with connections[qs.db].cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]


BOUND_OPS = {"eq": "=", "gte": ">=", "lte": "<=", "gt": ">", "lt": "<"}


def custom_ordering(
    qs: QuerySet[Any],
    *,
    tenant: Any,
    object_type: str,
    json_field: str,
    ordering: str,
    definitions: list[FieldDefinition] | None = None,
    filters: dict[str, str] | None = None,
    selective: bool = False,
) -> QuerySet[Any]:
    """Order by a custom field (`cf_seats`, `-cf_seats`), empty values last, then by id. The order is the
    row's JSON value; an indexed field's pages are read by walking the side index in that order and
    stopping at the page (SideIndexOrder), so a broad list stays fast at 1M records. `filters`: the `cf_`
    filters already applied to `qs`: those on the sort field bound the walk, equalities on others are
    checked in the index as it walks. `selective`: the filters narrowed `qs` to a few ids
    (custom_filters_apply's stats): sorting those is cheaper than any walk."""
    descending = ordering.startswith("-")
    key = ordering.lstrip("-").removeprefix("cf_")
    defs = {
        d.key: d
        for d in (
            definitions
            if definitions is not None
            else field_definitions(tenant=tenant, object_type=object_type)
        )
    }
    defn = defs.get(key)
    if defn is None or defn.field_type in (T.MULTI_CHOICE, T.GEO_POINT, T.FILE):
        raise FieldInvalid(
            _("%(field)s is not a sortable custom field.") % {"field": ordering},
            code="invalid_ordering",
            field="ordering",
        )
    expr: Any
    if defn.field_type == T.MONEY:
        expr = Cast(KT(f"{json_field}__{key}__amount"), FloatField())
    elif defn.field_type in NUM_COLUMN_TYPES - {T.BOOLEAN}:
        expr = Cast(KT(f"{json_field}__{key}"), FloatField())
    else:
        expr = KT(f"{json_field}__{key}")
    qs = qs.alias(_cf_sort=expr)
    if descending:
        qs = qs.order_by(F("_cf_sort").desc(nulls_last=True), "-id")
    else:
        qs = qs.order_by(F("_cf_sort").asc(nulls_last=True), "id")
    from leadsea.metadata.values import is_indexed

    if selective or not is_indexed(defn):
        return qs
    column = "value_num" if defn.field_type in NUM_COLUMN_TYPES else "value_text"
    bounds, checks = [], []
    for name, raw in (filters or {}).items():
        f_key, op = split_filter(name, defs)
        f_defn = defs.get(f_key)
        if f_defn is None or op not in BOUND_OPS:
            continue
        f_column, value = _check_parse(f_defn, op, raw, tenant)
        if f_column == "value_text" and len(value) >= 255:
            continue  # the index holds a prefix: only the record's own value decides
        if f_key == key and f_column == column:
            bounds.append((BOUND_OPS[op], value))
        elif f_key != key and op == "eq":
            checks.append((f_key, f_column, value))
    qs._iterable_class = type(
        "SideIndexOrder",
        (SideIndexOrder,),
        {
            "tenant": tenant,
            "object_type": object_type,
            "key": key,
            "column": column,
            "descending": descending,
            "bounds": tuple(bounds),
            "checks": tuple(checks),
            "order_by": tuple(qs.query.order_by),
        },
    )
    return qs


def records_search(
    *,
    tenant: Any,
    object_type: ObjectType,
    q: str | None = None,
    custom_filters: dict[str, str] | None = None,
    ordering: str = "-updated",
) -> QuerySet[CustomRecord]:
    """Records of one object: `q` on the display name, `cf_` filters, ordering by updated, created, name or
    a custom field."""
    qs = CustomRecord.objects.filter(tenant=tenant, object_type=object_type)
    if q and q.strip():
        qs = qs.filter(display_name__icontains=q.strip())
    defs = field_definitions(tenant=tenant, object_type=object_type.key)
    stats: dict[str, Any] = {}
    qs = custom_filters_apply(
        qs,
        tenant=tenant,
        object_type=object_type.key,
        json_field="data",
        filters=custom_filters,
        definitions=defs,
        stats=stats,
    )
    plain = {
        "-updated": ("-updated_at", "-id"),
        "updated": ("updated_at", "id"),
        "-created": ("-created_at", "-id"),
        "created": ("created_at", "id"),
        "name": ("display_name", "id"),
        "-name": ("-display_name", "-id"),
    }
    if ordering in plain:
        return qs.order_by(*plain[ordering])
    if ordering.lstrip("-").startswith("cf_"):
        return custom_ordering(
            qs,
            tenant=tenant,
            object_type=object_type.key,
            json_field="data",
            ordering=ordering,
            definitions=defs,
            filters=custom_filters,
            selective=bool(stats.get("selective")),
        )
    raise FieldInvalid(
        _("ordering must be one of %(choices)s or cf_<field>.") % {"choices": ", ".join(plain)},
        field="ordering",
    )
