"""The plugin extension point: the example plugin (an installed package found through its entry point)
enabled for one tenant validates its leads and tags its signed leads; the other tenant is unaffected.
Handlers run after commit only, for enabling tenants only, and a failing handler breaks nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from leadsea.audit.models import ChangeLog
from leadsea.core.errors import DomainError
from leadsea.events import plugins
from leadsea.events.models import OutboxEvent
from leadsea.events.services import emit, plugin_configure
from leadsea.leads.models import Lead, LeadTag
from leadsea.leads.services import lead_create, lead_update
from leadsea.pipeline.services import lead_stage_set
from leadsea.pools import services as pools
from leadsea.pools.sweep import sweep

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def enable(org: Any, name: str = "example", **settings: Any) -> None:
    plugin_configure(
        tenant=org.tenant, actor=org.admin, name=name, enabled=True, settings=settings or None, now=T0
    )


def tags_of(lead: Lead) -> list[str]:
    return sorted(LeadTag.objects.filter(tenant_id=lead.tenant_id, lead=lead).values_list("tag", flat=True))


class Recorder(plugins.PluginConfig):
    """A plugin registered in code that records what it receives (and fails on request)."""

    name = "recorder"
    calls: list[tuple[int, str, int]] = []

    @staticmethod
    def handle(event: plugins.DomainEvent, settings: dict[str, Any]) -> None:
        if settings.get("fail"):
            raise RuntimeError("this handler is broken")
        Recorder.calls.append((event.tenant_id, event.type, event.id))

    event_handlers = {"*": handle}


@pytest.fixture
def recorder() -> Iterator[type[Recorder]]:
    Recorder.calls = []
    plugins.register(Recorder)
    yield Recorder
    plugins.unregister(Recorder.name)


def test_the_example_plugin_is_found_through_its_entry_point_and_listed(org, api_as):
    assert "example" in plugins.installed()
    assert plugins.installed()["example"].__module__ == "leadsea_example_plugin"
    api = api_as(org.admin)
    (listed,) = [p for p in api.get("/api/v1/plugins").json() if p["name"] == "example"]
    assert listed["enabled"] is False and listed["settings"] == {"category": "酒店", "tag": "vip"}
    assert listed["event_types"] == ["lead.signed"] and listed["validates"] == ["lead"]
    r = api.put("/api/v1/plugins/example", {"enabled": True, "settings": {"tag": "VIP客户"}})
    assert r.status_code == 200 and r.json()["enabled"] is True
    assert r.json()["settings"] == {"category": "酒店", "tag": "VIP客户"}
    (row,) = ChangeLog.objects.filter(tenant=org.tenant, action="plugin.configure")
    assert row.after == {"name": "example", "enabled": True, "settings": {"tag": "VIP客户"}}
    assert row.actor_id == org.admin.user_id
    r = api.put("/api/v1/plugins/no-such-plugin", {"enabled": True})
    assert r.status_code == 404 and r.json()["error"]["code"] == "plugin_not_found"
    for member in (org.bd1, org.manager, org.hq):
        r = api_as(member).put("/api/v1/plugins/example", {"enabled": False})
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_tenant_admin"
        assert api_as(member).get("/api/v1/plugins").status_code == 403


def test_the_example_plugin_names_itself_in_the_language_of_each_request(org, api_as):
    """verbose_name and description are lazy translations, resolved when shown, from the plugin's own
    catalogue (its locale directory, added to LOCALE_PATHS because it is an installed plugin)."""
    import leadsea_example_plugin
    from django.conf import settings
    from django.utils import translation
    from django.utils.functional import Promise

    assert any(str(p).startswith(leadsea_example_plugin.__path__[0]) for p in settings.LOCALE_PATHS)
    config = plugins.installed()["example"]
    assert isinstance(config.verbose_name, Promise) and isinstance(config.description, Promise)
    english = "Example: hotels need a phone, signed leads are VIP"
    with translation.override("zh-hans"):
        assert str(config.verbose_name) == "示例：酒店须有电话，签约线索标为 VIP"
    with translation.override("en"):
        assert str(config.verbose_name) == english
    # The API speaks the site's default language (zh-hans) to a client that asks for none.
    (listed,) = [p for p in api_as(org.admin).get("/api/v1/plugins").json() if p["name"] == "example"]
    assert listed["verbose_name"] == "示例：酒店须有电话，签约线索标为 VIP"
    assert listed["description"] == "拒绝没有电话的“酒店”品类线索；为签约线索打上 vip 标签。"


def test_the_validation_hook_applies_to_the_enabling_tenant_only(org, other_org, api_as):
    enable(org)
    api = api_as(org.admin)
    events_before = OutboxEvent.objects.filter(tenant=org.tenant).count()
    r = api.post("/api/v1/leads", {"name": "如家酒店", "category": "酒店"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "phone_required" and r.json()["error"]["field"] == "phone"
    assert not Lead.objects.filter(tenant=org.tenant, name="如家酒店").exists()  # nothing half-written
    assert OutboxEvent.objects.filter(tenant=org.tenant).count() == events_before
    r = api.post("/api/v1/leads", {"name": "如家酒店", "category": "酒店", "phone": "13800138000"})
    assert r.status_code == 201
    hotel = r.json()["id"]
    # An update is checked on the lead as it would be saved: dropping the phone, or becoming a hotel.
    r = api.patch(f"/api/v1/leads/{hotel}", {"phones": []})
    assert r.status_code == 422 and r.json()["error"]["code"] == "phone_required"
    plain = api.post("/api/v1/leads", {"name": "小面馆", "category": "面馆"}).json()["id"]
    r = api.patch(f"/api/v1/leads/{plain}", {"category": "酒店"})
    assert r.status_code == 422
    # The other tenant never enabled it.
    r = api_as(other_org.admin).post("/api/v1/leads", {"name": "汉庭酒店", "category": "酒店"})
    assert r.status_code == 201
    # Settings are per tenant; turning the plugin off lifts the rule.
    plugin_configure(tenant=org.tenant, actor=org.admin, name="example", settings={"category": "民宿"})
    assert api.post("/api/v1/leads", {"name": "七天酒店", "category": "酒店"}).status_code == 201
    assert api.post("/api/v1/leads", {"name": "山间民宿", "category": "民宿"}).status_code == 422
    plugin_configure(tenant=org.tenant, actor=org.admin, name="example", enabled=False)
    assert api.post("/api/v1/leads", {"name": "山间民宿", "category": "民宿"}).status_code == 201


def _sign(org: Any, name: str) -> Lead:
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": name}, now=T0)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="won", now=T0)
    return lead


def test_a_signed_lead_is_tagged_after_commit_in_the_enabling_tenant_only(
    org, other_org, django_capture_on_commit_callbacks
):
    enable(org)
    with django_capture_on_commit_callbacks(execute=True):
        mine = _sign(org, "全聚德")
        theirs = _sign(other_org, "便宜坊")
    assert tags_of(mine) == ["vip"]
    assert tags_of(theirs) == []
    # Through the lead service: audited as the person who signed, and itself an event.
    change = ChangeLog.objects.filter(tenant=org.tenant, action="lead.update").latest("id")
    assert change.after == {"tags": ["vip"]} and change.actor_id == org.bd1.user_id
    assert OutboxEvent.objects.filter(tenant=org.tenant, type="lead.updated").count() == 1


def test_handlers_run_after_commit_only_and_never_for_a_rollback(
    org, other_org, recorder, django_capture_on_commit_callbacks
):
    enable(org, name="recorder")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(DomainError), transaction.atomic():
            lead_create(tenant=org.tenant, actor=org.admin, data={"name": "回滚店"}, now=T0)
            lead_update(
                tenant=org.tenant,
                actor=org.admin,
                lead=Lead.objects.get(tenant=org.tenant, name="回滚店"),
                data={"lat": 999},
            )
            raise AssertionError("not reached")
        assert recorder.calls == []
        with transaction.atomic():
            lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "提交店"}, now=T0)
            assert recorder.calls == []  # not before the commit
        lead_create(tenant=other_org.tenant, actor=other_org.admin, data={"name": "乙店"}, now=T0)
    assert len(callbacks) >= 1
    (event,) = OutboxEvent.objects.filter(tenant=org.tenant, type="lead.created")
    assert recorder.calls == [(org.tenant.pk, "lead.created", event.pk)]
    assert event.payload["lead_id"] == lead.pk


def test_a_failing_handler_breaks_nothing(org, recorder, django_capture_on_commit_callbacks, caplog):
    enable(org, name="recorder", fail=True)
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "照常店"}, now=T0)
    assert Lead.objects.filter(tenant=org.tenant, pk=lead.pk).exists()
    assert "plugin recorder failed on event lead.created" in caplog.text


def test_sweep_drops_reach_the_handlers(org, other_org, recorder):
    enable(org, name="recorder")
    mine = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "甲店"}, now=T0)
    theirs = lead_create(tenant=other_org.tenant, actor=other_org.admin, data={"name": "乙店"}, now=T0)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=mine.pk, now=T0)
    pools.lead_claim(tenant=other_org.tenant, actor=other_org.bd1, lead_id=theirs.pk, now=T0)
    recorder.calls.clear()
    assert sweep(as_of=T0 + timedelta(days=20)).dropped == 2
    (dropped,) = OutboxEvent.objects.filter(tenant=org.tenant, type="lead.dropped")
    assert recorder.calls == [(org.tenant.pk, "lead.dropped", dropped.pk)]


def test_emit_is_the_entry_point_for_other_modules(org, recorder, django_capture_on_commit_callbacks):
    """Intake calls emit(type="lead.merged") when it merges; it reaches the feed and the plugins alike."""
    enable(org, name="recorder")
    with django_capture_on_commit_callbacks(execute=True):
        event = emit(
            tenant=org.tenant,
            type="lead.merged",
            payload={"lead_id": 1, "merged_ids": [2]},
            actor=org.admin.user,
        )
    assert recorder.calls == [(org.tenant.pk, "lead.merged", event.pk)]
