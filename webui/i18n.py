"""Languages: Japanese and English (Flask-Babel).

The language of a page is, in order: the one the user picked (``?lang=``, kept in the
session), the user's own setting, the reseller's ``locale`` for its panels and its end
users' panels, the browser's Accept-Language, English.

Catalogs live in ``webui/translations/<lang>/LC_MESSAGES/messages.po``; the compiled
``.mo`` files are build products (``make venv`` / the tests compile them with Babel, see
:func:`compile_catalogs`), never committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask, request, session

LANGUAGES = ("ja", "en")
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def select_locale() -> str:
    from flask_login import current_user

    from webui.context import current_brand

    picked = session.get("lang")
    if picked in LANGUAGES:
        return picked
    if current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    try:
        brand = current_brand()
    except Exception:  # noqa: BLE001 - no inventory yet: fall back to the browser
        brand = None
    if brand is not None and brand.locale in LANGUAGES:
        return brand.locale
    return request.accept_languages.best_match(LANGUAGES) or "en"


def init_app(app: Flask) -> None:
    @app.before_request
    def _pick_language():
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            session["lang"] = lang

    @app.context_processor
    def _languages():
        from flask_babel import get_locale

        return {"languages": LANGUAGES, "current_language": str(get_locale() or "en")}


def compile_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``messages.po`` whose ``.mo`` is missing or older (Babel's API, the
    same as ``pybabel compile``). Returns the files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        errors = list(catalog.check())
        if errors:
            raise SystemExit(f"{po}: {errors[0]}")
        tmp = mo.with_suffix(".mo.tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        tmp.replace(mo)
        written.append(mo)
    return written


if __name__ == "__main__":  # python -m webui.i18n
    for path in compile_catalogs():
        print(f"compiled {path}", file=sys.stderr)
