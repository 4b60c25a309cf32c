"""Writes of intake: submitting records through the pipeline (normalize, candidates, score, decide), review
decisions, lead merges and their undo, sources and the tenant's thresholds. Each service is one transaction.

Survivorship (per lead field): the value of a BD-verified provenance row wins; otherwise the most trusted
source; otherwise the most recent. A lead without provenance (created before intake, or by hand) gets a
baseline row for its current values the first time intake touches it (trust of its channel, at its last
update), so its values are weighed, never silently overwritten."""

from __future__ import annotations

import heapq
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils.translation import gettext as _

from leadsea.audit.models import ChangeLog
from leadsea.audit.services import change_record, changed_fields
from leadsea.core import bulksql, clock, geo
from leadsea.core.errors import DomainError, FieldInvalid, Forbidden, NotFound
from leadsea.core.gcpause import gc_paused
from leadsea.core.middleware import current_request_id
from leadsea.events.catalog import LEAD_CREATED, LEAD_MERGED, LEAD_UNMERGED, LEAD_UPDATED
from leadsea.events.services import emit, emit_many
from leadsea.intake import matching, pipeline
from leadsea.intake.errors import (
    MergeAlreadyUndone,
    MergeInvalid,
    MergeOwnerConflict,
    ReviewAlreadyDecided,
    SourceChannelMismatch,
)
from leadsea.intake.models import (
    FieldProvenance,
    IntakeRecord,
    IntakeSettings,
    IntakeSource,
    LeadFeatures,
    LeadKey,
    LeadMerge,
    ReviewItem,
)
from leadsea.leads.models import Lead, LeadTag
from leadsea.metadata.selectors import field_definitions
from leadsea.metadata.services import custom_data_validate
from leadsea.metadata.values import check_unique_free, custom_values_add
from leadsea.pools import rules
from leadsea.pools.models import LedgerEntry, Pool
from leadsea.pools.services import ledger_write
from leadsea.tagging.services import tags_apply
from leadsea.tenancy.models import Membership, Tenant

S = IntakeRecord.Status
KEY_CAP = 60  # a blocking key shared by more leads than this (a big chain in one city) says too little
MAX_CANDIDATES = 12  # best candidates per record by the weight of the keys they share
IN_CHUNK = 900  # values per IN (...) list

# ------------------------------------------------------------------------------------- bulk SQL helpers


def _insert_rows(model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT plain value rows (see core.bulksql.insert_rows: COPY on PostgreSQL)."""
    bulksql.insert_rows(model, names, rows)


_PROV_COLUMNS = (
    "tenant_id",
    "lead_id",
    "given",
    "source_id",
    "record_id",
    "trust",
    "at",
    "verified_by_bd",
    "actor_id",
)


def _fast_update(tenant: Tenant, objs: Sequence[models.Model], names: Sequence[str]) -> None:
    """UPDATE the given fields of many rows in one statement, each row scoped to the tenant."""
    if not objs:
        return
    fields = [f for f in type(objs[0])._meta.concrete_fields if f.name in names]
    attnames = [f.attname for f in fields]
    bulksql.update_rows(
        type(objs[0]), tenant.pk, attnames, [[o.pk, *(getattr(o, a) for a in attnames)] for o in objs]
    )


# ------------------------------------------------------------------------------------------ settings


def intake_settings_get(*, tenant: Tenant) -> IntakeSettings:
    found = IntakeSettings.objects.filter(tenant=tenant).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return IntakeSettings.objects.create(tenant=tenant)
    except IntegrityError:  # created concurrently
        return IntakeSettings.objects.get(tenant=tenant)


@transaction.atomic
def intake_settings_update(
    *,
    tenant: Tenant,
    actor: Membership,
    auto_merge_at: float | None = None,
    review_at: float | None = None,
    now: datetime | None = None,
) -> IntakeSettings:
    """Change the thresholds (admins and HQ); audited as `intake.settings`."""
    now = now or clock.now()
    if not actor.sees_whole_tenant:
        raise Forbidden(_("Only administrators and HQ may change intake settings."))
    current = intake_settings_get(tenant=tenant)
    settings_row = IntakeSettings.objects.select_for_update().get(tenant=tenant, pk=current.pk)
    before = {"auto_merge_at": settings_row.auto_merge_at, "review_at": settings_row.review_at}
    for name, value in (("auto_merge_at", auto_merge_at), ("review_at", review_at)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise FieldInvalid(_("%(field)s must be a number between 0 and 1.") % {"field": name}, field=name)
        setattr(settings_row, name, float(value))
    if settings_row.review_at > settings_row.auto_merge_at:
        raise FieldInvalid(
            _("review_at must not be above auto_merge_at."), code="invalid_thresholds", field="review_at"
        )
    settings_row.updated_at = now
    settings_row.save()
    after = {"auto_merge_at": settings_row.auto_merge_at, "review_at": settings_row.review_at}
    diff_before, diff_after = changed_fields(before, after)
    if diff_after:
        change_record(
            tenant=tenant,
            actor=actor.user,
            action="intake.settings",
            obj=settings_row,
            before=diff_before,
            after=diff_after,
            now=now,
        )
    return settings_row


# ------------------------------------------------------------------------------------------- sources


def source_get_or_create(
    *,
    tenant: Tenant,
    key: str,
    channel: str,
    name: str = "",
    trust: int | None = None,
    config: dict[str, Any] | None = None,
    actor: Any = None,
    now: datetime | None = None,
) -> IntakeSource:
    """The source named `key`, created on first use (trust defaults by channel, see IntakeSource)."""
    import re

    if channel not in IntakeSource.Channel.values:
        raise FieldInvalid(
            _("channel must be one of %(choices)s.") % {"choices": ", ".join(IntakeSource.Channel.values)},
            field="channel",
        )
    if not isinstance(key, str) or not re.fullmatch(r"[-a-zA-Z0-9_]{1,50}", key):
        raise FieldInvalid(_("A source key is 1 to 50 letters, digits, - or _."), field="source")
    found = IntakeSource.objects.filter(tenant=tenant, key=key).first()
    if found is None:
        now = now or clock.now()
        try:
            with transaction.atomic():
                found = IntakeSource.objects.create(
                    tenant=tenant,
                    key=key,
                    channel=channel,
                    name=name or key,
                    trust=IntakeSource.DEFAULT_TRUST[channel] if trust is None else trust,
                    config=config or {},
                    created_at=now,
                )
                change_record(
                    tenant=tenant,
                    actor=getattr(actor, "user", actor),
                    action="intake.source_create",
                    obj=found,
                    before=None,
                    after={"key": key, "channel": channel, "name": found.name, "trust": found.trust},
                    now=now,
                )
        except IntegrityError:
            found = IntakeSource.objects.get(tenant=tenant, key=key)
    if found.channel != channel:
        raise SourceChannelMismatch(field="source")
    return found


@transaction.atomic
def source_update(
    *,
    tenant: Tenant,
    actor: Membership,
    source: IntakeSource,
    name: str | None = None,
    trust: int | None = None,
    config: dict[str, Any] | None = None,
    is_active: bool | None = None,
    now: datetime | None = None,
) -> IntakeSource:
    """Change a source's name, trust, configuration or activity (admins/HQ); audited as `intake.source`."""
    now = now or clock.now()
    if not actor.sees_whole_tenant:
        raise Forbidden(_("Only administrators and HQ may configure intake sources."))
    row = IntakeSource.objects.select_for_update().get(tenant=tenant, pk=source.pk)
    before = {"name": row.name, "trust": row.trust, "config": row.config, "is_active": row.is_active}
    if name is not None:
        row.name = name.strip()[:200] or row.key
    if trust is not None:
        if isinstance(trust, bool) or not isinstance(trust, int) or not -1000 <= trust <= 1000:
            raise FieldInvalid(_("trust must be a whole number."), field="trust")
        row.trust = trust
    if config is not None:
        if not isinstance(config, dict):
            raise FieldInvalid(_("config must be an object."), field="config")
        row.config = config
    if is_active is not None:
        row.is_active = bool(is_active)
    row.save()
    after = {"name": row.name, "trust": row.trust, "config": row.config, "is_active": row.is_active}
    diff_before, diff_after = changed_fields(before, after)
    if diff_after:
        change_record(
            tenant=tenant,
            actor=actor.user,
            action="intake.source",
            obj=row,
            before=diff_before,
            after=diff_after,
            now=now,
        )
    return row


# ------------------------------------------------------------------------------------------- results


@dataclass
class IntakeResult:
    """What became of one submitted record. `duplicate` is True when the same source + external_id with the
    same payload was submitted before: the earlier result is returned and nothing is written."""

    index: int
    status: str
    record_id: int | None = None
    lead_id: int | None = None
    review_item_id: int | None = None
    score: float | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "record_id": self.record_id,
            "lead_id": self.lead_id,
            "review_item_id": self.review_item_id,
            "score": self.score,
            "errors": self.errors,
            "duplicate": self.duplicate,
        }


def _result_of(index: int, record: IntakeRecord, *, duplicate: bool = False) -> IntakeResult:
    errors = []
    if record.status == S.ERROR:
        errors = [
            {"code": record.error_code, "message": record.error_message, "field": record.error_field or None}
        ]
    review_id = None
    if record.status == S.REVIEW:
        review_id = (
            ReviewItem.objects.filter(
                tenant_id=record.tenant_id, record=record, status=ReviewItem.Status.OPEN
            )
            .values_list("pk", flat=True)
            .first()
        )
    return IntakeResult(
        index=index,
        status=record.status,
        record_id=record.pk,
        lead_id=record.lead_id,
        review_item_id=review_id,
        score=record.score,
        errors=errors,
        duplicate=duplicate,
    )


# ---------------------------------------------------------------------------------------- provenance


@dataclass
class _Prov:
    """One giving of field values (a FieldProvenance row, or one about to be written)."""

    given: dict[str, Any]  # {field: value}
    trust: int
    at: datetime
    verified: bool
    order: int  # later rows win ties

    def rank(self) -> tuple[bool, int, datetime, int]:
        return (self.verified, self.trust, self.at, self.order)


def _channel_trust(channel: str) -> int:
    return IntakeSource.DEFAULT_TRUST.get(channel or "bd", IntakeSource.DEFAULT_TRUST["bd"])


def lead_field_value(lead: Lead, name: str) -> Any:
    if name == "position":
        return [lead.lat, lead.lng] if lead.lat is not None else None
    if name == "phones":
        return list(lead.phones) or None
    return getattr(lead, name) or None


def _set_lead_field(lead: Lead, name: str, value: Any) -> None:
    if name == "position":
        lead.lat, lead.lng = (value[0], value[1]) if value else (None, None)
        lead.geo_cell = (
            geo.cell_of(lead.lat, lead.lng) if lead.lat is not None and lead.lng is not None else None
        )
    elif name == "phones":
        lead.phones = list(value or [])
        lead.phone = lead.phones[0] if lead.phones else ""
    else:
        setattr(lead, name, value or "")


def _lead_values(lead: Lead) -> dict[str, Any]:
    return {
        "name": lead.name,
        "branch_name": lead.branch_name,
        "address": lead.address,
        "city": lead.city,
        "phones": list(lead.phones),
        "lat": lead.lat,
        "lng": lead.lng,
        "category": lead.category,
    }


def _survive(lead: Lead, rows: Sequence[_Prov]) -> bool:
    """Set each field of `lead` to its surviving value; True when something changed."""
    best: dict[str, tuple[tuple[bool, int, datetime, int], Any]] = {}
    for row in rows:
        rank = row.rank()
        for name, value in row.given.items():
            if value in (None, "", []):
                continue
            held = best.get(name)
            if held is None or rank > held[0]:
                best[name] = (rank, value)
    changed = False
    for name, (_rank, value) in best.items():
        if lead_field_value(lead, name) != value:
            _set_lead_field(lead, name, value)
            changed = True
    if changed:
        lead.search_text = pipeline.search_text(lead.name, lead.branch_name, lead.address, lead.phones)
    return changed


def _provenance_of(tenant: Tenant, leads: Sequence[Lead], now: datetime) -> dict[int, list[_Prov]]:
    """The provenance rows of these leads, creating the baseline row of leads that have none (the values
    they had before intake)."""
    by_lead: dict[int, list[_Prov]] = defaultdict(list)
    ids = [lead.pk for lead in leads]
    for chunk in _chunks(ids):
        for pk, lead_id, given, trust, at, verified in (
            FieldProvenance.objects.filter(tenant=tenant, lead_id__in=chunk)
            .order_by("id")
            .values_list("id", "lead_id", "given", "trust", "at", "verified_by_bd")
        ):
            by_lead[lead_id].append(_Prov(given, trust, at, verified, pk))
    baseline: list[tuple[Any, ...]] = []
    for lead in leads:
        if by_lead.get(lead.pk):
            continue
        values = _lead_given(lead, pipeline.LEAD_FIELDS)
        if not values:
            continue
        trust, at = _channel_trust(lead.source_channel), lead.updated_at or now
        baseline.append((tenant.pk, lead.pk, values, None, None, trust, at, False, None))
        by_lead[lead.pk].append(_Prov(values, trust, at, False, 0))
    _insert_rows(FieldProvenance, _PROV_COLUMNS, baseline)
    return by_lead


def _lead_given(lead: Lead, names: Iterable[str]) -> dict[str, Any]:
    """The lead's non-empty values of these survivorship fields."""
    return {name: value for name in names if (value := lead_field_value(lead, name)) not in (None, "", [])}


def _lead_keys_write(
    tenant: Tenant, leads: Sequence[Lead], *, replace: bool, recs: Sequence[matching.Rec | None] | None = None
) -> None:
    """Write the blocking keys and the stored matcher features of leads (merged-away leads get none);
    `recs` may give each one's prepared form (None: compute it)."""
    if not leads:
        return
    held: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))  # lead -> key -> row ids
    if replace:
        ids = [lead.pk for lead in leads]
        select = f"SELECT id, lead_id, key FROM {LeadKey._meta.db_table}"
        for row_id, lead_id, key in _rows_by_ids(select, "lead_id", tenant.pk, ids):
            held[lead_id][key].append(row_id)
        LeadFeatures.objects.filter(tenant=tenant, lead_id__in=ids).delete()
    raws = [pipeline.raw_record(str(lead.pk), _lead_values(lead)) for lead in leads]
    features = [matching.features_of(raw, cache=True) for raw in raws]
    given = list(recs) if recs is not None else [None] * len(leads)
    todo = [i for i, r in enumerate(given) if r is None]
    if todo:
        fresh = matching.prepare(
            [raws[i] for i in todo], features=[features[i] for i in todo], statistics=False
        )
        for i, rec in zip(todo, fresh, strict=True):
            given[i] = rec
    live = [i for i, lead in enumerate(leads) if lead.merged_into_id is None]
    # Only the keys that changed are written: a merge that adds a phone changes one or two of a lead's
    # dozens of keys, and each key row costs four index entries to delete and to insert.
    added: list[tuple[int, int, int]] = []
    gone: list[int] = []
    for i, lead in enumerate(leads):
        had = held.get(lead.pk, {})
        keys = pipeline.lead_keys(given[i]) if lead.merged_into_id is None else []  # type: ignore[arg-type]
        added += [(tenant.pk, lead.pk, key) for key in keys if key not in had]
        keep = set(keys)
        for key, row_ids in had.items():
            gone += row_ids[1:] if key in keep else row_ids
    for sql, params in _id_lists(gone):
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {LeadKey._meta.db_table} WHERE tenant_id = %s AND id {sql}",
                [tenant.pk, *params],
            )
    _insert_rows(LeadKey, ("tenant_id", "lead_id", "key"), added)
    _insert_rows(
        LeadFeatures,
        ("lead_id", "tenant_id", "version", "lat", "lng", "data"),
        [
            (
                leads[i].pk,
                tenant.pk,
                matching.FEATURES_VERSION,
                leads[i].lat,
                leads[i].lng,
                matching.features_dump(features[i]),
            )
            for i in live
        ],
    )


def lead_keys_refresh(*, tenant: Tenant, leads: Sequence[Lead]) -> None:
    """Rewrite the blocking keys of leads whose matching fields changed (also for leads made elsewhere)."""
    _lead_keys_write(tenant, leads, replace=True)


def lead_provenance_record(
    *,
    tenant: Tenant,
    lead: Lead,
    actor: Membership | None,
    now: datetime | None = None,
    fields: set[str] | None = None,
) -> None:
    """Record the values of a lead made or edited by a person in the workbench as BD-channel provenance
    (verified when a BD gave them) and refresh its blocking keys, so intake weighs and finds it.
    `fields`: only these survivorship fields changed (None: all, on create)."""
    now = now or clock.now()
    verified = actor is not None and actor.role == Membership.Role.BD
    names = [n for n in pipeline.LEAD_FIELDS if fields is None or n in fields]
    if not names:
        return
    actor_id = actor.user_id if actor is not None else None
    given = _lead_given(lead, names)
    if given:
        _insert_rows(
            FieldProvenance,
            _PROV_COLUMNS,
            [(tenant.pk, lead.pk, given, None, None, _channel_trust("bd"), now, verified, actor_id)],
        )
    lead_keys_refresh(tenant=tenant, leads=[lead])


def lead_keys_rebuild(*, tenant: Tenant, batch_size: int = 5000) -> int:
    """Rewrite the blocking keys of every live lead of the tenant (after a bulk load that bypassed intake,
    such as the demo data); returns the number of leads indexed. One transaction per batch."""
    done, last = 0, 0
    while True:
        with transaction.atomic():
            leads = list(
                Lead.objects.filter(tenant=tenant, merged_into__isnull=True, pk__gt=last).order_by("pk")[
                    :batch_size
                ]
            )
            if not leads:
                return done
            _lead_keys_write(tenant, leads, replace=True)
        done, last = done + len(leads), leads[-1].pk


# ---------------------------------------------------------------------------------------------- submit


@dataclass
class _Item:
    index: int
    data: dict[str, Any]
    external_id: str
    phash: str
    normalized: dict[str, Any] | None = None
    error: DomainError | None = None
    record: IntakeRecord | None = None
    update: bool = False  # an earlier record with this external_id and another payload
    deferred: bool = False  # a new record with its id reserved, inserted with its decision (PostgreSQL)


def _external_id(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    value = data.get("external_id")
    if value is None:
        return ""
    return str(value).strip()[:200]


@gc_paused()  # a batch's hundreds of thousands of short-lived objects: see core.gcpause
def intake_submit(
    *,
    tenant: Tenant,
    source: IntakeSource,
    records: list[dict[str, Any]],
    actor: Membership | None = None,
    now: datetime | None = None,
    batch: Any = None,
    lines: Sequence[int] | None = None,
) -> list[IntakeResult]:
    """Run records through the pipeline, one transaction. Per record: normalize, find candidates among the
    tenant's leads, score, then merge (>= auto_merge_at), review (>= review_at) or create a lead.

    Idempotent by source + external_id: the same payload again returns the earlier result and writes
    nothing; a changed payload updates the record and, through survivorship, the lead it created or merged
    into (a record still in review is matched again). A malformed record gets status `error` with its code,
    message and field; the others go on."""
    now = now or clock.now()
    if source.tenant_id != tenant.pk:
        raise NotFound(_("Intake source not found."), code="source_not_found", field="source")
    items: list[_Item] = []
    for i, data in enumerate(records):
        it = _Item(i, data if isinstance(data, dict) else {}, _external_id(data), pipeline.payload_hash(data))
        items.append(it)
        if not isinstance(data, dict):
            it.error = FieldInvalid(_("A record must be an object."), code="malformed")
            continue
        try:
            it.normalized = pipeline.normalize(data)
        except DomainError as exc:
            it.error = exc
    # The same external_id twice in one call: the later one is an update of the earlier, applied after it.
    passes: list[list[_Item]] = []
    seen_in: dict[str, int] = {}
    for item in items:
        k = seen_in.get(item.external_id, -1) + 1 if item.external_id else 0
        if item.external_id:
            seen_in[item.external_id] = k
        while len(passes) <= k:
            passes.append([])
        passes[k].append(item)
    results: dict[int, IntakeResult] = {}
    with transaction.atomic():
        _lock_records(tenant, items)
        for group in passes:
            try:
                with transaction.atomic():
                    done = _submit_pass(tenant, source, group, actor, now, batch, lines, claim_first=False)
            except IntegrityError:
                # Another transaction took one of these external ids after we looked (records are inserted
                # with their decisions, at the end of the pass): the pass again, claiming them first.
                for it in group:
                    it.record, it.update, it.deferred = None, False, False
                done = _submit_pass(tenant, source, group, actor, now, batch, lines, claim_first=True)
            for result in done:
                results[result.index] = result
    return [results[i] for i in range(len(items))]


def _lock_records(tenant: Tenant, items: Sequence[_Item]) -> None:
    """On PostgreSQL, turn JIT compilation off for the transaction and take its advisory locks, in one order:
    of the cities its records name, and for a placed record naming none, of the coarse cells around it and
    of the cities of the leads around it (`pipeline.lock_names`, `_cities_around`). Two batches sending one
    store at once, by the city's name or by a position where the tenant knows leads of that city, are
    matched one after the other, so the store is created once and merged once; batches of different cities
    run in parallel (`leadsea bench intake --workers`). Not covered: a duplicate naming another city (or
    none, with no position or none of the tenant's leads around it) than the other side. SQLite runs one
    writer at a time."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # The batch's candidate probe is estimated above jit_above_cost: compiling it cost ~12 ms a statement
        # (0.1 ms of server time per record, measured), more than the plan's run saves.
        cursor.execute("SET LOCAL jit = off")
    names: set[str] = set()
    unnamed: list[dict[str, Any]] = []  # placed records naming no city: they lock cells, not a city
    for it in items:
        if it.normalized:
            mine = pipeline.lock_names(it.normalized)
            names.update(mine)
            if not mine[0].startswith("city|"):
                unnamed.append(it.normalized)
    names.update(f"city|{city}" for city in _cities_around(tenant, unnamed))
    if not names:
        return
    keys = sorted({pipeline.hash_key(f"intake|{tenant.pk}|{name}") for name in names})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) "
            "FROM (SELECT k FROM unnest(%s::bigint[]) AS k ORDER BY k) AS s",
            [bulksql.int_array(keys)],
        )


LOCK_AROUND_M = 1000.0  # the leads within about this distance say which city a record naming none is in
LOCK_AROUND_LEADS = 4  # leads read per ~1 km cell


def _cities_around(tenant: Tenant, records: Sequence[dict[str, Any]]) -> set[str]:
    """For each placed record, the lock city (`pipeline.lock_city`) most of the tenant's leads in the ~1 km
    cells within LOCK_AROUND_M of it name (all of those tied): where a record names no city, its neighbours
    say which city's batches may be sending the same store. The most named, not every one named: a few leads
    placed in the wrong city would otherwise make two cities' batches wait for each other."""
    around = [geo.cells_covering(n["lat"], n["lng"], LOCK_AROUND_M) for n in records]
    cells = sorted({cell for cells in around for cell in cells})
    if not cells:
        return set()
    named: dict[int, Counter[str]] = defaultdict(Counter)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.cell, l.city FROM unnest(%s::int[]) AS c(cell) CROSS JOIN LATERAL (
                SELECT city FROM {Lead._meta.db_table}
                WHERE tenant_id = %s AND geo_cell = c.cell AND merged_into_id IS NULL AND city <> ''
                LIMIT %s
            ) AS l
            """,
            [bulksql.int_array(cells), tenant.pk, LOCK_AROUND_LEADS],
        )
        for cell, city in cursor.fetchall():
            named[cell][pipeline.lock_city({"city": city})] += 1
    found: set[str] = set()
    for cells_of_record in around:
        votes: Counter[str] = Counter()
        for cell in cells_of_record:
            votes.update(named.get(cell, {}))
        votes.pop("", None)
        if votes:
            top = max(votes.values())
            found.update(city for city, n in votes.items() if n == top)
    return found


def _submit_pass(
    tenant: Tenant,
    source: IntakeSource,
    items: list[_Item],
    actor: Membership | None,
    now: datetime,
    batch: Any,
    lines: Sequence[int] | None,
    *,
    claim_first: bool,
) -> list[IntakeResult]:
    """One pass of a submission (no external id twice). New records are claimed first (inserted pending,
    updated with their decision) on SQLite or when `claim_first`; on PostgreSQL otherwise their ids are
    reserved and they are inserted once, decided, at the end of the pass (an IntegrityError there means
    another transaction took an external id meanwhile: the caller runs the pass again, claiming first)."""
    results: list[IntakeResult] = []
    existing: dict[str, IntakeRecord] = {}
    for chunk in _chunks([it.external_id for it in items if it.external_id]):
        for rec in records_by_external_id(tenant, source, chunk).select_for_update():
            existing[rec.external_id] = rec
    fresh: list[_Item] = []
    for it in items:
        old = existing.get(it.external_id) if it.external_id else None
        if old is not None:
            if old.payload_hash == it.phash:
                results.append(_result_of(it.index, old, duplicate=True))
                continue
            it.record, it.update = old, True
        if not it.update:
            fresh.append(it)
    _insert_records(tenant, source, fresh, actor, now, batch, lines, results, claim_first=claim_first)
    done = {r.index for r in results}
    todo = [it for it in items if it.record is not None and it.index not in done]
    # Updates of records that made or joined a lead go through survivorship; the rest are matched (again).
    updates = [
        it
        for it in todo
        if it.update
        and it.error is None
        and it.record is not None
        and it.record.status in (S.CREATED, S.MERGED)
    ]
    matches = [it for it in todo if it.error is None and it not in updates]
    errors = [it for it in todo if it.error is not None]
    for it in errors:
        failed = it.record
        assert failed is not None and it.error is not None
        if it.deferred:  # built with its error, inserted below
            results.append(_result_of(it.index, failed))
            continue
        if it.update:
            _close_open_reviews(tenant, failed, now)
        failed.raw, failed.payload_hash, failed.updated_at = it.data, it.phash, now
        failed.status, failed.lead_id, failed.score = S.ERROR, failed.lead_id if it.update else None, None
        failed.error_code, failed.error_message, failed.error_field = (
            it.error.code,
            it.error.message[:500],
            it.error.field or "",
        )
        failed.save()
        results.append(_result_of(it.index, failed))
    if updates:
        results.extend(_apply_updates(tenant, source, updates, actor, now))
    if matches:
        results.extend(_match_and_decide(tenant, source, matches, actor, now))
    bulksql.insert_objects([it.record for it in items if it.deferred and it.record is not None])
    return results


def records_by_external_id(
    tenant: Tenant, source: IntakeSource, external_ids: Sequence[str]
) -> models.QuerySet[IntakeRecord]:
    """The source's records of these external ids, through the partial unique index on (tenant, source,
    external_id): the query repeats the index's condition (external_id <> ''), which PostgreSQL cannot
    derive from an IN list of more than 100 values; without it a batch of 500 scanned all of the tenant's
    records (62 ms at 56,000 records, growing with them, against 4 ms)."""
    return IntakeRecord.objects.filter(tenant=tenant, source=source, external_id__in=external_ids).exclude(
        external_id=""
    )


def _insert_records(
    tenant: Tenant,
    source: IntakeSource,
    fresh: list[_Item],
    actor: Membership | None,
    now: datetime,
    batch: Any,
    lines: Sequence[int] | None,
    results: list[IntakeResult],
    *,
    claim_first: bool,
) -> None:
    """Claim the external ids: insert the new records (pending) in one statement; when another transaction
    inserted one of them meanwhile, fall back to one savepoint per record and treat the loser as a replay.
    On PostgreSQL, unless `claim_first`, only reserve their ids (see _submit_pass)."""

    def build(it: _Item) -> IntakeRecord:
        return IntakeRecord(  # references by id (no descriptor work; nothing here reads them as objects)
            tenant_id=tenant.pk,
            source_id=source.pk,
            external_id=it.external_id,
            submitted_by_id=actor.user_id if actor is not None else None,
            received_at=now,
            updated_at=now,
            raw=it.data,
            normalized=it.normalized or {},
            payload_hash=it.phash,
            status=S.PENDING if it.error is None else S.ERROR,
            error_code=it.error.code if it.error else "",
            error_message=it.error.message[:500] if it.error else "",
            error_field=(it.error.field or "") if it.error else "",
            batch_id=batch.pk if batch is not None else None,
            line=lines[it.index] if lines is not None else None,
        )

    if not fresh:
        return
    objs = [build(it) for it in fresh]
    if connection.vendor == "postgresql" and not claim_first:
        for it, obj, pk in zip(fresh, objs, bulksql.reserve_ids(IntakeRecord, len(objs)), strict=True):
            obj.pk, it.record, it.deferred = pk, obj, True
        return
    try:
        with transaction.atomic():
            bulksql.insert_objects(objs)
    except IntegrityError:
        objs = []
        for it in fresh:
            obj = build(it)
            try:
                with transaction.atomic():
                    obj.save(force_insert=True)
            except IntegrityError:
                winner = IntakeRecord.objects.select_for_update().get(
                    tenant=tenant, source=source, external_id=it.external_id
                )
                if winner.payload_hash == it.phash:
                    results.append(_result_of(it.index, winner, duplicate=True))
                    obj = None  # type: ignore[assignment]
                else:
                    it.record, it.update = winner, True
                    continue
            if obj is not None:
                objs.append(obj)
                it.record = obj
        return
    for it, obj in zip(fresh, objs, strict=True):
        it.record = obj


def _close_open_reviews(tenant: Tenant, record: IntakeRecord, now: datetime) -> None:
    """A changed payload supersedes the undecided review items of its record (they are matched again)."""
    ReviewItem.objects.filter(tenant=tenant, record=record, status=ReviewItem.Status.OPEN).delete()


def _id_lists(ids: Sequence[int]) -> Iterable[tuple[str, list[Any]]]:
    """`= ANY(array)` with its parameter on PostgreSQL (one statement), `IN (...)` lists of IN_CHUNK
    values on SQLite: (the SQL after the column, its parameters) per statement; none for no ids."""
    if not ids:
        return
    if connection.vendor == "postgresql":
        yield "= ANY(%s::bigint[])", [bulksql.int_array(ids)]
        return
    for chunk in _chunks(ids):
        yield f"IN ({', '.join(['%s'] * len(chunk))})", list(chunk)


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


@dataclass
class _NewLead:
    lead: Lead
    rec: matching.Rec
    provs: list[tuple[_Prov, IntakeRecord]]
    tags: list[str]
    changed: bool = False  # another record of the batch changed its values (its keys are computed again)


_CANDIDATE_COLUMNS = ("id", "name", "branch_name", "address", "city", "phones", "lat", "lng", "category")


def _rows_by_ids(select: str, where: str, tenant_id: int, ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """`select ... WHERE tenant_id = <tenant> AND <where> <ids>`: the rows of these ids (`where` ends with the
    id column), in one statement on PostgreSQL, IN lists on SQLite (_id_lists)."""
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for sql, params in _id_lists(ids):
            cursor.execute(f"{select} WHERE tenant_id = %s AND {where} {sql}", [tenant_id, *params])
            rows += cursor.fetchall()
    return rows


def _candidate_rows(tenant_id: int, lead_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The matching fields of the candidate leads (not merged away), by id: plain SQL, tens of thousands of
    rows a batch at 1M leads, where the ORM's values() cost a quarter of a millisecond a record."""
    out: dict[int, dict[str, Any]] = {}
    select = f"SELECT {', '.join(_CANDIDATE_COLUMNS)} FROM {Lead._meta.db_table}"
    for row in _rows_by_ids(select, "merged_into_id IS NULL AND id", tenant_id, lead_ids):
        values = dict(zip(_CANDIDATE_COLUMNS, row, strict=True))
        if isinstance(values["phones"], str):  # JSON as text (SQLite; Django's jsonb loader)
            values["phones"] = json.loads(values["phones"])
        out[values["id"]] = values
    return out


def _candidates(
    tenant_id: int, lead_ids: Sequence[int]
) -> tuple[list[int], list[matching.RawRecord], list[Any]]:
    """The candidate leads as (ids, raw records, stored features or None): the stored features of the
    current matcher version (`LeadFeatures`), the lead row for the others (no row, another version)."""
    ids: list[int] = []
    raws: list[matching.RawRecord] = []
    features: list[Any] = []
    select = f"SELECT lead_id, version, lat, lng, data FROM {LeadFeatures._meta.db_table}"
    for lead_id, version, lat, lng, data in _rows_by_ids(select, "lead_id", tenant_id, lead_ids):
        if version == matching.FEATURES_VERSION:
            ids.append(lead_id)
            raws.append(matching.RawRecord(id=f"l{lead_id}", lat=lat, lng=lng))
            features.append(matching.features_load(data))
    current = set(ids)
    missing = [x for x in lead_ids if x not in current]
    for lead_id, values in _candidate_rows(tenant_id, missing).items() if missing else ():
        ids.append(lead_id)
        raws.append(pipeline.raw_record(f"l{lead_id}", values))
        features.append(None)
    return ids, raws, features


def _leads_by_key(tenant_id: int, keys: Sequence[int]) -> dict[int, list[int]]:
    """The leads (ascending) holding each of the blocking keys that at most KEY_CAP leads hold; a key held by
    more says little (a chain's or a common word's key, held by thousands at 1M leads) and is left out, its
    leads read only up to the cap. On PostgreSQL one statement for the batch, a bounded probe per key whose
    leads come back as one string (a row per lead cost Python more than the server's aggregation; range
    scans over neighbouring cells' keys cost the server more than the probes, measured). Plain SQL: the
    ORM's per-value preparation of tens of thousands of values cost more than the query."""
    table = LeadKey._meta.db_table
    by_key: dict[int, list[int]] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for chunk in _chunks(keys, 10_000):
                cursor.execute(
                    f"""
                    SELECT k.key, x.ids FROM unnest(%s::bigint[]) AS k(key) CROSS JOIN LATERAL (
                        SELECT count(*) AS n, string_agg(s.lead_id::text, ',') AS ids FROM (
                            SELECT lead_id FROM {table} WHERE tenant_id = %s AND key = k.key
                            ORDER BY lead_id LIMIT %s
                        ) AS s
                    ) AS x
                    WHERE x.n BETWEEN 1 AND %s
                    """,
                    [bulksql.int_array(chunk), tenant_id, KEY_CAP + 1, KEY_CAP],
                )
                for key, ids in cursor.fetchall():
                    by_key[key] = list(map(int, ids.split(",")))
            return by_key
        # SQLite: one bounded SELECT per key, UNION ALL'd (at most 500 terms in a compound SELECT).
        term = (
            f"SELECT * FROM (SELECT key, lead_id FROM {table} WHERE tenant_id = %s AND key = %s "
            f"ORDER BY lead_id LIMIT %s)"
        )
        held: dict[int, list[int]] = defaultdict(list)
        for chunk in _chunks(keys, 400):
            params: list[Any] = []
            for key in chunk:
                params += [tenant_id, key, KEY_CAP + 1]
            cursor.execute(" UNION ALL ".join([term] * len(chunk)), params)
            for key, lead_id in cursor.fetchall():
                held[key].append(lead_id)
    return {key: ids for key, ids in held.items() if len(ids) <= KEY_CAP}


def _key_weight(holders: int) -> float:
    """A blocking key's weight in ranking candidates: the fewer leads hold it, the more sharing it says (an
    idf over the capped holder count: 4.1 for a key one lead holds, 0.7 for one held by KEY_CAP)."""
    return math.log(1.0 + (KEY_CAP + 1) / holders)


def _candidate_ids(tenant_id: int, rec_keys: Sequence[Sequence[int]]) -> list[list[int]]:
    """Each record's best MAX_CANDIDATES leads by the summed weight of the blocking keys they share with it
    (`_key_weight`: a rare key counts more than a common one), keys held by more than KEY_CAP leads ignored;
    ties in the order the leads first appear (heapq.nlargest is the stable sort's first n). One bounded read
    of the leads of every key of the batch (`_leads_by_key`), ranked here: ranking them in SQL cost the
    server more than it costs Python. Counting shared keys instead let a chain's far branches, sharing its
    common name keys, crowd out a near lead sharing a rare one: at 1M leads weighting found 40% of the
    duplicates counting created anew (71 -> 43 of ~2,050 per 4,000 records, `leadsea bench intake --cpu`)."""
    by_key = _leads_by_key(tenant_id, sorted({k for keys in rec_keys for k in keys}))
    weight = {key: _key_weight(len(ids)) for key, ids in by_key.items()}
    cands: list[list[int]] = []
    for keys in rec_keys:
        score: dict[int, float] = {}
        get = score.get
        for key in keys:
            ids = by_key.get(key)
            if ids:
                w = weight[key]
                for lead_id in ids:
                    score[lead_id] = get(lead_id, 0.0) + w
        cands.append(heapq.nlargest(MAX_CANDIDATES, score, key=score.__getitem__))
    return cands


def _match_and_decide(
    tenant: Tenant, source: IntakeSource, items: list[_Item], actor: Membership | None, now: datetime
) -> list[IntakeResult]:
    thresholds = intake_settings_get(tenant=tenant)
    floor = _logit(thresholds.review_at)
    raws = [pipeline.raw_record(f"r{i}", it.normalized or {}) for i, it in enumerate(items)]
    rec_keys = [pipeline.query_keys(rec) for rec in matching.prepare(raws, cache=True, statistics=False)]
    cands = _candidate_ids(tenant.pk, rec_keys)
    lead_ids = sorted({x for c in cands for x in c})
    order, lead_raws, lead_features = _candidates(tenant.pk, lead_ids)
    prepared = matching.prepare(raws + lead_raws, cache=True, features=[None] * len(raws) + lead_features)
    recs, lead_recs = prepared[: len(items)], dict(zip(order, prepared[len(items) :], strict=True))

    pool = Pool.objects.filter(tenant=tenant, is_default=True).first()
    defs = field_definitions(tenant=tenant)
    default_custom = custom_data_validate(tenant=tenant, data={}, definitions=defs)
    claimed_unique: dict[str, set[str]] = {}
    new_leads: list[_NewLead] = []
    new_by_key: dict[int, list[int]] = defaultdict(list)  # query key -> index in new_leads
    merges: dict[int, list[tuple[_Item, float]]] = defaultdict(list)  # existing lead id -> records
    reviews: list[tuple[_Item, int | _NewLead, float, dict[str, float], list[dict[str, Any]]]] = []
    results: dict[int, IntakeResult] = {}
    for pos, it in enumerate(items):
        rec, record = recs[pos], it.record
        assert record is not None and it.normalized is not None
        if it.update:
            _close_open_reviews(tenant, record, now)
        best: list[tuple[float, int | None, int | None]] = []  # (logodds, lead id, new lead index)
        for lead_id in cands[pos]:
            other = lead_recs.get(lead_id)
            if other is not None and other.usable and rec.usable:
                value = matching._score(rec, other, floor, None)
                if value is not None:
                    best.append((value, lead_id, None))
        seen_new: set[int] = set()
        for key in rec_keys[pos]:
            for j in new_by_key.get(key, ()):
                if j not in seen_new:
                    seen_new.add(j)
                    value = matching._score(rec, new_leads[j].rec, floor, None)
                    if value is not None:
                        best.append((value, None, j))
        best.sort(key=lambda x: -x[0])
        top = best[0] if best else None
        p = matching.probability(top[0]) if top else 0.0
        record.normalized = it.normalized
        record.raw, record.payload_hash, record.updated_at = it.data, it.phash, now
        record.error_code = record.error_message = record.error_field = ""
        if top is not None and p >= thresholds.auto_merge_at:
            record.score = round(p, 4)
            if top[1] is not None:
                merges[top[1]].append((it, record.score))
            else:
                nl = new_leads[top[2]]  # type: ignore[index]
                _merge_into_new(nl, it, source, actor, now)
                record.status, record._new_lead = S.MERGED, nl  # type: ignore[attr-defined]
        elif top is not None and p >= thresholds.review_at:
            # the candidate is an existing lead, or one this batch is creating (its id comes after the insert)
            other = lead_recs[top[1]] if top[1] is not None else new_leads[top[2]].rec  # type: ignore[index]
            alternatives = [
                {"lead_id": lid, "score": round(matching.probability(v), 4)}
                for v, lid, _j in best[1:6]
                if lid is not None
            ]
            record.score = round(p, 4)
            candidate: int | _NewLead = top[1] if top[1] is not None else new_leads[top[2]]  # type: ignore[index]
            reviews.append((it, candidate, record.score, pipeline.explain(rec, other), alternatives))
        else:
            record.score = round(p, 4) if top is not None else None
            try:
                custom = (
                    custom_data_validate(tenant=tenant, data=it.normalized["custom_fields"], definitions=defs)
                    if it.normalized.get("custom_fields")
                    else dict(default_custom)
                )
                if (
                    custom
                ):  # a unique value taken by a lead, or by one this batch creates, is this record's error
                    check_unique_free(
                        tenant=tenant,
                        object_type="lead",
                        definitions=defs,
                        data=custom,
                        claimed=claimed_unique,
                    )
            except DomainError as exc:
                record.status = S.ERROR
                record.error_code, record.error_message, record.error_field = (
                    exc.code,
                    exc.message[:500],
                    exc.field or "",
                )
                continue
            if pool is None:
                raise FieldInvalid(
                    _("This tenant has no default pool."), code="invalid_pool", field="pool_id"
                )
            nl = _new_lead(tenant, pool, source, it, rec, custom, actor, now)
            new_leads.append(nl)
            for key in pipeline.query_keys(rec):
                new_by_key[key].append(len(new_leads) - 1)
            record.status, record._new_lead = S.CREATED, nl  # type: ignore[attr-defined]

    _write_new_leads(tenant, source, new_leads, actor, now)
    custom_values_add(  # the side index of custom fields (filters, sorting, unique), as lead_create writes it
        tenant=tenant,
        object_type="lead",
        records=[(nl.lead.pk, nl.lead.custom_data) for nl in new_leads if nl.lead.custom_data],
        definitions=defs,
    )
    for it in items:
        rec_obj = it.record
        assert rec_obj is not None
        made: _NewLead | None = getattr(rec_obj, "_new_lead", None)
        if made is not None:
            rec_obj.lead_id = made.lead.pk
    if merges:
        _merge_records_into_leads(tenant, source, merges, actor, now)
    review_rows = []
    for it, candidate_ref, score, explanation, alternatives in reviews:
        lead_id = candidate_ref if isinstance(candidate_ref, int) else candidate_ref.lead.pk
        assert it.record is not None
        it.record.status, it.record.lead_id = S.REVIEW, None
        review_rows.append(
            ReviewItem(
                tenant=tenant,
                record=it.record,
                candidate_id=lead_id,
                score=score,
                explanation=explanation,
                alternatives=alternatives,
                created_at=now,
            )
        )
    bulksql.insert_objects(review_rows)
    # A fresh record was inserted with this payload moments ago: only the decision is written (the JSON of
    # the payload is not sent and parsed again); a record submitted anew gets its payload too.
    decision = ["status", "lead", "score", "error_code", "error_message", "error_field"]
    _fast_update(
        tenant,
        [it.record for it in items if it.record is not None and not it.update and not it.deferred],
        decision,
    )
    _fast_update(
        tenant,
        [it.record for it in items if it.record is not None and it.update],
        [*decision, "normalized", "raw", "payload_hash", "updated_at"],
    )
    review_of = {row.record_id: row.pk for row in review_rows}
    for it in items:
        rec_obj = it.record
        assert rec_obj is not None
        errors = []
        if rec_obj.status == S.ERROR:
            errors = [
                {
                    "code": rec_obj.error_code,
                    "message": rec_obj.error_message,
                    "field": rec_obj.error_field or None,
                }
            ]
        results[it.index] = IntakeResult(
            index=it.index,
            status=rec_obj.status,
            record_id=rec_obj.pk,
            lead_id=rec_obj.lead_id,
            review_item_id=review_of.get(rec_obj.pk),
            score=rec_obj.score,
            errors=errors,
        )
    return list(results.values())


def _record_provs(
    it: _Item, source: IntakeSource, actor: Membership | None, now: datetime, order: int
) -> list[_Prov]:
    """The record's giving of values (none when it gives no survivorship field)."""
    verified = (
        source.channel == IntakeSource.Channel.BD and actor is not None and actor.role == Membership.Role.BD
    )
    given = pipeline.field_values(it.normalized or {})
    return [_Prov(given, source.trust, now, verified, order)] if given else []


def _new_lead(
    tenant: Tenant,
    pool: Pool,
    source: IntakeSource,
    it: _Item,
    rec: matching.Rec,
    custom: dict[str, Any],
    actor: Membership | None,
    now: datetime,
) -> _NewLead:
    n = it.normalized or {}
    lead = Lead(  # references by id: the descriptors' work per instance is not needed on this path
        tenant_id=tenant.pk,
        pool_id=pool.pk,
        name=n["name"],
        branch_name=n["branch_name"],
        category=n["category"],
        address=n["address"],
        province=n["province"],
        city=n["city"],
        district=n["district"],
        phones=list(n["phones"]),
        phone=n["phones"][0] if n["phones"] else "",
        lat=n["lat"],
        lng=n["lng"],
        geo_cell=geo.cell_of(n["lat"], n["lng"]) if n["lat"] is not None else None,
        source_channel=source.channel,
        custom_data=custom,
        created_by_id=actor.user_id if actor is not None else None,
        created_at=now,
        updated_at=now,
    )
    lead.search_text = pipeline.search_text(lead.name, lead.branch_name, lead.address, lead.phones)
    assert it.record is not None
    provs = [(p, it.record) for p in _record_provs(it, source, actor, now, 0)]
    return _NewLead(lead, rec, provs, list(n.get("tags") or []))


def _merge_into_new(
    nl: _NewLead, it: _Item, source: IntakeSource, actor: Membership | None, now: datetime
) -> None:
    assert it.record is not None
    order = len(nl.provs) + 1
    nl.provs.extend((p, it.record) for p in _record_provs(it, source, actor, now, order))
    if _survive(nl.lead, [p for p, _r in nl.provs]):
        nl.changed = True
    for tag in (it.normalized or {}).get("tags") or []:
        if tag not in nl.tags and len(nl.tags) < pipeline.MAX_TAGS:
            nl.tags.append(tag)


def _write_new_leads(
    tenant: Tenant, source: IntakeSource, new_leads: list[_NewLead], actor: Membership | None, now: datetime
) -> None:
    if not new_leads:
        return
    from leadsea.leads.services import lead_snapshot

    bulksql.insert_objects([nl.lead for nl in new_leads])
    _lead_keys_write(
        tenant,
        [nl.lead for nl in new_leads],
        replace=False,
        recs=[None if nl.changed else nl.rec for nl in new_leads],
    )
    user_id = actor.user_id if actor is not None else None
    _insert_rows(
        FieldProvenance,
        _PROV_COLUMNS,
        [
            (
                tenant.pk,
                nl.lead.pk,
                p.given,
                source.pk,
                record.pk,
                p.trust,
                p.at,
                p.verified,
                user_id,
            )
            for nl in new_leads
            for p, record in nl.provs
        ],
    )
    _insert_rows(
        LeadTag,
        ("tenant_id", "lead_id", "tag"),
        [(tenant.pk, nl.lead.pk, t) for nl in new_leads for t in nl.tags],
    )
    request_id = current_request_id() or ""
    snapshots = [lead_snapshot(nl.lead, sorted(nl.tags)) for nl in new_leads]
    bulksql.insert_objects(
        [
            ChangeLog(
                tenant_id=tenant.pk,
                actor_id=user_id,
                action="lead.create",
                object_type="lead",
                object_id=nl.lead.pk,
                before=None,
                after={**snapshot, "intake_source": source.key},
                request_id=request_id,
                created_at=now,
            )
            for nl, snapshot in zip(new_leads, snapshots, strict=True)
        ]
    )
    emit_many(  # the same event a lead created on the web or the API writes, in this transaction
        tenant=tenant,
        events=[
            (
                LEAD_CREATED,
                {
                    "lead_id": nl.lead.pk,
                    "pool_id": nl.lead.pool_id,
                    "lead": snapshot,
                    "intake_source": source.key,
                },
            )
            for nl, snapshot in zip(new_leads, snapshots, strict=True)
        ],
        actor=user_id,
        now=now,
    )


_SURVIVING_COLUMNS = (
    "name",
    "branch_name",
    "category",
    "address",
    "province",
    "city",
    "district",
    "phone",
    "phones",
    "lat",
    "lng",
    "geo_cell",
    "search_text",
    "updated_at",
)


def _merge_records_into_leads(
    tenant: Tenant,
    source: IntakeSource,
    merges: dict[int, list[tuple[_Item, float]]],
    actor: Membership | None,
    now: datetime,
) -> None:
    """Apply records to existing leads by survivorship, each lead locked; per changed lead one audit row and
    one `lead.updated` event (the changed fields, as an edit on the web writes)."""
    from leadsea.leads.services import lead_snapshot

    ids = sorted(merges)
    locked = list(Lead.objects.select_for_update().filter(tenant=tenant, pk__in=ids).order_by("pk"))
    provs = _provenance_of(tenant, locked, now)
    new_rows: list[tuple[Any, ...]] = []
    actor_id = actor.user_id if actor is not None else None
    changed_leads: list[Lead] = []
    audit: list[ChangeLog] = []
    updated: list[tuple[int, dict[str, Any], dict[str, Any]]] = []  # lead id, changed fields before/after
    request_id = current_request_id() or ""
    tag_rows: list[tuple[int, int, str]] = []
    existing_tags: dict[int, set[str]] = defaultdict(set)
    for lead_id, tag in LeadTag.objects.filter(tenant=tenant, lead_id__in=ids).values_list("lead_id", "tag"):
        existing_tags[lead_id].add(tag)
    for lead in locked:
        before = lead_snapshot(lead)
        rows = list(provs.get(lead.pk, []))
        order = max((r.order for r in rows), default=0)
        for it, _score in merges[lead.pk]:
            assert it.record is not None
            order += 1
            for p in _record_provs(it, source, actor, now, order):
                rows.append(p)
                new_rows.append(
                    (
                        tenant.pk,
                        lead.pk,
                        p.given,
                        source.pk,
                        it.record.pk,
                        p.trust,
                        now,
                        p.verified,
                        actor_id,
                    )
                )
            it.record.status, it.record.lead_id = S.MERGED, lead.pk
            for tag in (it.normalized or {}).get("tags") or []:
                if tag not in existing_tags[lead.pk] and len(existing_tags[lead.pk]) < pipeline.MAX_TAGS:
                    existing_tags[lead.pk].add(tag)
                    tag_rows.append((tenant.pk, lead.pk, tag))
        if _survive(lead, rows):
            lead.updated_at = now
            changed_leads.append(lead)
            diff_before, diff_after = changed_fields(before, lead_snapshot(lead))
            updated.append((lead.pk, diff_before, diff_after))
            audit.append(
                ChangeLog(
                    tenant_id=tenant.pk,
                    actor_id=actor_id,
                    action="lead.intake_merge",
                    object_type="lead",
                    object_id=lead.pk,
                    before=diff_before,
                    after={**diff_after, "intake_source": source.key},
                    request_id=request_id,
                    created_at=now,
                )
            )
    _fast_update(tenant, changed_leads, _SURVIVING_COLUMNS)
    bulksql.insert_objects(audit)
    emit_many(
        tenant=tenant,
        events=[
            (
                LEAD_UPDATED,
                {"lead_id": lead_id, "before": diff_before, "after": diff_after, "intake_source": source.key},
            )
            for lead_id, diff_before, diff_after in updated
        ],
        actor=actor_id,
        now=now,
    )
    _insert_rows(FieldProvenance, _PROV_COLUMNS, new_rows)
    _insert_rows(LeadTag, ("tenant_id", "lead_id", "tag"), tag_rows)
    lead_keys_refresh(tenant=tenant, leads=changed_leads)


def _apply_updates(
    tenant: Tenant, source: IntakeSource, items: list[_Item], actor: Membership | None, now: datetime
) -> list[IntakeResult]:
    """A changed payload for a record that made or joined a lead: new provenance, survivorship on the lead."""
    merges: dict[int, list[tuple[_Item, float]]] = defaultdict(list)
    orphans: list[_Item] = []
    for it in items:
        rec = it.record
        assert rec is not None
        rec.raw, rec.payload_hash, rec.updated_at, rec.normalized = (
            it.data,
            it.phash,
            now,
            it.normalized or {},
        )
        target = _follow_merges(tenant, rec.lead_id) if rec.lead_id else None
        if target is None:
            orphans.append(it)
        else:
            merges[target].append((it, rec.score or 1.0))
    keep_status = {it.index: it.record.status for it in items if it.record is not None}
    _merge_records_into_leads(tenant, source, merges, actor, now)
    results: list[IntakeResult] = []
    for it in items:
        rec = it.record
        assert rec is not None
        if it in orphans:
            continue
        rec.status = keep_status[it.index]  # created stays created
        rec.save()
        results.append(_result_of(it.index, rec))
    if orphans:
        results.extend(_match_and_decide(tenant, source, orphans, actor, now))
    return results


def _follow_merges(tenant: Tenant, lead_id: int | None) -> int | None:
    """The lead that now stands for `lead_id` (a merged lead stands for its survivor); None if it is gone."""
    seen: set[int] = set()
    while lead_id is not None and lead_id not in seen:
        seen.add(lead_id)
        found = list(
            Lead.objects.filter(tenant=tenant, pk=lead_id).values_list("merged_into_id", flat=True)[:1]
        )
        if not found:
            return None
        if found[0] is None:
            return lead_id
        lead_id = found[0]
    return lead_id


# ---------------------------------------------------------------------------------------------- review


def _can_decide(actor: Membership) -> bool:
    return actor.role in (Membership.Role.ADMIN, Membership.Role.HQ, Membership.Role.MANAGER)


@transaction.atomic
def review_decide(
    *, tenant: Tenant, item: ReviewItem, decision: str, actor: Membership, now: datetime | None = None
) -> ReviewItem:
    """merge: the record joins the candidate lead (survivorship); not_duplicate or create: the record becomes
    a new lead (not_duplicate also says the candidate is not the same store). Admins, HQ and managers."""
    now = now or clock.now()
    if not _can_decide(actor):
        raise Forbidden(_("Only administrators, HQ and managers decide review items."))
    if decision not in ("merge", "not_duplicate", "create"):
        raise FieldInvalid(_("decision must be merge, not_duplicate or create."), field="decision")
    row = ReviewItem.objects.select_for_update().filter(tenant=tenant, pk=item.pk).first()
    if row is None:
        raise NotFound(_("Review item not found."), code="review_item_not_found")
    if row.status != ReviewItem.Status.OPEN:
        raise ReviewAlreadyDecided()
    record = (
        IntakeRecord.objects.select_for_update().select_related("source").get(tenant=tenant, pk=row.record_id)
    )
    source = record.source
    it = _Item(
        0, record.raw, record.external_id, record.payload_hash, normalized=record.normalized, record=record
    )
    if decision == "merge":
        target = _follow_merges(tenant, row.candidate_id)
        if target is None:
            raise NotFound(_("Lead not found."), code="lead_not_found")
        _merge_records_into_leads(tenant, source, {target: [(it, row.score)]}, actor, now)
        record.status, record.lead_id = S.MERGED, target
        row.status = ReviewItem.Status.MERGED
    else:
        pool = Pool.objects.filter(tenant=tenant, is_default=True).first()
        if pool is None:
            raise FieldInvalid(_("This tenant has no default pool."), code="invalid_pool", field="pool_id")
        rec = matching.prepare([pipeline.raw_record("r", record.normalized)])[0]
        custom = custom_data_validate(tenant=tenant, data=record.normalized.get("custom_fields") or {})
        nl = _new_lead(tenant, pool, source, it, rec, custom, actor, now)
        _write_new_leads(tenant, source, [nl], actor, now)
        record.status, record.lead_id = S.CREATED, nl.lead.pk
        row.status = (
            ReviewItem.Status.NOT_DUPLICATE if decision == "not_duplicate" else ReviewItem.Status.CREATED
        )
    record.updated_at = now
    record.save()
    row.decided_by, row.decided_at = actor.user, now
    row.save()
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="intake.review",
        obj=row,
        before={"status": ReviewItem.Status.OPEN},
        after={"status": row.status, "record": record.pk, "lead": record.lead_id},
        now=now,
    )
    tags_apply(tenant=tenant, leads=[record.lead_id] if record.lead_id else [])  # as intake_submit_tagged
    return row


# ---------------------------------------------------------------------------------------------- merges


# Rows that follow a lead through a merge, by kind: (model, field); each kind's moved ids are recorded.
def _movable() -> dict[str, tuple[type[models.Model], str]]:
    from leadsea.pipeline.models import Opportunity
    from leadsea.tasks.models import Task
    from leadsea.visits.models import Contact, Visit

    return {
        "visits": (Visit, "lead_id"),
        "contacts": (Contact, "lead_id"),
        "tasks": (Task, "lead_id"),
        "opportunities": (Opportunity, "lead_id"),
        "provenance": (FieldProvenance, "lead_id"),
        "records": (IntakeRecord, "lead_id"),
        "reviews": (ReviewItem, "candidate_id"),
    }


_SNAPSHOT_SKIP = {"id", "tenant"}


def _snapshot(lead: Lead) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in lead._meta.concrete_fields:
        if f.name in _SNAPSHOT_SKIP:
            continue
        value = getattr(lead, f.attname)
        out[f.attname] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _restore(lead: Lead, snapshot: dict[str, Any], fields: Iterable[str] | None = None) -> None:
    names = set(fields) if fields is not None else set(snapshot)
    for f in lead._meta.concrete_fields:
        if f.attname not in names or f.attname not in snapshot:
            continue
        value = snapshot[f.attname]
        if value is not None and isinstance(f, models.DateTimeField):
            value = datetime.fromisoformat(value)
        setattr(lead, f.attname, value)


_POOL_STATE = (
    "owner_id",
    "pool_id",
    "claimed_at",
    "protection_until",
    "visit_due_at",
    "progress_due_at",
    "expires_at",
    "expiry_clock",
    "self_extensions_used",
    "extension_days",
    "locked",
)


def _merge_recorded(
    *,
    tenant: Tenant,
    actor: Membership,
    merge: LeadMerge,
    undo: bool,
    survivor: Lead,
    survivor_before: dict[str, Any],
    other: Lead,
    other_before: dict[str, Any],
    other_after: dict[str, Any],
    now: datetime,
) -> None:
    """The record of a merge or of its undo, in its transaction: an audit row on the survivor with the fields
    the change gave it (`lead.merge` / `lead.unmerge`), one on the other lead (`lead.merged` /
    `lead.unmerged`), and the event (`lead.merged` / `lead.unmerged`: the survivor's changed fields)."""
    from leadsea.leads.services import lead_snapshot

    other_key = "restored_lead" if undo else "merged_lead"
    diff_before, diff_after = changed_fields(survivor_before, lead_snapshot(survivor))
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="lead.unmerge" if undo else "lead.merge",
        obj=survivor,
        before=diff_before,
        after={**diff_after, other_key: other.pk, "merge": merge.pk},
        now=now,
    )
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="lead.unmerged" if undo else "lead.merged",
        obj=other,
        before=other_before,
        after={**other_after, "merge": merge.pk},
        now=now,
    )
    emit(
        tenant=tenant,
        type=LEAD_UNMERGED if undo else LEAD_MERGED,
        payload={
            "lead_id": survivor.pk,
            f"{other_key}_id": other.pk,
            "merge_id": merge.pk,
            "before": diff_before,
            "after": diff_after,
        },
        actor=actor.user_id,
        now=now,
    )


def _can_merge(actor: Membership) -> bool:
    return actor.role in (Membership.Role.ADMIN, Membership.Role.HQ, Membership.Role.MANAGER)


@transaction.atomic
def lead_merge(
    *,
    tenant: Tenant,
    survivor: Lead,
    merged: Lead,
    actor: Membership,
    now: datetime | None = None,
    record: IntakeRecord | None = None,
) -> LeadMerge:
    """Merge `merged` into `survivor`: per-field survivorship over both leads' provenance; visits, contacts,
    tasks, opportunities, tags, provenance and intake records move to the survivor; `merged` is hidden.

    Ownership, never silently lost: the survivor keeps its private owner; if only `merged` is private, its
    owner (and clocks) carry over to the survivor; if both are private to different people the merge is
    refused (MergeOwnerConflict). A signed merchant can only be the survivor. Ledger rows record every
    ownership change; the ledger rows themselves stay with their lead (they are append-only)."""
    from leadsea.leads.services import lead_snapshot

    now = now or clock.now()
    if not _can_merge(actor):
        raise Forbidden(_("Only administrators, HQ and managers merge leads."))
    if survivor.pk == merged.pk:
        raise MergeInvalid(_("A lead cannot be merged into itself."), field="merged_id")
    rows = {
        lead.pk: lead
        for lead in Lead.objects.select_for_update()
        .filter(tenant=tenant, pk__in=[survivor.pk, merged.pk])
        .order_by("pk")
    }
    if len(rows) != 2:
        raise NotFound(_("Lead not found."), code="lead_not_found")
    s, m = rows[survivor.pk], rows[merged.pk]
    if s.merged_into_id is not None or m.merged_into_id is not None:
        raise MergeInvalid(_("One of these leads has already been merged."), field="merged_id")
    if m.signed_at is not None and s.signed_at is None:
        raise MergeInvalid(
            _("A signed merchant can only be the surviving lead."), code="merge_signed", field="merged_id"
        )
    s_private, m_private = rules.is_private(s, now), rules.is_private(m, now)
    if s_private and m_private and s.owner_id != m.owner_id:
        raise MergeOwnerConflict(field="merged_id")
    snapshot = {"survivor": _snapshot(s), "merged": _snapshot(m)}
    before_s, before_m = lead_snapshot(s), lead_snapshot(m)
    provs = _provenance_of(tenant, [s, m], now)
    moved: dict[str, Any] = {}
    for kind, (model, fk) in _movable().items():
        qs = model._default_manager.filter(tenant=tenant, **{fk: m.pk})  # type: ignore[attr-defined]
        ids = list(qs.values_list("pk", flat=True))
        if ids:
            model._default_manager.filter(tenant=tenant, pk__in=ids).update(**{fk: s.pk})  # type: ignore[attr-defined]
        moved[kind] = ids
    s_tags = set(LeadTag.objects.filter(tenant=tenant, lead=s).values_list("tag", flat=True))
    tag_ids = list(
        LeadTag.objects.filter(tenant=tenant, lead=m).exclude(tag__in=s_tags).values_list("pk", flat=True)
    )
    LeadTag.objects.filter(tenant=tenant, pk__in=tag_ids).update(lead=s)
    moved["tags"] = tag_ids
    # Survivorship over both leads' values; the merged lead's rows rank as they were given.
    _survive(s, provs.get(s.pk, []) + provs.get(m.pk, []))
    if m.last_visit_at and (s.last_visit_at is None or m.last_visit_at > s.last_visit_at):
        s.last_visit_at = m.last_visit_at
    carried = False
    if m_private and not s_private:
        former_s = s.owner_id if s.owner_id is not None else None
        if former_s is not None:  # the survivor's owner has expired: drop it as the sweep would
            ledger_write(
                s,
                LedgerEntry.Action.DROP,
                actor_id=None,
                from_owner=former_s,
                to_owner=None,
                now=now,
                reason=s.expiry_clock,
            )
        for name in _POOL_STATE:
            setattr(s, name, getattr(m, name))
        carried = True
        ledger_write(
            s,
            LedgerEntry.Action.ASSIGN,
            actor_id=actor.user_id,
            from_owner=None,
            to_owner=s.owner_id,
            now=now,
            reason=f"merge: lead {m.pk} merged into {s.pk}",
        )
    if m.owner_id is not None:
        former = m.owner_id
        rules.clear(m)
        ledger_write(
            m,
            LedgerEntry.Action.RELEASE,
            actor_id=actor.user_id,
            from_owner=former,
            to_owner=None,
            now=now,
            reason=f"merge: merged into lead {s.pk}",
        )
    s.updated_at = now
    s.save()
    m.merged_into_id = s.pk
    m.geo_cell = None  # out of the nearby index while merged
    m.updated_at = now
    m.save()
    LeadKey.objects.filter(tenant=tenant, lead=m).delete()
    LeadFeatures.objects.filter(tenant=tenant, lead=m).delete()
    lead_keys_refresh(tenant=tenant, leads=[s])
    moved["owner_carried"] = carried
    moved["survivor_after"] = _snapshot(s)
    merge = LeadMerge.objects.create(
        tenant=tenant,
        survivor=s,
        merged=m,
        record=record,
        snapshot_before=snapshot,
        moved_ids=moved,
        merged_by=actor.user,
        at=now,
    )
    _merge_recorded(
        tenant=tenant,
        actor=actor,
        merge=merge,
        undo=False,
        survivor=s,
        survivor_before=before_s,
        other=m,
        other_before=before_m,
        other_after={"merged_into": s.pk},
        now=now,
    )
    tags_apply(tenant=tenant, leads=[s.pk])  # its fields and tags changed: the rules have their say
    return merge


@transaction.atomic
def lead_unmerge(
    *, tenant: Tenant, merge: LeadMerge, actor: Membership, now: datetime | None = None
) -> LeadMerge:
    """Undo a merge: the merged lead comes back as it was (fields, owner and clocks, tags, visits, contacts,
    tasks, opportunities, provenance, intake records); the survivor gets back each field the merge changed
    unless it has been changed since. An owner carried over by the merge goes back with the merged lead if
    the survivor still has that owner. Later merges of the survivor must be undone first."""
    from leadsea.leads.services import lead_snapshot

    now = now or clock.now()
    if not _can_merge(actor):
        raise Forbidden(_("Only administrators, HQ and managers undo merges."))
    row = LeadMerge.objects.select_for_update().filter(tenant=tenant, pk=merge.pk).first()
    if row is None:
        raise NotFound(_("Merge not found."), code="merge_not_found")
    if row.undone_at is not None:
        raise MergeAlreadyUndone()
    leads = {
        lead.pk: lead
        for lead in Lead.objects.select_for_update()
        .filter(tenant=tenant, pk__in=[row.survivor_id, row.merged_id])
        .order_by("pk")
    }
    s, m = leads[row.survivor_id], leads[row.merged_id]
    if s.merged_into_id is not None:
        raise MergeInvalid(
            _("The surviving lead has been merged again since; undo that merge first."), code="merge_not_last"
        )
    before_s = lead_snapshot(s)
    snap_s, snap_m = row.snapshot_before["survivor"], row.snapshot_before["merged"]
    after = row.moved_ids.get("survivor_after", {})
    for kind, (model, fk) in _movable().items():
        ids = row.moved_ids.get(kind) or []
        for chunk in _chunks(ids):
            model._default_manager.filter(tenant=tenant, pk__in=chunk, **{fk: s.pk}).update(**{fk: m.pk})  # type: ignore[attr-defined]
    for chunk in _chunks(row.moved_ids.get("tags") or []):
        LeadTag.objects.filter(tenant=tenant, pk__in=chunk, lead=s).update(lead=m)
    # The survivor's own fields: back to their value before the merge unless changed since.
    pool_state = {"owner_id", "pool_id"} | set(_POOL_STATE)
    data_fields = [
        k
        for k in snap_s
        if k not in pool_state and k not in ("updated_at", "created_at", "merged_into_id", "search_text")
    ]
    unchanged = [k for k in data_fields if _snapshot(s).get(k) == after.get(k)]
    _restore(s, snap_s, unchanged)
    s.search_text = pipeline.search_text(s.name, s.branch_name, s.address, s.phones)
    # The merged lead: everything as it was, pool state included when its owner still holds the survivor.
    m_owner = snap_m.get("owner_id")
    _restore(m, snap_m, [k for k in snap_m if k not in pool_state])
    m.merged_into_id = None
    m.geo_cell = geo.cell_of(m.lat, m.lng) if m.lat is not None and m.lng is not None else None
    owner_back = False
    if row.moved_ids.get("owner_carried"):
        if s.owner_id == m_owner and m_owner is not None:
            _restore(m, snap_m, _POOL_STATE)
            former = s.owner_id
            _restore(s, snap_s, _POOL_STATE)
            if s.owner_id is not None and not rules.is_private(s, now):
                rules.clear(s)
            ledger_write(
                s,
                LedgerEntry.Action.RELEASE,
                actor_id=actor.user_id,
                from_owner=former,
                to_owner=s.owner_id,
                now=now,
                reason=f"unmerge: lead {m.pk} restored",
            )
            owner_back = True
    elif m_owner is not None:
        _restore(m, snap_m, _POOL_STATE)
        owner_back = True
    if owner_back and m.owner_id is not None:
        if not rules.is_private(m, now):
            rules.clear(m)
        else:
            ledger_write(
                m,
                LedgerEntry.Action.ASSIGN,
                actor_id=actor.user_id,
                from_owner=None,
                to_owner=m.owner_id,
                now=now,
                reason=f"unmerge: restored from lead {s.pk}",
            )
    s.updated_at = m.updated_at = now
    s.save()
    m.save()
    lead_keys_refresh(tenant=tenant, leads=[s, m])
    row.undone_at, row.undone_by = now, actor.user
    row.save()
    _merge_recorded(
        tenant=tenant,
        actor=actor,
        merge=row,
        undo=True,
        survivor=s,
        survivor_before=before_s,
        other=m,
        other_before={"merged_into": s.pk},
        other_after=lead_snapshot(m),
        now=now,
    )
    tags_apply(tenant=tenant, leads=[s.pk, m.pk])
    return row
