"""The REST API root (/api/v1): bearer-token auth and the one mapping of errors to HTTP and JSON."""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer

from leadsea.core.errors import DomainError, Forbidden
from leadsea.onboarding.middleware import api_module_guard
from leadsea.tenancy.services import token_authenticate

log = logging.getLogger(__name__)


class Utf8JSONRenderer(JSONRenderer):
    """Chinese stays readable in responses: UTF-8, not \\u escapes."""

    json_dumps_params = {"ensure_ascii": False}


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        auth = token_authenticate(token)
        if auth is None:
            return None
        membership = auth.membership
        if membership.role == "crowd":  # crowdsourcers only submit stores on the web page, never the API
            raise Forbidden(code="role_forbidden")
        request.tenant = membership.tenant  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        request.api_token = auth  # type: ignore[attr-defined]
        api_module_guard(request)  # a route of a module the tenant turned off is not found
        return membership


api = NinjaAPI(
    title="leadsea API",
    version="1",
    description="leadsea REST API. Authenticate with POST /api/v1/auth/token, then send "
    '`Authorization: Bearer <token>`. Errors are `{"error": {"code", "message", "field"}}`.',
    auth=BearerToken(),
    renderer=Utf8JSONRenderer(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, field: str | None = None
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, "field": field}}, status=status
    )


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, str(exc.message), exc.field)


def _field_of(loc: list[Any] | tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload", "data", "form", "header")]
    return ".".join(parts) or None


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    field = _field_of(first.get("loc", ()))
    message = first.get("msg", "Invalid input.")
    if first.get("type") in ("json_invalid", "model_attributes_type") and not field:
        return error_response(request, 400, "malformed", "The request body must be a JSON object.")
    return error_response(request, 422, "invalid", f"{field}: {message}" if field else message, field)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request, 401, "unauthenticated", "Authentication required: send a valid bearer token."
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {
        400: "malformed",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
    }.get(exc.status_code, "error")
    return error_response(request, exc.status_code, code, str(exc.message))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", "Not found.")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unhandled error in API request %s", request.path)
    return error_response(request, 500, "internal_error", "An internal error occurred; it has been logged.")


from leadsea.events.api import router as events_router  # noqa: E402
from leadsea.intake.api import router as intake_router  # noqa: E402
from leadsea.leads.api import router as leads_router  # noqa: E402
from leadsea.metadata.api import meta_router, objects_router  # noqa: E402
from leadsea.onboarding.api import router as onboarding_router  # noqa: E402
from leadsea.onboarding.api import settings_router  # noqa: E402
from leadsea.pools.api import router as pools_router  # noqa: E402
from leadsea.tenancy.api import router as auth_router  # noqa: E402
from leadsea.visits.api import router as visits_router  # noqa: E402

api.add_router("/", auth_router)
api.add_router("/leads", leads_router)
api.add_router("/", pools_router)
api.add_router("/", visits_router)
api.add_router("/intake", intake_router)
api.add_router("/meta", meta_router)
api.add_router("/objects", objects_router)
api.add_router("/", events_router)
api.add_router("/onboarding", onboarding_router)
api.add_router("/settings", settings_router)
