"""q39 (a page): declaration, the lineage table's entries, the depth / receptive-field readers, and the real run
against closed-form counts."""

from cvprimer import models
from cvprimer.lab._convnets import cost
from cvprimer.lab.experiments.q39_cnn_lineage import LINEAGE, CnnLineage, lineage_notes, receptive_field, weighted_depth
from labcheck import run_tiny


def test_page_declaration():
    CnnLineage.check()
    assert CnnLineage.kind == "page" and CnnLineage.t("body", "zh") and CnnLineage.t("body", "en")


def test_lineage_names_exist_in_the_zoo():
    known = set(models.list_models())
    assert all(e[0] in known for e in LINEAGE)
    years = [e[2] for e in LINEAGE]
    assert min(years) == 1998 and max(years) == 2020


def test_lenet_depth_and_receptive_field():
    rep = cost(models.get_model("lenet5"), (1, 1, 32, 32))["report"]
    assert weighted_depth(rep) == 5  # two convs, three linears
    assert receptive_field(rep) == 16  # 5x5 conv, 2x2 pool, 5x5 conv, 2x2 pool


def _lenet5_params() -> int:
    """LeNet-5 by closed form: conv 1->6 5x5, conv 6->16 5x5, linear 400->120->84->10, all with biases."""
    return (1 * 6 * 25 + 6) + (6 * 16 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)


def test_run_tiny_matches_closed_forms():
    res = run_tiny(CnnLineage)
    f = res.values()
    assert f["params_lenet5"] == _lenet5_params() == 61_706
    # ResNet-18 at 224x224: 11,689,512 parameters (the published torchvision count); LeNet-5's MACs by hand
    assert f["params_resnet18"] == 11_689_512
    lenet_macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    assert f["macs_lenet5"] == lenet_macs
    assert "ResNet-18" in res.notes["en"] and "61,706" in res.notes["en"] and "61,706" in res.notes["zh"]


def test_notes_follow_the_numbers():
    pts = [("A", 1, 10.0, 100.0, 10.0, 100.0), ("B", 2, 1000.0, 50.0, 100.0, 50.0)]
    n = lineage_notes(pts)
    assert "most in B (1,000)" in n["en"] and "a factor of 100" in n["en"] and "does not predict" in n["en"]
    n = lineage_notes([("A", 1, 10.0, 100.0, 10.0, 100.0), ("B", 2, 1000.0, 50.0, 15.0, 100.0)])
    assert "predicts" in n["en"] and "能在" in n["zh"]
