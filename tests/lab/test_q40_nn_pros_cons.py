"""q40 (a page): declaration and texts."""

from cvprimer.lab.experiments.q40_nn_pros_cons import NeuralNetProsCons as E


def test_page_declaration():
    E.check()
    assert E.kind == "page" and E.t("body", "zh").count("\n\n") == 2 and "FGSM" in E.t("method", "en")
