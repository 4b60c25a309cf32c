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
    return forms.CharField(**common)


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
        self.definitions = definitions
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
        data["custom_fields"] = {d.key: c.get(f"cf_{d.key}") for d in self.definitions}
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
            initial[f"cf_{key}"] = value
        return initial
