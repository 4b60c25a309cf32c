# ruff: noqa: E501  (the stores below read best one per line)
"""Stored matcher features (LeadFeatures): written with a lead's keys by every writer of keys, removed with a
merge and back with its undo; intake scores candidates from them, and decides exactly as it does from the
lead rows when they are missing or of another matcher version."""

from __future__ import annotations

from typing import Any

from conftest import build_org
from leadsea.intake import matching, pipeline
from leadsea.intake.models import IntakeSource, LeadFeatures
from leadsea.intake.services import (
    _lead_values,  # the fields features are computed from
    intake_submit,
    lead_merge,
    lead_unmerge,
    source_get_or_create,
)
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_update

# fmt: off
STORES = [
    {"external_id": "1", "name": "海底捞火锅（国贸店）", "address": "北京市朝阳区建国门外大街1号", "phone": "010-6505 1234", "lat": 39.9087, "lng": 116.4605},
    {"external_id": "2", "name": "庆丰包子铺(月坛店)", "address": "北京市西城区月坛北街2号", "phone": "010-6801 2345", "lat": 39.9180, "lng": 116.3452},
    {"external_id": "3", "name": "喜茶(三里屯店)", "address": "北京市朝阳区三里屯路19号", "phone": "13800138000", "lat": 39.9334, "lng": 116.4551},
    {"external_id": "4", "name": "Blue Frog 蓝蛙", "address": "北京市朝阳区三里屯路19号", "phone": "010-6417 8822", "lat": 39.9336, "lng": 116.4553},
]
VARIANTS = [
    {"external_id": "v1", "name": "海底捞(国贸)", "address": "建国门外大街1号", "phone": "01065051234", "lat": 39.9088, "lng": 116.4606},
    {"external_id": "v2", "name": "庆丰包子", "address": "月坛北街2号", "lat": 39.9181, "lng": 116.3453},
    {"external_id": "v3", "name": "喜茶 三里屯", "phone": "138 0013 8000", "lat": 39.9335, "lng": 116.4552},
    {"external_id": "v4", "name": "蓝蛙", "address": "三里屯路19号", "lat": 39.9336, "lng": 116.4553},
    {"external_id": "v5", "name": "全新小馆", "address": "三里屯路20号", "lat": 39.9340, "lng": 116.4560},
]
# fmt: on


def _stored(org: Any, lead: Lead) -> matching._Features | None:
    row = LeadFeatures.objects.filter(tenant=org.tenant, lead=lead).first()
    if row is None:
        return None
    assert row.version == matching.FEATURES_VERSION and (row.lat, row.lng) == (lead.lat, lead.lng)
    return matching.features_load(row.data)


def _computed(lead: Lead) -> matching._Features:
    return matching.features_of(pipeline.raw_record("x", _lead_values(lead)))


def _decide(org: Any, key: str) -> list[tuple[str, float | None, int | None]]:
    source = source_get_or_create(tenant=org.tenant, key=key, channel=IntakeSource.Channel.PUSH)
    results = intake_submit(tenant=org.tenant, source=source, records=[dict(v) for v in VARIANTS])
    return [(r.status, r.score, r.lead_id) for r in results]


def test_features_are_stored_with_each_lead_and_follow_its_edits(org: Any) -> None:
    source = source_get_or_create(tenant=org.tenant, key="crawl", channel=IntakeSource.Channel.IMPORT)
    results = intake_submit(tenant=org.tenant, source=source, records=[dict(s) for s in STORES])
    leads = [Lead.objects.get(tenant=org.tenant, pk=r.lead_id) for r in results]
    for lead in leads:
        assert _stored(org, lead) == _computed(lead)
    assert matching.features_load(matching.features_dump(_computed(leads[0]))) == _computed(leads[0])
    # an edit in the workbench rewrites them
    before = _stored(org, leads[1])
    edited = lead_update(tenant=org.tenant, actor=org.admin, lead=leads[1], data={"name": "老庆丰"})
    assert _stored(org, edited) == _computed(edited) != before
    assert _stored(org, edited)[3] == "老庆丰"  # type: ignore[index]  # the core name
    # a merge removes the merged lead's; its undo brings them back
    merge = lead_merge(tenant=org.tenant, survivor=leads[2], merged=leads[3], actor=org.admin)
    survivor = Lead.objects.get(tenant=org.tenant, pk=leads[2].pk)
    assert _stored(org, leads[3]) is None and _stored(org, survivor) == _computed(survivor)
    lead_unmerge(tenant=org.tenant, merge=merge, actor=org.admin)
    back = Lead.objects.get(tenant=org.tenant, pk=leads[3].pk)
    assert _stored(org, back) == _computed(back)


def test_decisions_are_the_same_without_stored_features_or_with_stale_ones(org: Any, other_org: Any) -> None:
    stale = '[true,"x","x","x","x","","","",false,false,[],"",[],["","","",""],""]'  # another version's
    decisions = []
    for o, mode in ((org, "stored"), (other_org, "missing"), (build_org("third", "第三"), "stale")):
        source = source_get_or_create(tenant=o.tenant, key="crawl", channel=IntakeSource.Channel.IMPORT)
        intake_submit(tenant=o.tenant, source=source, records=[dict(s) for s in STORES])
        if mode == "missing":
            LeadFeatures.objects.filter(tenant=o.tenant).delete()
        elif mode == "stale":
            LeadFeatures.objects.filter(tenant=o.tenant).update(version=0, data=stale)
        decisions.append([(status, score) for status, score, _lead in _decide(o, "push")])
    assert decisions[0] == decisions[1] == decisions[2]
    assert [d[0] for d in decisions[0]] == ["merged", "merged", "merged", "merged", "created"]
