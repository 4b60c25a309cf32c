"""Showing a custom field value on a page: money with its currency, datetimes in the tenant's time zone,
references and files as links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from leadsea.metadata.models import LEAD, FieldDefinition

register = template.Library()
T = FieldDefinition.Type


@register.simple_tag
def cf_value(defn: FieldDefinition | None, value: Any) -> SafeString | str:
    if value is None or value == "":
        return "—"
    ft = defn.field_type if defn is not None else None
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if ft == T.MONEY and isinstance(value, dict):
        return f"{value.get('amount')} {value.get('currency', '')}"
    if ft == T.DATETIME and isinstance(value, str):
        try:
            return timezone.localtime(datetime.fromisoformat(value.replace("Z", "+00:00"))).strftime(
                "%Y-%m-%d %H:%M"
            )
        except ValueError:
            return value
    if ft == T.GEO_POINT and isinstance(value, dict):
        return f"{value.get('lat')}, {value.get('lng')}"
    if ft == T.FILE and isinstance(value, dict):
        return format_html(
            '<a href="{}">{}</a>', reverse("metadata:file", args=[value.get("id")]), value.get("name")
        )
    if ft == T.REFERENCE and defn is not None:
        if defn.target == LEAD:
            return format_html('<a href="{}">#{}</a>', reverse("web:lead_detail", args=[value]), value)
        return format_html(
            '<a href="{}">#{}</a>', reverse("metadata:record_detail", args=[defn.target, value]), value
        )
    if isinstance(value, list):
        return format_html_join(" ", '<span class="tag">{}</span>', ((v,) for v in value))
    if ft == T.URL:
        return format_html('<a href="{}" rel="noopener">{}</a>', value, value)
    return str(value)
