"""Every text of the panels has its Japanese translation."""

from __future__ import annotations

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from oemhost.config import PROJECT_DIR

WEBUI = PROJECT_DIR / "webui"


def test_every_string_is_translated_to_japanese():
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    used = {msg[2] if isinstance(msg[2], str) else msg[2][0]
            for msg in extract_from_dir(str(WEBUI), method_map, keywords=keywords)}
    with (WEBUI / "translations/ja/LC_MESSAGES/messages.po").open("rb") as fh:
        ja = {m.id: m.string for m in read_po(fh) if m.id}
    assert len(used) > 300  # the extraction found the panels' texts
    missing = sorted(s for s in used if not ja.get(s))
    assert not missing, f"{len(missing)} untranslated (pybabel extract/update, docs/PANELS.md): " \
                        f"{missing[:10]}"
