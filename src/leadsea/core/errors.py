"""Typed domain errors with stable codes; the API maps them once to HTTP status and JSON.

Messages are for people: raise sites pass `gettext(...)` text in the request's language, and the default
messages below are lazy so that they render in the language active when the error is raised."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy


class DomainError(Exception):
    """Base of every business error. `code` is stable and documented; `field` names the input at fault."""

    status = 400
    code = "bad_request"
    default_message: str | Promise = gettext_lazy("The request could not be processed.")

    def __init__(self, message: str | None = None, *, code: str | None = None, field: str | None = None):
        self.message: str = str(message or self.default_message)
        if code:
            self.code = code
        self.field = field
        super().__init__(self.message)

    def as_dict(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": str(self.message), "field": self.field}}


class Malformed(DomainError):
    status = 400
    code = "malformed"
    default_message = gettext_lazy("The request is malformed.")


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    default_message = gettext_lazy("Authentication failed.")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = gettext_lazy("You are not allowed to do this.")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = gettext_lazy("Not found.")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = gettext_lazy("The request conflicts with the current state.")


class FieldInvalid(DomainError):
    status = 422
    code = "invalid"
    default_message = gettext_lazy("A field is invalid.")
