"""The candidate lookup: every blocking key held by at most KEY_CAP leads comes back whole (its leads
ascending), whatever the other keys of the batch hold, and a key over the cap is left out (SQLite here,
PostgreSQL in the PostgreSQL run)."""

from __future__ import annotations

from typing import Any

from leadsea.core import clock
from leadsea.intake import pipeline
from leadsea.intake.models import LeadKey
from leadsea.intake.services import KEY_CAP, MAX_CANDIDATES, _candidate_ids, _leads_by_key
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


def test_a_record_finds_a_lead_within_half_a_cell_whatever_the_cell_borders(org: Any) -> None:
    """A lead less than half a key cell (~500 m) away on each axis shares a name-token key with a record,
    wherever the two fall in their cells (borders between them or not); one two cells away does not. Only
    the cell-qualified keys are compared (both also share the city-wide name keys)."""
    from leadsea.intake import matching

    def token_keys(lat: float | None, lng: float | None, *, query: bool = False) -> set[int]:
        [rec] = matching.prepare([matching.RawRecord("x", "老张牛肉面", lat=lat, lng=lng)])
        [unplaced] = matching.prepare([matching.RawRecord("x", "老张牛肉面")])
        keys = pipeline.query_keys if query else pipeline.lead_keys
        return set(keys(rec)) - set(keys(unplaced))

    half = pipeline.KEY_CELL_DEG / 2 * 0.98
    for base_lat, base_lng in [
        (39.9051, 116.4049),
        (39.9001, 116.4099),
        (39.9099, 116.4001),
        (-33.8651, 151.2),
    ]:
        wanted = token_keys(base_lat, base_lng, query=True)
        assert len(wanted) == 4  # one name token, the 2x2 cells nearest to the record
        for dy in (-half, 0.0, half):
            for dx in (-half, 0.0, half):
                assert wanted & token_keys(base_lat + dy, base_lng + dx), (base_lat, base_lng, dy, dx)
        far = token_keys(base_lat + 2 * pipeline.KEY_CELL_DEG, base_lng)
        assert far and not wanted & far  # two cells away: only the city-wide keys are shared


def test_a_lead_sharing_a_rare_key_outranks_many_sharing_common_ones(org: Any) -> None:
    """Candidates are ranked by the weight of the keys they share, a rare key weighing more: a lead holding
    the record's only rare key (its phone, say) is scored before a chain's leads that share two of its
    common name keys with it; counting shared keys left it out of the MAX_CANDIDATES."""
    rare, common1, common2 = 7_001, 7_002, 7_003
    held = _holders(org, {rare: 1, common1: 40})
    chain = held[common1][: MAX_CANDIDATES + 5]  # these share both common keys with the record
    from leadsea.intake.models import LeadKey

    LeadKey.objects.bulk_create([LeadKey(tenant=org.tenant, lead_id=pk, key=common2) for pk in chain])
    [found] = _candidate_ids(org.tenant.pk, [[rare, common1, common2]])
    assert len(found) == MAX_CANDIDATES
    assert found[0] == held[rare][0]  # first, though it shares one key and the chain's leads two
    assert set(found[1:]) <= set(chain)  # then the leads sharing both common keys
