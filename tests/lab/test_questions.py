"""The 54 restated questions: complete, grouped as agreed, bilingual, and not copied from the seed."""

import re
from pathlib import Path

import pytest

from cvprimer.lab.questions import QUESTIONS, TOPICS, Question, question, questions_by_topic

SEED = Path(__file__).parents[2].parent / "shared/seed/000_d3753e17707acfe2.txt"
RUN = 12  # the longest run of consecutive characters a text may share with the seed, plus one

MEMBERS = {
    "data": [1, 2, 33, 42],
    "architecture": [3, 6, 8, 13, 15, 17, 21, 26, 38, 39, 44, 52],
    "cost": [11, 12, 14, 45, 54],
    "optimization": [5, 7, 18, 30, 37, 53],
    "training": [19, 20, 23, 43, 46, 48],
    "activation": [16, 25, 34, 47],
    "regularization": [4, 22, 27, 29, 51],
    "loss": [28, 41],
    "sampling": [9, 10, 35, 36],
    "beyond": [24, 31, 32, 40, 49, 50],
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _texts(q: Question) -> list[tuple[str, str]]:
    return [(f"{field} {lang}", getattr(q, field)[lang]) for field in ("title", "seed_claim") for lang in ("en", "zh")]


def test_topics_in_display_order_and_bilingual():
    assert list(TOPICS) == list(MEMBERS)
    for key, names in TOPICS.items():
        assert set(names) == {"en", "zh"}, key
        assert names["en"].strip() and CJK.search(names["zh"]), key


def test_every_number_once_across_topics():
    assert sorted(QUESTIONS) == list(range(1, 55))
    groups = questions_by_topic()
    assert [key for key, _ in groups] == list(TOPICS)
    numbers = [q.number for _, qs in groups for q in qs]
    assert sorted(numbers) == list(range(1, 55)) and len(numbers) == len(set(numbers))
    for key, qs in groups:
        assert qs, f"topic {key} is unused"
        assert [q.number for q in qs] == MEMBERS[key]
        assert all(q.topic == key for q in qs)


def test_records_are_consistent_and_bilingual():
    for n, q in QUESTIONS.items():
        assert q.number == n and q.topic in TOPICS
        assert question(n) is q
        for field in (q.title, q.seed_claim):
            assert set(field) == {"en", "zh"}, n
            assert field["en"].strip() and field["zh"].strip(), n
            assert CJK.search(field["zh"]), f"question {n}: Chinese text without CJK characters"
        assert q.title["en"].rstrip().endswith("?"), n
        assert q.title["zh"].rstrip().endswith(("？", "?")), n


@pytest.mark.parametrize("bad", [0, 55, -1, 100])
def test_out_of_range_raises(bad):
    with pytest.raises(ValueError, match="1..54"):
        question(bad)


def test_link_only_answers_say_so():
    for n in (7, 13, 32, 39, 53):
        assert "link" in QUESTIONS[n].seed_claim["en"], n
        assert "链接" in QUESTIONS[n].seed_claim["zh"], n


def test_nothing_copied_from_seed():
    if not SEED.is_file():
        pytest.skip(f"seed document not found at {SEED}")
    seed = SEED.read_text(encoding="utf-8")
    shared = []
    for n, q in QUESTIONS.items():
        for where, text in _texts(q):
            for i in range(len(text) - RUN + 1):
                if text[i:i + RUN] in seed:
                    shared.append(f"question {n} {where}: {text[i:i + RUN]!r}")
                    break
    assert not shared, "texts sharing 12+ consecutive characters with the seed:\n" + "\n".join(shared)
