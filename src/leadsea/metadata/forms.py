"""Forms of the metadata pages: a custom record form built from the object's field definitions, and the
field and object forms of the meta admin page."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from leadsea.metadata.models import FieldDefinition, ObjectType
from leadsea.web.forms import custom_form_field, custom_form_initial, custom_form_value

T = FieldDefinition.Type


class RecordForm(forms.Form):
    """Parses the page's input; the service validates it, and its errors come back onto the fields."""

    def __init__(self, *args: Any, definitions: list[FieldDefinition], language: str | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.definitions = definitions
        for defn in definitions:
            self.fields[f"cf_{defn.key}"] = custom_form_field(defn, language)

    def to_service_data(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(values, uploads): uploads are the files of file fields, stored before the record is saved."""
        values: dict[str, Any] = {}
        uploads: dict[str, Any] = {}
        for d in self.definitions:
            raw = self.cleaned_data.get(f"cf_{d.key}")
            if d.field_type == T.FILE:
                if raw:
                    uploads[d.key] = raw
                continue
            values[d.key] = custom_form_value(d, raw)
        return values, uploads

    @staticmethod
    def initial_for(data: dict[str, Any]) -> dict[str, Any]:
        return {
            f"cf_{k}": custom_form_initial(v)
            for k, v in data.items()
            if not isinstance(v, dict) or "id" not in v
        }


class ObjectForm(forms.Form):
    key = forms.SlugField(label=_("Key"), max_length=40)
    label_zh = forms.CharField(label=_("Label (Chinese)"), max_length=100)
    label_en = forms.CharField(label=_("Label (English)"), max_length=100, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=ObjectType.Kind.choices, initial=ObjectType.Kind.CUSTOM)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)


class FieldForm(forms.Form):
    key = forms.SlugField(label=_("Key"), max_length=50)
    label_zh = forms.CharField(label=_("Label (Chinese)"), max_length=100)
    label_en = forms.CharField(label=_("Label (English)"), max_length=100, required=False)
    field_type = forms.ChoiceField(label=_("Type"), choices=T.choices)
    target = forms.CharField(
        label=_("Reference target"), max_length=40, required=False, help_text=_("lead or an object key")
    )
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: value|中文|English"),
    )
    required = forms.BooleanField(label=_("Required"), required=False)
    unique = forms.BooleanField(label=_("Unique"), required=False)
    searchable = forms.BooleanField(label=_("Searchable (contains)"), required=False)
    filterable = forms.BooleanField(label=_("Filterable"), required=False, initial=True)
    min_value = forms.FloatField(label=_("Minimum"), required=False)
    max_value = forms.FloatField(label=_("Maximum"), required=False)
    max_length = forms.IntegerField(label=_("Maximum length"), required=False, min_value=1)
    regex = forms.CharField(label=_("Pattern (regular expression)"), max_length=200, required=False)
    default = forms.CharField(
        label=_("Default (JSON)"), required=False, help_text=_('For example 0, "A" or true')
    )
    help_text = forms.CharField(label=_("Help text"), max_length=300, required=False)
    position = forms.IntegerField(label=_("Position"), required=False, min_value=0, initial=0)

    def clean_choices(self) -> list[dict[str, str]]:
        out = []
        for line in (self.cleaned_data.get("choices") or "").splitlines():
            parts = [p.strip() for p in line.split("|")]
            if parts and parts[0]:
                out.append(
                    {
                        "value": parts[0],
                        "label_zh": parts[1] if len(parts) > 1 else parts[0],
                        "label_en": parts[2] if len(parts) > 2 else "",
                    }
                )
        return out

    def clean_default(self) -> Any:
        raw = (self.cleaned_data.get("default") or "").strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def to_service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["position"] = data.get("position") or 0
        return data

    @staticmethod
    def initial_for(d: FieldDefinition) -> dict[str, Any]:
        initial = {
            a: getattr(d, a)
            for a in (
                "key",
                "label_zh",
                "label_en",
                "field_type",
                "target",
                "required",
                "unique",
                "searchable",
                "filterable",
                "min_value",
                "max_value",
                "max_length",
                "regex",
                "help_text",
                "position",
            )
        }
        initial["choices"] = "\n".join(
            "|".join([str(c.get("value", "")), c.get("label_zh") or "", c.get("label_en") or ""])
            for c in d.choices
        )
        initial["default"] = "" if d.default is None else json.dumps(d.default, ensure_ascii=False)
        return initial
