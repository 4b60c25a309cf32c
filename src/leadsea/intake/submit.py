"""How every intake channel submits records: the pipeline, then the tenant's tag rules on the leads it
created or changed, in one transaction (a rollback takes the tags with the leads; no committed lead lacks
them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction

from leadsea.intake.models import IntakeSource
from leadsea.intake.services import IntakeResult, intake_submit
from leadsea.tagging.services import TagsApplied, tags_apply
from leadsea.tenancy.models import Membership, Tenant


def intake_results_tag(*, tenant: Tenant, results: Iterable[IntakeResult]) -> TagsApplied:
    """Evaluate the tag rules on the leads these results created, merged into or updated. A replayed record
    (`duplicate`) changed nothing; a record in review or in error made no lead (its decision tags it)."""
    lead_ids = {r.lead_id for r in results if r.lead_id is not None and not r.duplicate}
    if not lead_ids:
        return TagsApplied()
    return tags_apply(tenant=tenant, leads=lead_ids)


def intake_submit_tagged(
    *,
    tenant: Tenant,
    source: IntakeSource,
    records: list[dict[str, Any]],
    actor: Membership | None = None,
    now: datetime | None = None,
    batch: Any = None,
    lines: Sequence[int] | None = None,
) -> list[IntakeResult]:
    """`intake_submit`, then `intake_results_tag`, as one transaction (nested in the caller's, if any)."""
    with transaction.atomic():
        results = intake_submit(
            tenant=tenant, source=source, records=records, actor=actor, now=now, batch=batch, lines=lines
        )
        intake_results_tag(tenant=tenant, results=results)
    return results
