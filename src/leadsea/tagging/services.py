"""Tag rules: edit them (audited) and evaluate them on leads (on intake and on demand, in batches)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from leadsea.audit.services import change_record
from leadsea.core import clock
from leadsea.core.errors import FieldInvalid, NotFound
from leadsea.leads.models import Lead, LeadTag
from leadsea.leads.normalize import fold_text
from leadsea.tagging.models import BrandList, TagRule
from leadsea.tenancy.models import Membership, Tenant

# Lead columns a field rule may test besides custom fields (custom fields are named `cf_<key>` or bare).
LEAD_FIELDS = ("name", "branch_name", "category", "city", "district", "province", "source_channel", "status")
MAX_BRAND_LEN = 20
BATCH = 1000


# ---------------------------------------------------------------------------------------------------------
# Editing rules and brand lists (each change is one transaction with its audit row)
# ---------------------------------------------------------------------------------------------------------


def _rule_dict(rule: TagRule) -> dict[str, Any]:
    return {
        "tag": rule.tag,
        "name": rule.name,
        "kind": rule.kind,
        "brand_list": rule.brand_list_id,
        "field": rule.field,
        "op": rule.op,
        "value": rule.value,
        "is_active": rule.is_active,
    }


def _clean_rule(tenant: Tenant, data: dict[str, Any]) -> dict[str, Any]:
    tag = str(data.get("tag") or "").strip()
    if not tag or len(tag) > 50:
        raise FieldInvalid(_("A tag of 1 to 50 characters is required."), code="required", field="tag")
    kind = data.get("kind")
    if kind not in TagRule.Kind.values:
        raise FieldInvalid(
            _("kind must be one of %(choices)s.") % {"choices": ", ".join(TagRule.Kind.values)}, field="kind"
        )
    out: dict[str, Any] = {
        "tag": tag,
        "name": str(data.get("name") or "").strip()[:200],
        "kind": kind,
        "brand_list": None,
        "field": "",
        "op": "",
        "value": None,
        "is_active": bool(data.get("is_active", True)),
    }
    if kind == TagRule.Kind.BRAND_LIST:
        list_id = data.get("brand_list")
        brand_list = BrandList.objects.filter(tenant=tenant, pk=list_id).first() if list_id else None
        if brand_list is None:
            raise FieldInvalid(_("Choose a brand list."), code="required", field="brand_list")
        out["brand_list"] = brand_list
    elif kind == TagRule.Kind.CATEGORY:
        values = data.get("value")
        if isinstance(values, str):
            values = [v.strip() for v in values.replace("，", ",").split(",")]
        values = [str(v).strip() for v in values or [] if str(v).strip()]
        if not values:
            raise FieldInvalid(_("Give at least one category."), code="required", field="value")
        out["value"] = values
    else:
        fname = str(data.get("field") or "").strip()
        if not fname:
            raise FieldInvalid(_("Name the field to test."), code="required", field="field")
        op = data.get("op")
        if op not in TagRule.Op.values:
            raise FieldInvalid(
                _("op must be one of %(choices)s.") % {"choices": ", ".join(TagRule.Op.values)}, field="op"
            )
        value = data.get("value")
        if op in ("gt", "gte", "lt", "lte"):
            try:
                value = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise FieldInvalid(_("This condition needs a number."), field="value")
        elif op == "in":
            if isinstance(value, str):
                value = [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]
            if not isinstance(value, list) or not value:
                raise FieldInvalid(_("Give at least one value."), code="required", field="value")
        elif op == "truthy":
            value = None
        elif value is None or value == "":
            raise FieldInvalid(_("This condition needs a value."), code="required", field="value")
        out.update(field=fname, op=op, value=value)
    return out


@transaction.atomic
def tag_rule_create(
    *, tenant: Tenant, actor: Membership | None, data: dict[str, Any], now: datetime | None = None
) -> TagRule:
    now = now or clock.now()
    clean = _clean_rule(tenant, data)
    rule = TagRule.objects.create(
        tenant=tenant, created_by=actor.user if actor else None, created_at=now, updated_at=now, **clean
    )
    change_record(
        tenant=tenant,
        actor=actor.user if actor else None,
        action="tag_rule.create",
        obj=rule,
        before=None,
        after=_rule_dict(rule),
        now=now,
    )
    return rule


@transaction.atomic
def tag_rule_update(
    *,
    tenant: Tenant,
    actor: Membership | None,
    rule: TagRule,
    data: dict[str, Any],
    now: datetime | None = None,
) -> TagRule:
    now = now or clock.now()
    before = _rule_dict(rule)
    clean = _clean_rule(tenant, {**before, **data})
    for key, value in clean.items():
        setattr(rule, key, value)
    rule.updated_at = now
    rule.save()
    change_record(
        tenant=tenant,
        actor=actor.user if actor else None,
        action="tag_rule.update",
        obj=rule,
        before=before,
        after=_rule_dict(rule),
        now=now,
    )
    return rule


@transaction.atomic
def tag_rule_delete(
    *, tenant: Tenant, actor: Membership | None, rule: TagRule, now: datetime | None = None
) -> None:
    """Delete a rule; the tags it gave stay on the leads (a deleted rule no longer maintains its tag)."""
    now = now or clock.now()
    change_record(
        tenant=tenant,
        actor=actor.user if actor else None,
        action="tag_rule.delete",
        obj=rule,
        before=_rule_dict(rule),
        after=None,
        now=now,
    )
    TagRule.objects.filter(tenant=tenant, pk=rule.pk).delete()


def _brands_clean(brands: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for raw in brands:
        brand = " ".join(str(raw).split())
        key = fold_text(brand)
        if not brand or key in seen:
            continue
        if len(key) > MAX_BRAND_LEN:
            raise FieldInvalid(
                _("%(brand)s is longer than %(n)d characters.") % {"brand": brand, "n": MAX_BRAND_LEN},
                field="brands",
            )
        seen.add(key)
        out.append(brand)
    return out


@transaction.atomic
def brand_list_save(
    *,
    tenant: Tenant,
    actor: Membership | None,
    key: str,
    name: str,
    brands: Iterable[str],
    now: datetime | None = None,
) -> BrandList:
    """Create or replace a brand list (an upload or an edit), audited with the brands added and removed."""
    now = now or clock.now()
    clean = _brands_clean(brands)
    brand_list = BrandList.objects.select_for_update().filter(tenant=tenant, key=key).first()
    before = list(brand_list.brands) if brand_list else None
    if brand_list is None:
        brand_list = BrandList.objects.create(
            tenant=tenant, key=key, name=name or key, brands=clean, updated_at=now
        )
    else:
        brand_list.name = name or brand_list.name
        brand_list.brands = clean
        brand_list.updated_at = now
        brand_list.save()
    old = set(before or [])
    change_record(
        tenant=tenant,
        actor=actor.user if actor else None,
        action="brand_list.save",
        obj=brand_list,
        before={"count": len(old), "removed": sorted(old - set(clean))} if before is not None else None,
        after={"count": len(clean), "added": sorted(set(clean) - old), "name": brand_list.name},
        now=now,
    )
    return brand_list


# ---------------------------------------------------------------------------------------------------------
# Evaluating
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Compiled:
    rules: list[TagRule]
    brand_keys: dict[int, frozenset[str]] = field(default_factory=dict)

    @property
    def tags(self) -> set[str]:
        return {r.tag for r in self.rules}


def _compile(tenant: Tenant) -> _Compiled:
    rules = list(TagRule.objects.filter(tenant=tenant, is_active=True).order_by("id"))
    compiled = _Compiled(rules=rules)
    list_ids = {r.brand_list_id for r in rules if r.brand_list_id}
    for brand_list in BrandList.objects.filter(tenant=tenant, pk__in=list_ids):
        compiled.brand_keys[brand_list.pk] = frozenset(fold_text(b) for b in brand_list.brands if b)
    return compiled


def _substrings(text: str) -> set[str]:
    """Every substring up to MAX_BRAND_LEN: a brand is listed when the folded name contains it."""
    n = len(text)
    return {text[i:j] for i in range(n) for j in range(i + 1, min(n, i + MAX_BRAND_LEN) + 1)}


def _lead_value(lead: Lead, name: str) -> Any:
    key = name[3:] if name.startswith("cf_") else name
    if not name.startswith("cf_") and name in LEAD_FIELDS:
        return getattr(lead, name)
    return (lead.custom_data or {}).get(key)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _field_matches(rule: TagRule, value: Any) -> bool:
    op, want = rule.op, rule.value
    if op == "truthy":
        if isinstance(value, str):
            return value.strip().lower() not in ("", "0", "false", "no", "否")
        return bool(value)
    if value is None or value == "":
        return False
    if op in ("gt", "gte", "lt", "lte"):
        got, limit = _number(value), _number(want)
        if got is None or limit is None:
            return False
        return {"gt": got > limit, "gte": got >= limit, "lt": got < limit, "lte": got <= limit}[op]
    if op == "in":
        values = value if isinstance(value, list) else [value]
        return any(str(v) in {str(w) for w in want or []} for v in values)
    if op == "contains":
        if isinstance(value, list):
            return str(want) in [str(v) for v in value]
        return fold_text(str(want)) in fold_text(str(value))
    same = str(value) == str(want) or (_number(value) is not None and _number(value) == _number(want))
    return same if op == "eq" else not same


def rule_matches(rule: TagRule, lead: Lead, compiled: _Compiled, names: set[str] | None = None) -> bool:
    if rule.kind == TagRule.Kind.BRAND_LIST:
        brands = compiled.brand_keys.get(rule.brand_list_id or 0, frozenset())
        if names is None:
            names = _substrings(fold_text(lead.name))
        return bool(brands & names)
    if rule.kind == TagRule.Kind.CATEGORY:
        category = fold_text(lead.category)
        return bool(category) and category in {fold_text(v) for v in rule.value or []}
    return _field_matches(rule, _lead_value(lead, rule.field))


def tags_for(lead: Lead, compiled: _Compiled) -> set[str]:
    names = _substrings(fold_text(lead.name)) if compiled.brand_keys else set()
    return {r.tag for r in compiled.rules if rule_matches(r, lead, compiled, names)}


@dataclass
class TagsApplied:
    leads: int = 0
    added: int = 0
    removed: int = 0


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def tags_apply(
    *, tenant: Tenant, leads: Iterable[Lead | int] | QuerySet[Lead] | None = None, batch_size: int = BATCH
) -> TagsApplied:
    """Evaluate the tenant's active rules on the given leads (all leads when None), in batches of one
    transaction each: a tag of an active rule is added where a rule matches and removed where none does.
    Tags no active rule names are left alone (hand-set tags)."""
    compiled = _compile(tenant)
    result = TagsApplied()
    if not compiled.rules:
        return result
    managed = compiled.tags
    if leads is None:
        ids = list(Lead.objects.filter(tenant=tenant).order_by("id").values_list("id", flat=True))
    else:
        ids = sorted({x if isinstance(x, int) else x.pk for x in leads})
    for chunk in _chunks(ids, batch_size):
        with transaction.atomic():
            rows = list(
                Lead.objects.filter(tenant=tenant, pk__in=chunk).only(
                    "id", "tenant_id", "name", "category", "custom_data", *LEAD_FIELDS
                )
            )
            have: dict[int, set[str]] = {}
            for lead_id, tag in LeadTag.objects.filter(
                tenant=tenant, lead_id__in=chunk, tag__in=managed
            ).values_list("lead_id", "tag"):
                have.setdefault(lead_id, set()).add(tag)
            add: list[LeadTag] = []
            drop: list[tuple[int, str]] = []
            for lead in rows:
                want = tags_for(lead, compiled)
                got = have.get(lead.pk, set())
                add.extend(LeadTag(tenant=tenant, lead_id=lead.pk, tag=t) for t in sorted(want - got))
                drop.extend((lead.pk, t) for t in got - want)
            if add:
                LeadTag.objects.bulk_create(add, ignore_conflicts=True)
            for tag in {t for _, t in drop}:
                LeadTag.objects.filter(
                    tenant=tenant, tag=tag, lead_id__in=[i for i, t in drop if t == tag]
                ).delete()
            result.leads += len(rows)
            result.added += len(add)
            result.removed += len(drop)
    return result


def tag_rule_get(*, tenant: Tenant, rule_id: int) -> TagRule:
    rule = TagRule.objects.filter(tenant=tenant, pk=rule_id).select_related("brand_list").first()
    if rule is None:
        raise NotFound(_("Tag rule not found."), code="tag_rule_not_found")
    return rule
