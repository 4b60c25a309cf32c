"""Input parsing of the mobile pages: a position for nearby, and the check-in form. Types only; the rules
(radius limits, verification, photo checks) stay in the selectors and services."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from leadsea.visits.models import Contact, Visit

COORD_SYSTEMS = [
    ("wgs84", _("GPS (WGS-84)")),
    ("gcj02", _("Amap / Tencent (GCJ-02)")),
    ("bd09", _("Baidu (BD-09)")),
]
SEAS = [("all", _("All")), ("public", _("Public sea")), ("private", _("Mine"))]
RADII = [500, 1000, 3000, 5000, 10000]
NEW_CONTACT = "new"
NEXT_VISIT_HOUR = 9  # a planned visit on a date is due at 09:00 local time


class PositionForm(forms.Form):
    """?lat=&lng=&radius_m=&sea=&coord_sys= of the nearby list and the map."""

    lat = forms.FloatField(min_value=-90, max_value=90)
    lng = forms.FloatField(min_value=-180, max_value=180)
    radius_m = forms.FloatField(required=False, min_value=1, max_value=50_000)
    sea = forms.ChoiceField(choices=SEAS, required=False)
    coord_sys = forms.ChoiceField(choices=COORD_SYSTEMS, required=False)

    def query(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "lat": d["lat"],
            "lng": d["lng"],
            "radius_m": d.get("radius_m") or 1000,
            "sea": d.get("sea") or "all",
            "coord_sys": d.get("coord_sys") or "wgs84",
        }


class CheckinForm(forms.Form):
    lat = forms.FloatField(
        min_value=-90,
        max_value=90,
        error_messages={"required": _("No position yet: allow location access, or enter it by hand.")},
    )
    lng = forms.FloatField(
        min_value=-180,
        max_value=180,
        error_messages={"required": _("No position yet: allow location access, or enter it by hand.")},
    )
    accuracy_m = forms.FloatField(required=False, min_value=0)
    # Set to "gps" by the page when the browser's location fills the position; typed by hand otherwise.
    position_source = forms.ChoiceField(choices=[("gps", "gps"), ("manual", "manual")], required=False)
    coord_sys = forms.ChoiceField(choices=COORD_SYSTEMS, initial="wgs84", required=False)
    contact = forms.ChoiceField(required=False, label=_("Contact met"))
    new_name = forms.CharField(required=False, max_length=100, label=_("Name"))
    new_role = forms.CharField(required=False, max_length=50, label=_("Role"))
    new_phone = forms.CharField(required=False, max_length=40, label=_("Phone"))
    purpose = forms.ChoiceField(
        required=False, choices=Visit.Purpose.choices, initial=Visit.Purpose.FOLLOW_UP, label=_("Purpose")
    )
    outcome = forms.ChoiceField(required=False, label=_("Outcome"))
    notes = forms.CharField(required=False, max_length=5000, widget=forms.Textarea, label=_("Notes"))
    next_step = forms.CharField(required=False, max_length=300, label=_("Next step"))
    next_visit_date = forms.DateField(required=False, label=_("Next visit"))
    photo = forms.FileField(required=False, label=_("Photo"))

    def __init__(self, *args: Any, contacts: list[Contact], time_zone: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.time_zone = time_zone
        self.fields["contact"].choices = [  # type: ignore[attr-defined]
            ("", _("— nobody in particular —")),
            *[(str(c.pk), f"{c}{' · KP' if c.is_key_person else ''}") for c in contacts],
            (NEW_CONTACT, _("+ A new key person…")),
        ]
        self.fields["outcome"].choices = [("", "—"), *Visit.Outcome.choices]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("contact") == NEW_CONTACT and not (data.get("new_name") or "").strip():
            self.add_error("new_name", _("Name the new key person."))
        return data

    def next_visit_at(self) -> datetime | None:
        day = self.cleaned_data.get("next_visit_date")
        if day is None:
            return None
        return datetime.combine(day, time(NEXT_VISIT_HOUR), tzinfo=zoneinfo.ZoneInfo(self.time_zone))

    def new_contact(self) -> dict[str, Any] | None:
        d = self.cleaned_data
        if d.get("contact") != NEW_CONTACT:
            return None
        phone = (d.get("new_phone") or "").strip()
        return {
            "name": d.get("new_name") or "",
            "role": d.get("new_role") or "",
            "phones": [phone] if phone else [],
            "is_key_person": True,
        }

    def visit_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        contact = d.get("contact") or ""
        return {
            "lat": d["lat"],
            "lng": d["lng"],
            "coord_sys": d.get("coord_sys") or "wgs84",
            "accuracy_m": d.get("accuracy_m"),
            "position_source": d.get("position_source") or "manual",
            "contact_id": int(contact) if contact.isdigit() else None,
            "purpose": d.get("purpose") or Visit.Purpose.FOLLOW_UP,
            "outcome": d.get("outcome") or "",
            "notes": d.get("notes") or "",
            "next_step": d.get("next_step") or "",
            "next_visit_at": self.next_visit_at(),
            "photo": d.get("photo"),
        }

    # A service error names its argument; these are the form fields that show it.
    SERVICE_FIELDS = {
        "lat": "lat",
        "lng": "lng",
        "coord_sys": "coord_sys",
        "accuracy_m": "lat",
        "contact_id": "contact",
        "purpose": "purpose",
        "outcome": "outcome",
        "notes": "notes",
        "next_step": "next_step",
        "next_visit_at": "next_visit_date",
        "photo": "photo",
        "contact.name": "new_name",
        "contact.role": "new_role",
        "contact.phones": "new_phone",
        "contact": "contact",
    }

    def add_service_error(self, field: str | None, message: str) -> None:
        target = self.SERVICE_FIELDS.get(field or "")
        self.add_error(target if target in self.fields else None, message)
