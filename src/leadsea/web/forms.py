"""Workbench forms: login, and the lead form with custom fields rendered from their definitions."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from leadsea.leads.models import Lead
from leadsea.metadata.models import FieldDefinition

T = FieldDefinition.Type


class LoginForm(forms.Form):
    tenant = forms.SlugField(label=_("Tenant"), max_length=50)
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)


def custom_form_field(defn: FieldDefinition, language: str | None) -> forms.Field:
    common: dict[str, Any] = {"label": defn.label(language), "required": False, "help_text": defn.help_text}
    if defn.field_type in (T.CHOICE, T.MULTI_CHOICE):
        key = "label_en" if (language or "").startswith("en") else "label_zh"
        choices = [(str(c["value"]), c.get(key) or c.get("label_zh") or c["value"]) for c in defn.choices]
        if defn.field_type == T.CHOICE:
            return forms.ChoiceField(choices=[("", "—"), *choices], **common)
        return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, **common)
    if defn.field_type == T.BOOLEAN:
        return forms.NullBooleanField(**common)
    if defn.field_type == T.DATE:
        return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if defn.field_type in (T.NUMBER, T.DECIMAL):
        return forms.CharField(widget=forms.NumberInput(attrs={"step": "any"}), **common)
    if defn.field_type == T.LONG_TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if defn.field_type == T.DATETIME:
        return forms.CharField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), **common)
    if defn.field_type == T.MONEY:
        common["help_text"] = defn.help_text or _(
            "Amount, optionally followed by a currency: 12.50 or 12.50 USD"
        )
    if defn.field_type == T.GEO_POINT:
        common["help_text"] = defn.help_text or _("lat,lng (WGS-84)")
    if defn.field_type == T.REFERENCE:
        return forms.CharField(widget=forms.NumberInput(attrs={"min": 1}), **common)
    if defn.field_type == T.FILE:
        return forms.FileField(**common)
    return forms.CharField(**common)


def custom_form_value(defn: FieldDefinition, raw: Any) -> Any:
    """A form field's text as the service takes it (money "12.50 USD", geo "lat,lng")."""
    if not isinstance(raw, str) or not raw.strip():
        return raw
    text = raw.strip()
    if defn.field_type == T.MONEY:
        parts = text.replace("，", " ").split()
        return {"amount": parts[0], "currency": parts[1]} if len(parts) == 2 else text
    if defn.field_type == T.GEO_POINT:
        parts = [p.strip() for p in re.split(r"[,，\s]+", text) if p.strip()]
        return {"lat": parts[0], "lng": parts[1]} if len(parts) == 2 else text
    return text


def custom_form_initial(value: Any) -> Any:
    """A stored value as a form field shows it."""
    if isinstance(value, dict) and "amount" in value:
        return f"{value['amount']} {value.get('currency', '')}".strip()
    if isinstance(value, dict) and "lat" in value:
        return f"{value['lat']},{value['lng']}"
    if isinstance(value, str) and len(value) == 20 and value.endswith("Z") and value[10] == "T":
        from datetime import datetime

        from django.utils import timezone

        try:
            return timezone.localtime(datetime.fromisoformat(value.replace("Z", "+00:00"))).strftime(
                "%Y-%m-%dT%H:%M"
            )
        except ValueError:
            return value
    return value


class LeadForm(forms.Form):
    """Parses the page's input; the service validates it, and its errors come back onto the fields."""

    name = forms.CharField(label=_("Name"), max_length=200)
    branch_name = forms.CharField(label=_("Branch"), max_length=100, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=Lead.Kind.choices, initial=Lead.Kind.POI)
    category = forms.CharField(label=_("Category"), max_length=100, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=Lead.Status.choices, initial=Lead.Status.NEW)
    phones = forms.CharField(
        label=_("Phones"),
        max_length=200,
        required=False,
        help_text=_("The first is the primary; separate several with commas"),
    )
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    province = forms.CharField(label=_("Province"), max_length=50, required=False)
    city = forms.CharField(label=_("City"), max_length=50, required=False)
    district = forms.CharField(label=_("District"), max_length=50, required=False)
    lat = forms.CharField(label=_("Latitude (WGS-84)"), required=False)
    lng = forms.CharField(label=_("Longitude (WGS-84)"), required=False)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas"))

    def __init__(self, *args: Any, definitions: list[FieldDefinition], language: str | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # File fields are uploaded on record pages and through the API, not on the lead form.
        self.definitions = definitions = [d for d in definitions if d.field_type != T.FILE]
        for defn in definitions:
            self.fields[f"cf_{defn.key}"] = custom_form_field(defn, language)

    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[f"cf_{d.key}"] for d in self.definitions]

    def base_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith("cf_")]

    def to_service_data(self) -> dict[str, Any]:
        c = self.cleaned_data
        data: dict[str, Any] = {
            k: c[k]
            for k in (
                "name",
                "branch_name",
                "kind",
                "category",
                "status",
                "address",
                "province",
                "city",
                "district",
            )
        }
        data["phones"] = [p.strip() for p in re.split(r"[,，;；\n]", c["phones"]) if p.strip()]
        data["lat"] = c["lat"] or None
        data["lng"] = c["lng"] or None
        data["tags"] = [t.strip() for t in c["tags"].replace("，", ",").split(",") if t.strip()]
        data["custom_fields"] = {d.key: custom_form_value(d, c.get(f"cf_{d.key}")) for d in self.definitions}
        return data

    @classmethod
    def initial_for(cls, lead: Lead, tags: list[str]) -> dict[str, Any]:
        initial: dict[str, Any] = {
            k: getattr(lead, k)
            for k in (
                "name",
                "branch_name",
                "kind",
                "category",
                "status",
                "address",
                "province",
                "city",
                "district",
                "lat",
                "lng",
            )
        }
        initial["phones"] = ", ".join(lead.phones)
        initial["tags"] = ", ".join(tags)
        for key, value in lead.custom_data.items():
            initial[f"cf_{key}"] = custom_form_initial(value)
        return initial
