"""Leads made by intake carry their custom fields into the side index, as leads made on the web do: they
are found by selective cf_ filters and sorting, and a unique value already taken (by a lead, or by a record
earlier in the same batch) is that record's error while the rest of the batch goes on."""

from __future__ import annotations

from typing import Any

import pytest

from leadsea.intake.services import intake_submit, source_get_or_create
from leadsea.leads.selectors import leads_search
from leadsea.leads.services import lead_create
from leadsea.metadata.models import CustomValue
from leadsea.metadata.services import field_definition_create

pytestmark = pytest.mark.django_db


def _fields(org: Any) -> None:
    field_definition_create(
        tenant=org.tenant, actor=org.admin, key="licence", label_zh="执照号", field_type="text", unique=True
    )
    field_definition_create(
        tenant=org.tenant, actor=org.admin, key="seats", label_zh="座位", field_type="number", filterable=True
    )


def _record(i: int, **custom: Any) -> dict[str, Any]:
    # Far apart and differently named: every record makes its own lead.
    return {
        "external_id": f"r{i}",
        "name": f"测试门店{'甲乙丙丁戊己庚辛'[i]}记",
        "city": "北京",
        "lat": 39.9 + i * 0.05,
        "lng": 116.3 + i * 0.05,
        "custom_fields": custom,
    }


def test_intake_leads_are_in_the_side_index_and_unique_values_are_checked(org):
    _fields(org)
    lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "老店", "custom_fields": {"licence": "L-1"}}
    )
    source = source_get_or_create(tenant=org.tenant, key="feed", channel="push")
    results = intake_submit(
        tenant=org.tenant,
        source=source,
        records=[
            _record(0, licence="L-2", seats=40),
            _record(1, licence="L-1", seats=12),  # taken by the lead made on the web
            _record(2, licence="L-3", seats=80),
            _record(3, licence="L-2", seats=5),  # taken by record 0 of this batch
        ],
        actor=org.admin,
    )
    assert [r.status for r in results] == ["created", "error", "created", "error"]
    assert [e["code"] for r in results for e in r.errors] == ["duplicate_value", "duplicate_value"]
    assert [e["field"] for r in results for e in r.errors] == ["custom_fields.licence"] * 2
    made = {r.lead_id for r in results if r.lead_id}
    rows = CustomValue.objects.filter(tenant=org.tenant, object_type="lead", record_id__in=made)
    assert sorted((v.field_key, v.value_text) for v in rows) == [
        ("licence", "L-2"),
        ("licence", "L-3"),
        ("seats", "40"),
        ("seats", "80"),
    ]
    found = leads_search(tenant=org.tenant, membership=org.admin, custom_filters={"seats": "80"})
    assert [x.pk for x in found] == [results[2].lead_id]
    by_seats = leads_search(tenant=org.tenant, membership=org.admin, ordering="-cf_seats")
    assert [x.pk for x in by_seats][:2] == [results[2].lead_id, results[0].lead_id]
