"""q51 (a page): its texts link the experiments that exist, and the demo's model builder."""

import pathlib
import re

import numpy as np

import cvprimer as cp
from cvprimer.lab.experiments.q51_generalization import BODY_EN, BODY_ZH, big_mlp
from cvprimer.lab.experiments.q51_generalization import Generalization as E


def test_is_a_page_with_bodies_in_both_languages():
    assert E.kind == "page" and E.t("body", "en") == BODY_EN and E.t("body", "zh") == BODY_ZH
    assert len(BODY_EN.split("\n\n")) >= 5 and len(BODY_ZH.split("\n\n")) >= 5


def test_body_ids_are_the_same_in_both_languages():
    ids_en = set(re.findall(r"q\d\d-[a-z0-9-]*[a-z0-9]", BODY_EN))
    ids_zh = set(re.findall(r"q\d\d-[a-z0-9-]*[a-z0-9]", BODY_ZH))
    assert ids_en == ids_zh and "q42-augmentation" in ids_en and "q04-overfitting" in ids_en


def test_big_mlp_with_and_without_dropout():
    x = cp.tensor(np.zeros((2, 1, 8, 8), np.float32))
    assert big_mlp()(x).shape == (2, 10) and big_mlp(0.5, hidden=8)(x).shape == (2, 10)
    assert len(big_mlp(0.5)) == len(big_mlp()) + 2


def test_linked_ids_exist():
    import cvprimer.lab.experiments as pkg

    folder = pathlib.Path(pkg.__file__).parent  # read the ids without importing every experiment
    known = {m for f in folder.glob("q*.py") for m in re.findall(r'^    id = "([^"]+)"', f.read_text(), re.M)}
    missing = set(re.findall(r"q\d\d-[a-z0-9-]*[a-z0-9]", BODY_EN)) - known
    assert not missing, f"the page links experiments that do not exist: {sorted(missing)}"


def test_body_states_no_measured_result():
    for word in ("most reliable", "do not help", "hurt", "comes from", "smaller than", "shows that"):
        assert word not in BODY_EN, word
    assert not re.search(r"\d+(\.\d+)?\s*%", BODY_EN + BODY_ZH)


def test_run_tiny_figures_and_notes_agree():
    from cvprimer.lab.experiment import fmt
    from labcheck import run_tiny

    res = run_tiny(E)
    f = res.values()
    rows = {r[0]: [float(c) for c in r[1:]] for r in res.tables[0].rows}
    for name, (tr, va, gap) in rows.items():
        slug = name.replace(" ", "_").replace(".", "").replace("4x", "more")
        assert abs(f[f"val_acc_{slug}"] - va) < 0.05 and abs(f[f"gap_{slug}"] - gap) < 0.05
        assert abs((tr - va) - gap) < 0.11 and 0 <= va <= 100
    assert fmt(f["gap_none"]) in res.notes["en"] and fmt(f["val_acc_none"]) in res.notes["zh"]
