"""Forms of the onboarding wizard (tenant, org tree, users, template) and of the modules settings page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from leadsea.onboarding.templates import TEMPLATES

ORG_EXAMPLE = "path,kind\n华北,region\n华北/北京,city\n华北/北京/朝阳一组,team"
USERS_EXAMPLE = (
    "username,name,role,org,password\nzhang.san,张三,manager,华北/北京,\nli.si,李四,bd,华北/北京/朝阳一组,"
)


def _upload_text(upload: Any) -> str:
    raw = upload.read()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return str(raw.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise forms.ValidationError(_("The file is neither UTF-8 nor GB18030 text."))


class TenantStepForm(forms.Form):
    """Step 1: the tenant, its org tree and users, and the template."""

    slug = forms.SlugField(label=_("Slug (used to log in)"), max_length=50)
    name = forms.CharField(label=_("Name of the business line"), max_length=200)
    language = forms.ChoiceField(label=_("Default language"), choices=settings.LANGUAGES)
    time_zone = forms.CharField(label=_("Time zone"), max_length=64, initial="Asia/Shanghai")
    template = forms.ChoiceField(label=_("Template"), widget=forms.RadioSelect, initial="blank")
    org_csv = forms.CharField(
        label=_("Org tree (CSV: path,name,kind,parent)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": ORG_EXAMPLE}),
    )
    org_file = forms.FileField(label=_("…or upload the org tree CSV"), required=False)
    users_csv = forms.CharField(
        label=_("More users (CSV: username,name,role,org,password)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": USERS_EXAMPLE}),
        help_text=_("Users without a password get one made up, shown once when the tenant is created."),
    )
    users_file = forms.FileField(label=_("…or upload the users CSV"), required=False)

    def __init__(self, *args: Any, language: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        english = (language or "").startswith("en")
        self.fields["template"].choices = [  # type: ignore[attr-defined]
            (key, t["label_en"] if english else t["label_zh"]) for key, t in TEMPLATES.items()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for text, upload in (("org_csv", "org_file"), ("users_csv", "users_file")):
            if data.get(upload):
                data[text] = _upload_text(data[upload])
        return data

    def spec(self) -> dict[str, Any]:
        data = self.cleaned_data
        spec = {k: data[k] for k in ("slug", "name", "language", "time_zone", "template")}
        for key in ("org_csv", "users_csv"):
            if (data.get(key) or "").strip():
                spec[key] = data[key]
        return spec


class AdminStepForm(forms.Form):
    """Step 2: the first administrator (the template's content is adjusted beside it)."""

    admin_username = forms.CharField(label=_("Administrator's username"), max_length=150)
    admin_password = forms.CharField(
        label=_("Administrator's password"),
        required=False,
        widget=forms.PasswordInput(render_value=True),
        help_text=_("Leave empty when the person has a leadsea account already."),
    )
    admin_name = forms.CharField(label=_("Administrator's name"), max_length=100, required=False)


def _lines(text: str) -> list[tuple[int, list[str]]]:
    return [
        (n, [p.strip() for p in line.split("|")])
        for n, line in enumerate((text or "").splitlines(), start=1)
        if line.strip()
    ]


def stages_from_text(text: str) -> list[dict[str, Any]]:
    """One stage a line: key | 中文名 | English name | open/won/lost | probability."""
    stages = []
    for _n, parts in _lines(text):
        parts += [""] * (5 - len(parts))
        try:
            probability = int(parts[4] or 0)
        except ValueError:
            probability = -1  # the service names the line's stage as invalid
        stages.append(
            {
                "key": parts[0],
                "name_zh": parts[1],
                "name_en": parts[2],
                "kind": parts[3] or "open",
                "probability": probability,
            }
        )
    return stages


def stages_to_text(stages: list[dict[str, Any]]) -> str:
    return "\n".join(
        " | ".join(
            [
                s["key"],
                s["name_zh"],
                s.get("name_en", ""),
                s.get("kind", "open"),
                str(s.get("probability", 0)),
            ]
        )
        for s in stages
    )


def reasons_from_text(text: str) -> list[dict[str, Any]]:
    """One lost reason a line: key | 中文 | English."""
    reasons = []
    for _n, parts in _lines(text):
        parts += [""] * (3 - len(parts))
        reasons.append({"key": parts[0], "label_zh": parts[1], "label_en": parts[2]})
    return reasons


def reasons_to_text(reasons: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r['key']} | {r['label_zh']} | {r.get('label_en', '')}" for r in reasons)
