"""Mail templates, one directory per language (``templates/<lang>/<name>.txt.j2``).

A template's first line is ``Subject: ...``, then a blank line, then the body. Templates
are files of this package (trusted); everything that comes from users or the inventory is
passed as *data* (variables), never as template source, and plain-text output needs no
escaping. ``local`` formats an aware datetime in the template's time zone, ``duration``
a number of seconds, both in the template's language.
"""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

import jinja2

from oemhost.errors import OemhostError

LANGUAGES = ("ja", "en")


def _duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "-"
    minutes = max(0, int(round(seconds / 60)))
    d, rem = divmod(minutes, 1440)
    h, m = divmod(rem, 60)
    if lang == "ja":
        parts = [f"{d}日" if d else "", f"{h}時間" if h else "", f"{m}分" if m or not (d or h)
                 else ""]
        return "".join(parts)
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{m} min" if m or not (d or h)
             else ""]
    return " ".join(p for p in parts if p)


@functools.cache
def _env(lang: str, tz: str) -> jinja2.Environment:
    # plain-text mail: HTML escaping would garble it; values are data, never template source
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("oemhost.notify", f"templates/{lang}"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False)  # noqa: S701
    zone = ZoneInfo(tz)

    def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
        if value is None:
            return "-"
        return value.astimezone(zone).strftime(fmt)

    env.filters["local"] = local
    env.filters["duration"] = lambda s: _duration(s, lang)
    return env


def render(name: str, lang: str, *, tz: str = "Asia/Tokyo", **context) -> tuple[str, str]:
    """(subject, body) of template ``name`` in ``lang`` (falls back to Japanese)."""
    if lang not in LANGUAGES:
        lang = "ja"
    try:
        text = _env(lang, tz).get_template(f"{name}.txt.j2").render(**context)
    except jinja2.TemplateNotFound:
        raise OemhostError(f"no mail template {name!r} in {lang}") from None
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise OemhostError(f"mail template {lang}/{name} must start with 'Subject:'")
    return " ".join(first.removeprefix("Subject:").split()), body.lstrip("\n")
