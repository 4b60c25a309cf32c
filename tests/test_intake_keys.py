"""The candidate lookup: every blocking key held by at most KEY_CAP leads comes back whole (its leads
ascending), whatever the other keys of the batch hold, and a key over the cap is left out (SQLite here,
PostgreSQL in the PostgreSQL run)."""

from __future__ import annotations

from typing import Any

from leadsea.core import clock
from leadsea.intake import pipeline
from leadsea.intake.models import LeadKey
from leadsea.intake.services import KEY_CAP, _leads_by_key
from leadsea.leads.models import Lead
from leadsea.pools.selectors import default_pool


def _holders(org: Any, counts: dict[int, int]) -> dict[int, list[int]]:
    """Leads holding each key, `counts[key]` of them."""
    pool, now = default_pool(tenant=org.tenant), clock.now()
    leads = Lead.objects.bulk_create(
        [
            Lead(tenant=org.tenant, pool=pool, name=f"店{i}", created_at=now, updated_at=now)
            for i in range(sum(counts.values()))
        ]
    )
    held: dict[int, list[int]] = {}
    rows, i = [], 0
    for key, n in counts.items():
        held[key] = sorted(lead.pk for lead in leads[i : i + n])
        rows += [LeadKey(tenant=org.tenant, lead_id=pk, key=key) for pk in held[key]]
        i += n
    LeadKey.objects.bulk_create(rows)
    return held


def test_each_key_under_the_cap_is_read_whole_next_to_crowded_keys(org: Any) -> None:
    k, m = -(2**40), 2**40
    counts = {
        k: KEY_CAP + 40,  # over the cap
        k + 1: 3,
        k + 2: 5,
        k + 10: KEY_CAP + 1,  # just over
        m: 4 * KEY_CAP,
        m + 1: 2,
        m + 5: KEY_CAP,  # at the cap: kept
    }
    held = _holders(org, counts)
    other = _holders(org, {k + 1: 7})  # another lead's key of the same value
    by_key = _leads_by_key(org.tenant.pk, sorted([*counts, k + 3]))
    for key, n in counts.items():
        if n <= KEY_CAP:
            expected = sorted(held[key] + other.get(key, []))
            assert by_key[key] == expected, key
        else:
            assert key not in by_key, key  # over the cap: says too little
    assert k + 3 not in by_key


def test_a_record_finds_a_lead_in_every_neighbouring_cell(org: Any) -> None:
    """A lead in any of the nine ~1 km cells around a record shares a name-token key with it."""
    from leadsea.intake import matching

    lead_keys = {}
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            rec = matching.prepare(
                [matching.RawRecord("x", "老张牛肉面", lat=39.9 + dy * 0.01, lng=116.4 + dx * 0.01)]
            )
            lead_keys[(dx, dy)] = pipeline.lead_keys(rec[0])
    record = matching.prepare([matching.RawRecord("r", "老张牛肉面", lat=39.905, lng=116.405)])[0]
    wanted = set(pipeline.query_keys(record))
    for cell, keys in lead_keys.items():
        assert wanted & set(keys), cell
    far = matching.prepare([matching.RawRecord("y", "老张牛肉面", lat=39.93, lng=116.43)])[0]
    token_keys = set(pipeline.lead_keys(far)) - set(pipeline.lead_keys(record))
    assert not wanted & token_keys  # two cells away: only the city-wide keys are shared
