"""The review queue page: possible duplicates side by side with the score explained per field; decisions one
by one or in bulk, keyboard first (j/k move, x select, m/n/c decide)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from leadsea.core.errors import DomainError
from leadsea.intake.models import ReviewItem
from leadsea.intake.review import can_review, review_comparison, review_item_get, review_queue
from leadsea.intake.services import review_decide
from leadsea.web.decorators import tenant_required

PAGE_SIZE = 50
DECISIONS = ("merge", "not_duplicate", "create")


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "intake/review_forbidden.html", status=403)


@tenant_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    tenant, membership = request.tenant, request.membership  # type: ignore[attr-defined]
    if not can_review(membership):
        return _forbidden(request)
    status = request.GET.get("status", "open")
    if status not in ReviewItem.Status.values:
        status = "open"
    qs = review_queue(tenant=tenant, membership=membership, status=status)
    total = qs.count()
    items = list(qs[:PAGE_SIZE])
    at = request.GET.get("at", "")
    current = next((i for i in items if str(i.pk) == at), items[0] if items else None)
    rows: list[dict[str, Any]] = [
        {
            "item": item,
            "fields": review_comparison(item),
            "current": item is current,
            "next_id": items[n + 1].pk if n + 1 < len(items) else "",
        }
        for n, item in enumerate(items)
    ]
    return render(
        request,
        "intake/review.html",
        {
            "rows": rows,
            "total": total,
            "status": status,
            "statuses": ReviewItem.Status.choices,
            "current": current,
        },
    )


@tenant_required
@require_POST
def decide(request: HttpRequest) -> HttpResponse:
    """Decide one item or several (bulk): `ids` repeated, `decision` merge|not_duplicate|create."""
    tenant, membership = request.tenant, request.membership  # type: ignore[attr-defined]
    if not can_review(membership):
        return _forbidden(request)
    decision = request.POST.get("decision", "")
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    back = reverse("intake:review")
    if decision not in DECISIONS or not ids:
        messages.error(request, _("Choose at least one item and a decision."))
        return redirect(back)
    done, failed = 0, []
    for item_id in ids:
        try:
            item = review_item_get(tenant=tenant, membership=membership, item_id=item_id)
            review_decide(tenant=tenant, item=item, decision=decision, actor=membership)
        except DomainError as exc:
            failed.append(f"#{item_id}: {exc.message}")
        else:
            done += 1
    if done:
        messages.success(request, _("%(n)d item(s) decided.") % {"n": done})
    for failure in failed[:10]:
        messages.error(request, failure)
    # Stay where the reviewer was: the next open item after the last decided one.
    nxt = request.POST.get("next_at", "")
    return redirect(f"{back}?at={nxt}" if nxt.isdigit() else back)
