"""An example leadsea plugin: a lead of a given category (酒店 by default) must have a phone, and a lead
that is signed gets a tag (vip by default). Enabled per tenant: PUT /api/v1/plugins/example."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadsea.core.errors import FieldInvalid
from leadsea.events.plugins import DomainEvent, PluginConfig


def require_phone(*, tenant: Any, data: dict[str, Any], settings: dict[str, Any]) -> None:
    """Validation hook for leads: `data` is the lead as it would be saved."""
    if data.get("category") == settings["category"] and not data.get("phones"):
        raise FieldInvalid(
            _("A lead in category %(category)s needs a phone.") % {"category": settings["category"]},
            code="phone_required",
            field="phone",
        )


def tag_signed(event: DomainEvent, settings: dict[str, Any]) -> None:
    """On lead.signed: add the tag through the lead service, as the person who signed (audited)."""
    from leadsea.leads.models import Lead, LeadTag
    from leadsea.leads.services import lead_update
    from leadsea.tenancy.models import Membership

    membership = (
        Membership.objects.filter(tenant_id=event.tenant_id, user_id=event.actor_id, is_active=True)
        .select_related("tenant", "user")
        .first()
    )
    lead = Lead.objects.filter(tenant_id=event.tenant_id, pk=event.payload["lead_id"]).first()
    if membership is None or lead is None:
        return
    tags = list(LeadTag.objects.filter(tenant_id=event.tenant_id, lead=lead).values_list("tag", flat=True))
    if settings["tag"] not in tags:
        lead_update(
            tenant=membership.tenant, actor=membership, lead=lead, data={"tags": [*tags, settings["tag"]]}
        )


class ExamplePlugin(PluginConfig):
    name = "example"
    # Lazy: the host shows them in the language of each request (the plugin list of the API and web page).
    verbose_name = gettext_lazy("Example: hotels need a phone, signed leads are VIP")
    version = "0.1.0"
    description = gettext_lazy("Refuses a lead in category 酒店 without a phone; tags a signed lead vip.")
    default_settings = {"category": "酒店", "tag": "vip"}
    validators = {"lead": require_phone}
    event_handlers = {"lead.signed": tag_signed}
