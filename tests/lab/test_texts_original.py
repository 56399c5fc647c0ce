"""Every text of every lab experiment and page is bilingual and our own: no Chinese text shares a run of 12
characters with the seed document, no English text a run of 30 (long enough that shared technical terms such
as a layer's name do not count, short enough to catch a copied sentence)."""

import re
from pathlib import Path

import pytest

from cvprimer.lab.registry import all_experiments

SEED = Path(__file__).parents[2].parent / "shared/seed/000_d3753e17707acfe2.txt"
RUNS = {"zh": 12, "en": 30}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _shared_runs(text: str, seed: str, run: int) -> list[str]:
    return [text[i:i + run] for i in range(len(text) - run + 1) if text[i:i + run] in seed]


@pytest.mark.parametrize("exp", all_experiments(), ids=lambda e: e.id)
def test_texts_are_bilingual_and_not_copied(exp):
    keys = [k for k in ("title", "claim", "method", "body", "beyond") if exp.t(k, "en") or exp.t(k, "zh")]
    for k in keys:
        assert exp.t(k, "en").strip() and CJK.search(exp.t(k, "zh")), f"{exp.id}: {k} must exist in both languages"
    if not SEED.is_file():
        pytest.skip(f"seed document not found at {SEED}")
    seed = SEED.read_text(encoding="utf-8")
    copied = [f"{k}[{lang}]: {s!r}" for k in keys for lang, run in RUNS.items()
              for s in _shared_runs(exp.t(k, lang), seed, run)[:1]]
    assert not copied, f"{exp.id} repeats the seed's words: {copied}"
