"""The lab report: one self-contained HTML page per language (CSS, script and PNGs inline, no network request),
built from ``results.json``'s structure. ``write_report(out, results, "en")`` writes ``out/index.html`` in that
language and ``out/index.<other>.html`` in the other one; each page links to its twin."""

from __future__ import annotations

import os
from typing import Any

from cvprimer.core.serialization import atomic_write
from cvprimer.lab.experiment import LANGS
from cvprimer.lab.report.html import render


def page_names(lang: str) -> dict[str, str]:
    """File name of each language's page when ``lang`` is the main one (``index.html``)."""
    if lang not in LANGS:
        raise ValueError(f"report: lang must be one of {LANGS}, got {lang!r}")
    return {code: "index.html" if code == lang else f"index.{code}.html" for code in LANGS}


def write_report(out: str, results: dict[str, Any], lang: str = "en") -> str:
    """Write both language pages into ``out``; returns the path of ``index.html`` (in ``lang``)."""
    from cvprimer.lab.results import refuse_foreign

    names = page_names(lang)
    refuse_foreign(out, list(names.values()))
    for code, name in names.items():
        other = next(c for c in LANGS if c != code)
        atomic_write(os.path.join(out, name), render(results, code, out, other_href=names[other]))
    return os.path.join(out, names[lang])
