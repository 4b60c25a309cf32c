"""A lead's aggregated history: past deals, sales the sources reported, who reported the store, merges,
owners, visits and the brand's other stores, read in one selector with a fixed number of queries."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.utils.translation import gettext as _

from leadsea.core import clock
from leadsea.core.errors import NotFound
from leadsea.intake.models import FieldProvenance, IntakeRecord, IntakeSource, LeadMerge
from leadsea.intake.services import lead_field_value
from leadsea.leads.merchant import RelatedStore, related_stores
from leadsea.leads.models import Lead
from leadsea.leads.selectors import leads_visible
from leadsea.pipeline.models import Opportunity, Stage
from leadsea.pools.models import LedgerEntry
from leadsea.pools.rules import is_private
from leadsea.tenancy.models import Membership, Tenant
from leadsea.visits.models import Visit

# A sales figure a source reported with a record: the first of these keys found in the record as received,
# in its `custom_fields` first, then at its top level (push, pull and queue records keep every key; a file's
# `monthly_sales`, `sales`, `月销售额` or `销售额` column becomes `monthly_sales`). The figure is the store's
# monthly sales amount in the tenant's currency, as of the day the record was received: a number, a numeric
# string (`12,800`, `¥12800` or `12800元` (CNY), `1.2万`) or a money value `{"amount", "currency"}`.
SALES_KEYS = ("monthly_sales", "sales", "月销售额")
# Bounds: the page shows a store's history, not an archive; each part reads at most this many rows.
MAX_OPPORTUNITIES = 50
MAX_PROVENANCE = 2000
MAX_SALES = 100
MAX_MERGES = 50
MAX_LEDGER = 500
MAX_BRAND = 20
WORKBENCH = ""  # the key of the pseudo-source "entered in the workbench / the lead's values before intake"


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str


@dataclass(frozen=True)
class PastOpportunity:
    id: int
    name: str
    stage: Stage
    kind: str  # open, won, lost
    owner: Person | None
    created_at: datetime
    closed_at: datetime | None
    lost_reason: str  # the reason's key; `lost_reason_label` for people
    lost_reason_label: str
    lost_note: str


@dataclass(frozen=True)
class SourceValue:
    field: str
    value: Any
    at: datetime
    verified_by_bd: bool
    current: bool  # the lead holds this value now


@dataclass
class SourceReport:
    """What one source said about the store: how often, when first and last, and the latest value it gave
    for each field. `key` is empty for values entered in the workbench (and the lead's values from before
    intake touched it)."""

    key: str
    name: str
    channel: str
    trust: int | None
    records: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    values: list[SourceValue] = field(default_factory=list)

    def seen(self, at: datetime) -> None:
        self.first_seen = at if self.first_seen is None else min(self.first_seen, at)
        self.last_seen = at if self.last_seen is None else max(self.last_seen, at)


@dataclass(frozen=True)
class SalesFigure:
    record_id: int
    source_key: str
    source_name: str
    at: datetime  # when the record was received
    amount: float
    currency: str
    key: str  # the record's key it came from


@dataclass(frozen=True)
class MergeEntry:
    """`into`: another lead was merged into this one; `away`: this lead was merged into another (and is back,
    the merge having been undone). `other_id` and `other_name` are empty when the other lead is outside the
    viewer's scope now (an undone merge gave it back to someone else's private sea)."""

    id: int
    direction: str
    other_id: int | None
    other_name: str
    at: datetime
    by: Person | None
    undone_at: datetime | None
    undone_by: Person | None


@dataclass(frozen=True)
class OwnershipPeriod:
    owner: Person
    start: datetime
    started_by: str  # ledger action: claim, assign, transfer
    end: datetime | None  # None: still the owner
    ended_by: str  # release, drop, transfer, or ""


@dataclass(frozen=True)
class VisitSummary:
    count: int
    verified: int
    last_at: datetime | None
    last_by: Person | None


@dataclass(frozen=True)
class BrandSummary:
    stores: list[RelatedStore]  # nearest first, at most MAX_BRAND
    total: int  # other stores of the brand in the viewer's scope
    signed: int


@dataclass
class LeadHistory:
    lead: Lead
    signed_at: datetime | None
    opportunities: list[PastOpportunity]
    won: int
    lost: int
    sources: list[SourceReport]
    sales: list[SalesFigure]
    merges: list[MergeEntry]
    ownership: list[OwnershipPeriod] | None  # None: the pool module is off
    visits: VisitSummary | None  # None: the visits module is off
    brand: BrandSummary


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def sales_amount(value: Any) -> tuple[float, str] | None:
    """A reported sales figure as (amount, currency), or None when it is not one (see SALES_KEYS)."""
    currency = ""
    if isinstance(value, dict):
        currency = str(value.get("currency") or "")[:3]
        value = value.get("amount")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        amount = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("，", "").replace(" ", "")
        if text[:1] in ("¥", "￥") or text.endswith("元"):
            currency = "CNY"
        elif text[:1] == "$":
            currency = "USD"
        text = text.lstrip("¥￥$").removesuffix("元")
        factor = 1
        if text.endswith("万"):
            text, factor = text[:-1], 10_000
        if not _NUMBER.match(text):
            return None
        try:
            amount = float(Decimal(text) * factor)
        except InvalidOperation:
            return None
    else:
        return None
    if amount < 0 or amount != amount or amount == float("inf"):
        return None
    return amount, currency


def _sales_of(raw: Any) -> tuple[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    custom = raw.get("custom_fields")
    for where in (custom if isinstance(custom, dict) else {}, raw):
        for key in SALES_KEYS:
            if where.get(key) not in (None, ""):
                return key, where[key]
    return None


def _sales_q() -> Q:
    q = Q()
    for key in SALES_KEYS:
        q |= Q(raw__has_key=key) | Q(raw__custom_fields__has_key=key)
    return q


def _display(name: str, branch: str) -> str:
    """A store's name as pages show it (Lead.__str__), from values rather than a Lead."""
    return f"{name}（{branch}）" if branch else name


def _periods(
    lead: Lead, rows: Sequence[tuple[str, int | None, datetime]], people: dict[int, Person], now: datetime
) -> list[OwnershipPeriod]:
    """Ownership periods from ledger rows (action, owner after it, when), oldest first. A lead past its
    deadline reads as public before the sweep writes its drop: its last period ends at the deadline."""
    out: list[OwnershipPeriod] = []
    owner: int | None = None
    start: datetime | None = None
    how = ""
    for action, to_owner, at in rows:
        if to_owner == owner:
            continue
        if owner is not None and start is not None:
            out.append(OwnershipPeriod(_person(people, owner), start, how, at, action))
        owner, start, how = to_owner, at, action
    if owner is not None and start is not None:
        if is_private(lead, now) or lead.owner_id != owner or lead.expires_at is None:
            out.append(OwnershipPeriod(_person(people, owner), start, how, None, ""))
        else:
            out.append(OwnershipPeriod(_person(people, owner), start, how, lead.expires_at, "drop"))
    return out


def _person(people: dict[int, Person], user_id: int) -> Person:
    return people.get(user_id) or Person(user_id, f"#{user_id}")


def lead_history(
    *,
    tenant: Tenant,
    membership: Membership,
    lead_id: int,
    modules: Mapping[str, bool] | None = None,
    now: datetime | None = None,
) -> LeadHistory:
    """The aggregated history of a lead the member may see (NotFound otherwise: another tenant's, a merged
    lead, or another BD's private lead). `modules`: the tenant's modules (onboarding); the ownership part
    needs `pool`, the visits part `visits`. A fixed number of queries, whatever the lead's history holds."""
    now = now or clock.now()
    visible = leads_visible(tenant=tenant, membership=membership, now=now)  # every read below is scoped
    lead = visible.filter(pk=lead_id).first()
    if lead is None:
        raise NotFound(_("Lead not found."), code="lead_not_found")
    modules = modules or {}
    user_ids: set[int] = set()

    opportunities = list(
        Opportunity.objects.filter(tenant=tenant, lead=lead)
        .select_related("stage", "lost_reason")
        .order_by("-created_at", "-id")[:MAX_OPPORTUNITIES]
    )
    user_ids.update(o.owner_id for o in opportunities if o.owner_id)

    # Sources: records per source, then the latest value each source gave for each field.
    by_source: dict[int | None, SourceReport] = {}
    record_stats = list(
        IntakeRecord.objects.filter(tenant=tenant, lead=lead)
        .values("source_id")
        .annotate(n=Count("id"), first=Min("received_at"), last=Max("updated_at"))
        .order_by()
    )
    provenance = list(
        FieldProvenance.objects.filter(tenant=tenant, lead=lead)
        .order_by("-at", "-id")
        .values_list("source_id", "given", "at", "verified_by_bd")[:MAX_PROVENANCE]
    )
    sales_rows = list(
        IntakeRecord.objects.filter(_sales_q(), tenant=tenant, lead=lead)
        .order_by("-received_at", "-id")
        .values_list("id", "source_id", "received_at", "raw")[:MAX_SALES]
    )
    source_ids = {r["source_id"] for r in record_stats} | {p[0] for p in provenance if p[0]}
    source_ids |= {r[1] for r in sales_rows}
    sources = {s.pk: s for s in IntakeSource.objects.filter(tenant=tenant, pk__in=source_ids)}

    def report(source_id: int | None) -> SourceReport:
        if source_id not in by_source:
            src = sources.get(source_id) if source_id is not None else None
            by_source[source_id] = (
                SourceReport(src.key, src.name, src.channel, src.trust)
                if src is not None
                else SourceReport(WORKBENCH, _("Workbench and earlier values"), "bd", None)
            )
        return by_source[source_id]

    for row in record_stats:
        rep = report(row["source_id"])
        rep.records += row["n"]
        rep.seen(row["first"])
        rep.seen(row["last"])
    given: set[tuple[int | None, str]] = set()
    for source_id, values, at, verified in provenance:  # newest first: the first per field is the latest
        rep = report(source_id)
        rep.seen(at)
        for name, value in values.items():
            if (source_id, name) in given:
                continue
            given.add((source_id, name))
            rep.values.append(SourceValue(name, value, at, verified, value == lead_field_value(lead, name)))
    for rep in by_source.values():
        rep.values.sort(key=lambda v: v.field)
    reports = sorted(by_source.values(), key=lambda r: (r.first_seen is None, r.first_seen, r.key))

    sales: list[SalesFigure] = []
    for record_id, source_id, received_at, raw in sales_rows:
        found = _sales_of(raw)
        parsed = sales_amount(found[1]) if found else None
        if found is None or parsed is None:
            continue
        src = sources.get(source_id)
        sales.append(
            SalesFigure(
                record_id,
                src.key if src else "",
                src.name if src else "",
                received_at,
                parsed[0],
                parsed[1],
                found[0],
            )
        )

    # Merges into this lead and of this lead into another (undone, or this lead would be hidden).
    merges_rows = list(
        LeadMerge.objects.filter(Q(survivor=lead) | Q(merged=lead), tenant=tenant)
        .order_by("-at", "-id")
        .values_list(
            "id",
            "survivor_id",
            "merged_id",
            "snapshot_before",
            "at",
            "merged_by_id",
            "undone_at",
            "undone_by_id",
        )[:MAX_MERGES]
    )
    # The other lead is named when it is part of this one (a merge not undone) or when the viewer may see
    # it now; an undone merge may have given it back to another BD's private sea.
    ask = {
        (m if s == lead.pk else s)
        for _id, s, m, _snap, _at, _by, undone, _uby in merges_rows
        if not (s == lead.pk and undone is None)
    }
    visible_names = (
        {
            pk: _display(name, branch)
            for pk, name, branch in visible.filter(pk__in=ask).values_list("pk", "name", "branch_name")
        }
        if ask
        else {}
    )
    for _id, _s, _m, _snap, _at, by, _undone, undone_by in merges_rows:
        user_ids.update(u for u in (by, undone_by) if u)

    ledger: Sequence[tuple[str, int | None, datetime]] = []
    if modules.get("pool", True):
        ledger = list(
            LedgerEntry.objects.filter(tenant=tenant, lead=lead)
            .order_by("-id")
            .values_list("action", "to_owner_id", "created_at")[:MAX_LEDGER]
        )[::-1]
        user_ids.update(u for _a, u, _at in ledger if u)

    visit_stats: dict[str, Any] | None = None
    last_visit: tuple[datetime, int | None] | None = None
    if modules.get("visits", True):
        visit_stats = Visit.objects.filter(tenant=tenant, lead=lead).aggregate(
            n=Count("id"), verified=Count("id", filter=Q(verified=True))
        )
        last_visit = (
            Visit.objects.filter(tenant=tenant, lead=lead)
            .order_by("-visited_at", "-id")
            .values_list("visited_at", "user_id")
            .first()
        )
        if last_visit and last_visit[1]:
            user_ids.add(last_visit[1])

    people = (
        {
            m.user_id: Person(m.user_id, m.display_name or m.user.get_full_name() or m.user.get_username())
            for m in Membership.objects.filter(tenant=tenant, user_id__in=user_ids).select_related("user")
        }
        if user_ids
        else {}
    )

    merges: list[MergeEntry] = []
    for merge_id, s, m, snap, at, by, undone, undone_by in merges_rows:
        into = s == lead.pk
        other = m if into else s
        if into and undone is None:
            before = (snap or {}).get("merged") or {}
            name = _display(before.get("name") or "", before.get("branch_name") or "")
            other_id: int | None = other
        else:
            name = visible_names.get(other, "")
            other_id = other if other in visible_names else None
        merges.append(
            MergeEntry(
                merge_id,
                "into" if into else "away",
                other_id,
                name,
                at,
                _person(people, by) if by else None,
                undone,
                _person(people, undone_by) if undone_by else None,
            )
        )

    past = [
        PastOpportunity(
            o.pk,
            o.name,
            o.stage,
            o.stage.kind,
            _person(people, o.owner_id) if o.owner_id else None,
            o.created_at,
            o.closed_at,
            o.lost_reason.key if o.lost_reason else "",
            o.lost_reason.label_zh if o.lost_reason else "",
            o.lost_note,
        )
        for o in opportunities
    ]

    visits = None
    if visit_stats is not None:
        visits = VisitSummary(
            visit_stats["n"],
            visit_stats["verified"],
            last_visit[0] if last_visit else None,
            _person(people, last_visit[1]) if last_visit and last_visit[1] else None,
        )

    brand_counts: dict[str, int] = defaultdict(int)
    if lead.name:
        brand_counts.update(
            visible.filter(name=lead.name)
            .exclude(pk=lead.pk)
            .aggregate(total=Count("id"), signed=Count("id", filter=Q(signed_at__isnull=False)))
        )
    brand = BrandSummary(
        stores=related_stores(
            tenant=tenant, membership=membership, lead=lead, limit=MAX_BRAND, now=now, visible=visible
        )
        if brand_counts["total"]
        else [],
        total=brand_counts["total"],
        signed=brand_counts["signed"],
    )

    return LeadHistory(
        lead=lead,
        signed_at=lead.signed_at,
        opportunities=past,
        won=sum(1 for o in past if o.kind == Stage.Kind.WON),
        lost=sum(1 for o in past if o.kind == Stage.Kind.LOST),
        sources=reports,
        sales=sales,
        merges=merges,
        ownership=_periods(lead, ledger, people, now) if modules.get("pool", True) else None,
        visits=visits,
        brand=brand,
    )
