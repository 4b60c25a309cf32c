"""Typed domain errors with stable codes; the API maps them once to HTTP status and JSON."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every business error. `code` is stable and documented; `field` names the input at fault."""

    status = 400
    code = "bad_request"
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None, field: str | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.field = field
        super().__init__(self.message)

    def as_dict(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": str(self.message), "field": self.field}}


class Malformed(DomainError):
    status = 400
    code = "malformed"
    default_message = "The request is malformed."


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    default_message = "Authentication failed."


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class FieldInvalid(DomainError):
    status = 422
    code = "invalid"
    default_message = "A field is invalid."
