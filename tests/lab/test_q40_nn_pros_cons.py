"""q40 (a page): declaration and texts; the notes follow the figures; the real run against closed forms."""

from cvprimer.lab.experiments.q40_nn_pros_cons import NeuralNetProsCons as E
from cvprimer.lab.experiments.q40_nn_pros_cons import pros_cons_notes
from labcheck import run_tiny

F = {"cnn_acc_small": 0.74, "linear_acc_small": 0.59, "cnn_acc_large": 0.815, "linear_acc_large": 0.82,
     "clean_acc": 0.8, "fgsm_acc_eps_0.1": 0.37, "mobilenet_v2_gmacs": 0.3008, "mobilenet_v2_params": 3504872,
     "small_cnn_params": 9226, "small_cnn_macs": 103488}


def test_page_declaration():
    E.check()
    assert E.kind == "page" and E.t("body", "zh").count("\n\n") == 2 and "FGSM" in E.t("method", "en")


def test_notes_follow_the_figures():
    n = pros_cons_notes(F, (100, 600))
    assert "gained no more from extra data" in n["en"] and "不大于" in n["zh"] and "0.37" in n["en"]
    n = pros_cons_notes({**F, "cnn_acc_large": 0.99}, (100, 600))
    assert "gained more from extra data" in n["en"] and "大于线性模型" in n["zh"]


def test_run_tiny_matches_closed_forms():
    res = run_tiny(E)
    f = res.values()
    # small CNN: conv 1->8 5x5 (+8), conv 8->16 3x3 (+16), linear 784->10 (+10); 14x14 then 7x7 maps
    assert f["small_cnn_params"] == (25 * 8 + 8) + (8 * 16 * 9 + 16) + (784 * 10 + 10)
    assert f["small_cnn_macs"] == 14 * 14 * 8 * 25 + 7 * 7 * 16 * 72 + 784 * 10
    assert f["mobilenet_v2_params"] == 3_504_872  # the published torchvision count
    assert 0 <= f["fgsm_acc_eps_0.1"] <= 1 and res.notes and "FGSM" in res.notes["en"]
