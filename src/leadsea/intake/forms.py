"""Forms of the submission pages: the public /join/ form (with its spam guards) and the crowdsourcing form."""

from __future__ import annotations

import time
from typing import Any

from django import forms
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadsea.core.errors import FieldInvalid
from leadsea.leads.normalize import normalize_phone

# A person needs a few seconds to fill the form; a bot posts at once. A form older than the max is stale.
JOIN_MIN_SECONDS = float(getattr(settings, "LEADSEA_JOIN_MIN_SECONDS", 3))
JOIN_MAX_SECONDS = float(getattr(settings, "LEADSEA_JOIN_MAX_SECONDS", 2 * 3600))
_TOKEN_SALT = "leadsea.intake.join"
HONEYPOT = "website"  # hidden from people by CSS; bots fill every field


def form_token(*, tenant_slug: str, issued_at: float | None = None) -> str:
    """A signed token with the time the form was served, bound to the tenant."""
    at = time.time() if issued_at is None else issued_at
    return signing.dumps({"t": tenant_slug, "at": at}, salt=_TOKEN_SALT, compress=True)


def form_token_check(token: str, *, tenant_slug: str, now: float | None = None) -> None:
    """Raise FieldInvalid (code `form_expired`, `form_too_fast` or `form_token_invalid`) on a bad token."""
    now = time.time() if now is None else now
    try:
        data = signing.loads(token or "", salt=_TOKEN_SALT)
    except signing.BadSignature:
        raise FieldInvalid(
            _("The form could not be verified; please reload the page."), code="form_token_invalid"
        )
    if (
        not isinstance(data, dict)
        or data.get("t") != tenant_slug
        or not isinstance(data.get("at"), float | int)
    ):
        raise FieldInvalid(
            _("The form could not be verified; please reload the page."), code="form_token_invalid"
        )
    age = now - float(data["at"])
    if age < JOIN_MIN_SECONDS:
        raise FieldInvalid(
            _("That was too fast; please check the form and send it again."), code="form_too_fast"
        )
    if age > JOIN_MAX_SECONDS:
        raise FieldInvalid(_("The form has expired; please send it again."), code="form_expired")


class StoreForm(forms.Form):
    """What a merchant or a crowdsourcer tells us about a store."""

    name = forms.CharField(max_length=200, label=gettext_lazy("Store name"))
    contact_name = forms.CharField(max_length=100, required=False, label=gettext_lazy("Contact person"))
    phone = forms.CharField(max_length=40, label=gettext_lazy("Phone"))
    category = forms.CharField(max_length=100, required=False, label=gettext_lazy("Category"))
    address = forms.CharField(max_length=300, label=gettext_lazy("Address"))
    city = forms.CharField(max_length=50, required=False, label=gettext_lazy("City"))
    lat = forms.FloatField(
        required=False, min_value=-90, max_value=90, label=gettext_lazy("Latitude"), widget=forms.TextInput
    )
    lng = forms.FloatField(
        required=False, min_value=-180, max_value=180, label=gettext_lazy("Longitude"), widget=forms.TextInput
    )
    note = forms.CharField(
        max_length=500,
        required=False,
        label=gettext_lazy("Anything else"),
        widget=forms.Textarea({"rows": 3}),
    )

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except FieldInvalid as exc:
            raise ValidationError(str(exc.message), code=exc.code)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("lat") is None) != (data.get("lng") is None) and not self.errors.get("lat"):
            self.add_error("lng", _("Latitude and longitude go together."))
        return data

    def to_record(self, *, external_id: str) -> dict[str, Any]:
        """The intake record of this submission (intake_submit's record dict)."""
        d = self.cleaned_data
        record: dict[str, Any] = {
            "external_id": external_id,
            "name": d["name"],
            "phone": d["phone"],
            "address": d["address"],
            "city": d.get("city") or "",
            "category": d.get("category") or "",
            "contact_name": d.get("contact_name") or "",
            "note": d.get("note") or "",
        }
        if d.get("lat") is not None and d.get("lng") is not None:
            record.update(lat=d["lat"], lng=d["lng"], coord_sys="wgs84")
        return record


class JoinForm(StoreForm):
    """The public form: a honeypot field and the signed time token on top of the store fields."""

    website = forms.CharField(required=False, label=gettext_lazy("Leave this empty"))
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, tenant_slug: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.tenant_slug = tenant_slug

    def is_spam(self) -> bool:
        return bool((self.data.get(HONEYPOT) or "").strip())

    def clean_token(self) -> str:
        token = self.cleaned_data.get("token") or ""
        try:
            form_token_check(token, tenant_slug=self.tenant_slug)
        except FieldInvalid as exc:
            raise ValidationError(str(exc.message), code=exc.code)
        return token
