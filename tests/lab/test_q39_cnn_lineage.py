"""q39 (a page): declaration, the lineage table's entries, and the depth / receptive-field readers."""

from cvprimer import models
from cvprimer.lab._convnets import cost
from cvprimer.lab.experiments.q39_cnn_lineage import LINEAGE, CnnLineage, receptive_field, weighted_depth


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
