"""Visit photos, served only to people who may see the store (never as public media URLs)."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse

from leadsea.core.errors import DomainError
from leadsea.visits.selectors import visit_photo_file
from leadsea.web.decorators import tenant_required


@tenant_required
def visit_photo(request: HttpRequest, visit_id: int) -> HttpResponse:
    scoped: Any = request  # TenantMiddleware set tenant and membership
    try:
        handle, content_type = visit_photo_file(
            tenant=scoped.tenant, membership=scoped.membership, visit_id=visit_id
        )
    except DomainError:
        raise Http404
    response: Any = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
