"""The lab report: one self-contained HTML page per language (CSS, script and PNGs inline, no network request),
built from ``results.json``'s structure. ``write_report(out, results, "en")`` writes ``out/index.html`` in that
language and ``out/index.en.html``, ``out/index.zh.html``; each page links to its twin in the other language."""

from __future__ import annotations

import os
from typing import Any

from cvprimer.core.serialization import atomic_write
from cvprimer.lab.experiment import LANGS
from cvprimer.lab.report.html import render


def page_names(lang: str) -> dict[str, str]:
    """The pages written when ``lang`` is the main one, file name -> language: ``index.html`` in ``lang`` and
    ``index.<code>.html`` for every language (so a page in the other language, and each page's link to its twin
    ``index.<other>.html``, is never left from an earlier run)."""
    if lang not in LANGS:
        raise ValueError(f"report: lang must be one of {LANGS}, got {lang!r}")
    return {"index.html": lang, **{f"index.{code}.html": code for code in LANGS}}


def write_report(out: str, results: dict[str, Any], lang: str = "en") -> str:
    """Write every page of :func:`page_names` into ``out`` (each language rendered once, each page linking to
    ``index.<other>.html``); returns the path of ``index.html`` (in ``lang``)."""
    from cvprimer.lab.results import refuse_foreign

    names = page_names(lang)
    refuse_foreign(out, list(names))
    pages = {code: render(results, code, out, other_href=f"index.{next(c for c in LANGS if c != code)}.html")
             for code in LANGS}
    for name, code in names.items():
        atomic_write(os.path.join(out, name), pages[code])
    return os.path.join(out, "index.html")


def page_lang(path: str) -> str | None:
    """The language of an index page cvprimer wrote (from its ``<html lang>``), None when unknown."""
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(512)
    except (OSError, UnicodeDecodeError):
        return None
    for code in LANGS:
        if f'<html lang="{"zh-CN" if code == "zh" else code}">' in head:
            return code
    return None
