"""Conversion: default stages and lost reasons of a tenant, and moving a lead's opportunity through them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from leadsea.audit.services import change_record
from leadsea.core import clock
from leadsea.core.errors import Conflict, FieldInvalid, Forbidden
from leadsea.events.catalog import LEAD_STAGE_CHANGED
from leadsea.events.services import emit
from leadsea.leads.models import Lead
from leadsea.pipeline.models import LostReason, Opportunity, Stage
from leadsea.pools.services import lead_progressed, lead_signed, lock_for_write, supervises
from leadsea.tenancy.models import Membership, Tenant

DEFAULT_STAGES = [
    ("contact", "初步接触", "First contact", Stage.Kind.OPEN, 10),
    ("needs", "需求确认", "Needs confirmed", Stage.Kind.OPEN, 30),
    ("negotiation", "商务谈判", "Negotiation", Stage.Kind.OPEN, 60),
    ("contract", "合同审核", "Contract review", Stage.Kind.OPEN, 80),
    ("won", "已签约", "Signed", Stage.Kind.WON, 100),
    ("lost", "输单", "Lost", Stage.Kind.LOST, 0),
]
DEFAULT_LOST_REASONS = [
    ("price", "价格或佣金不合适", "Price or commission"),
    ("competitor", "已与竞对合作", "Signed with a competitor"),
    ("no_interest", "商户无合作意向", "Merchant not interested"),
    ("unreachable", "联系不上关键人", "Key person unreachable"),
    ("closed", "门店已关闭", "Store closed"),
    ("other", "其他", "Other"),
]


def pipeline_create_default(*, tenant: Tenant) -> None:
    Stage.objects.bulk_create(
        [
            Stage(tenant=tenant, key=k, name_zh=zh, name_en=en, kind=kind, probability=p, position=i)
            for i, (k, zh, en, kind, p) in enumerate(DEFAULT_STAGES)
        ]
    )
    LostReason.objects.bulk_create(
        [LostReason(tenant=tenant, key=k, label_zh=zh, label_en=en) for k, zh, en in DEFAULT_LOST_REASONS]
    )


def _may_work(actor: Membership, lead: Lead) -> bool:
    return lead.owner_id == actor.user_id or supervises(actor, lead.owner_id)


@transaction.atomic
def lead_stage_set(
    *,
    tenant: Tenant,
    actor: Membership,
    lead_id: int,
    stage_key: str,
    lost_reason: str | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Opportunity:
    """Move the lead's open opportunity (a new one if none is open) to a stage. Advancing resets the
    no-progress clock; won signs the lead; lost needs a reason from the tenant's list and closes it."""
    from leadsea.leads.selectors import lead_get

    now = now or clock.now()
    lead_get(tenant=tenant, membership=actor, lead_id=lead_id, now=now)  # scope check: 404 outside it
    stage = Stage.objects.filter(tenant=tenant, key=stage_key).first()
    if stage is None:
        raise FieldInvalid(
            _("No stage %(stage)s.") % {"stage": stage_key}, code="invalid_stage", field="stage"
        )
    reason = None
    if stage.kind == Stage.Kind.LOST:
        if not lost_reason:
            raise FieldInvalid(_("A lost stage needs a lost reason."), code="required", field="lost_reason")
        reason = LostReason.objects.filter(tenant=tenant, key=lost_reason, is_active=True).first()
        if reason is None:
            raise FieldInvalid(
                _("No lost reason %(reason)s.") % {"reason": lost_reason},
                code="invalid_lost_reason",
                field="lost_reason",
            )
    lead = lock_for_write(tenant=tenant, lead_id=lead_id, now=now)
    if lead.owner_id is None:
        raise Conflict(_("Claim this lead before working on it."), code="lead_not_private")
    if not _may_work(actor, lead):
        raise Forbidden(_("Only the owner or their supervisor may move this lead's stage."))
    if lead.signed_at is not None and stage.kind != Stage.Kind.WON:
        raise Conflict(_("This lead is signed; open a renewal opportunity instead."), code="lead_signed")
    opp = (
        Opportunity.objects.select_for_update(of=("self",))
        .filter(tenant=tenant, lead=lead, closed_at__isnull=True)
        .select_related("stage")
        .order_by("-id")
        .first()
    )
    before: dict[str, Any] | None = None
    if opp is None:
        opp = Opportunity(
            tenant=tenant,
            lead=lead,
            name=str(lead),
            stage=stage,
            owner_id=lead.owner_id,
            created_at=now,
            stage_changed_at=now,
        )
        advanced = True
    else:
        if opp.stage_id == stage.pk:
            raise Conflict(_("The opportunity is at this stage already."), code="same_stage", field="stage")
        before = {"stage": opp.stage.key}
        advanced = stage.position > opp.stage.position
        opp.stage, opp.stage_changed_at = stage, now
    if stage.kind != Stage.Kind.OPEN:
        opp.closed_at = now
    if stage.kind == Stage.Kind.LOST:
        opp.lost_reason, opp.lost_note = reason, note[:300]
    opp.save()
    lead.stage = stage
    if advanced and stage.kind != Stage.Kind.LOST:
        lead_progressed(lead=lead, now=now)
    if stage.kind == Stage.Kind.WON:
        lead_signed(lead=lead, actor_id=actor.user_id, now=now)
    else:
        lead.updated_at = now
        lead.save()
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="opportunity.stage",
        obj=opp,
        before=before,
        after={"lead": lead.pk, "stage": stage.key, "lost_reason": lost_reason},
        now=now,
    )
    emit(
        tenant=tenant,
        type=LEAD_STAGE_CHANGED,
        payload={
            "lead_id": lead.pk,
            "opportunity_id": opp.pk,
            "from_stage": before["stage"] if before else None,
            "to_stage": stage.key,
            "stage_kind": stage.kind,
            "lost_reason": lost_reason if stage.kind == Stage.Kind.LOST else None,
        },
        actor=actor.user_id,
        now=now,
    )
    return opp
