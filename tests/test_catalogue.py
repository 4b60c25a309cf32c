"""Chinese is a first-class language: every message of the zh-Hans catalogue is translated (none left empty
or fuzzy), its placeholders match the English, and the compiled catalogue is the one the .po gives."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import polib
import pytest

import leadsea

CATALOGUES = [
    Path(leadsea.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po",
    *(Path(__file__).parent.parent / "plugins").glob("*/*/locale/zh_Hans/LC_MESSAGES/django.po"),
]
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parts[-5])
def test_every_message_is_translated_with_its_placeholders(path: Path) -> None:
    po = polib.pofile(str(path))
    entries = [e for e in po if not e.obsolete]
    assert entries
    untranslated = [e.msgid for e in entries if not e.translated()]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert not untranslated, f"untranslated in {path}: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy in {path}: {fuzzy[:10]}"
    for e in entries:
        want = {m.group(0) for m in _PLACEHOLDER.finditer(e.msgid)}
        forms = e.msgstr_plural.values() if e.msgid_plural else [e.msgstr]
        for form in forms:
            got = {m.group(0) for m in _PLACEHOLDER.finditer(form)}
            assert got == want, (
                f"{e.msgid!r}: placeholders {sorted(got)} in the translation, {sorted(want)} in English"
            )


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs msgfmt (gettext) to compile the catalogue")
@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parts[-5])
def test_the_compiled_catalogue_is_up_to_date(path: Path, tmp_path: Path) -> None:
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(path)], check=True, capture_output=True)
    want = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(compiled))}
    got = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(path.with_suffix(".mo")))}
    assert set(got) == set(want), "django.mo is stale: run make messages"
    stale = [
        k for k in want if (got[k].msgstr, got[k].msgstr_plural) != (want[k].msgstr, want[k].msgstr_plural)
    ]
    assert not stale, f"django.mo is stale ({stale[:5]}): run make messages"
